"""The Prometheus text format: what a scraper of the agent or hub reads, and what the agent reads
from local endpoints."""

import math
import shutil
import subprocess

import pytest

from fleetmon.agent.collectors.system import SystemCollector
from fleetmon.agent.config import SystemCollectorConfig
from fleetmon.agent.exposition import ExpositionError, format_value, parse, render
from fleetmon.protocol.metricset import MetricSet, Series


def test_catalogue_metrics_carry_help_and_type_and_others_are_untyped():
    metrics = MetricSet()
    metrics.add("fleetmon_load1", 0.5)
    metrics.add("fleetmon_disk_read_bytes_total", 4096, {"device": "nvme0n1"})
    metrics.add("fleetmon_disk_read_bytes_total", 1024, {"device": "sda"})
    metrics.add("app_queue_depth", 7, {"target": "triton", "queue": "default"})

    assert render(metrics) == (
        "# HELP fleetmon_load1 1-minute load average.\n"
        "# TYPE fleetmon_load1 gauge\n"
        "fleetmon_load1 0.5\n"
        "# HELP fleetmon_disk_read_bytes_total Bytes read from a block device.\n"
        "# TYPE fleetmon_disk_read_bytes_total counter\n"
        'fleetmon_disk_read_bytes_total{device="nvme0n1"} 4096\n'
        'fleetmon_disk_read_bytes_total{device="sda"} 1024\n'
        "# TYPE app_queue_depth untyped\n"
        'app_queue_depth{queue="default",target="triton"} 7\n'
    )


def test_label_values_are_escaped():
    metrics = MetricSet()
    metrics.add("fleetmon_filesystem_size_bytes", 1, {"mount": 'C:\\data "new"\nline', "device": "d",
                                                      "fstype": "ntfs"})
    sample_line = render(metrics).splitlines()[-1]
    assert sample_line == ('fleetmon_filesystem_size_bytes{device="d",fstype="ntfs",'
                           'mount="C:\\\\data \\"new\\"\\nline"} 1')


def test_render_then_parse_gives_back_every_series():
    metrics = MetricSet()
    metrics.add("fleetmon_cpu_usage_ratio", 0.125)
    metrics.add("fleetmon_top_process_cpu_usage_ratio", 1.5, {"pid": "42", "name": 'we\\ird "name"\n2'})
    metrics.add("fleetmon_temperature_celsius", -12.25, {"zone": "cpu_therm"})
    metrics.add("fleetmon_memory_total_bytes", 8 * 2**30)
    metrics.add("app_seconds", 1e-9, {"target": "app", "path": "/ünïcode/✓"})
    metrics.add("app_big", 3.5e20)

    parsed = parse(render(metrics))

    assert {(s.name, tuple(sorted(s.labels.items())), s.value) for s in parsed} == \
        {(s.name, tuple(sorted(s.labels.items())), s.value) for s in metrics}


def test_a_whole_system_sample_renders_one_header_per_family():
    collector = SystemCollector(SystemCollectorConfig())
    metrics = MetricSet()
    collector.collect(metrics)

    text = render(metrics)
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert sorted(types) == sorted(metrics.names()), "one TYPE line per metric name"
    # Each family's samples follow its header without interruption.
    current = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split()[2]
        elif not line.startswith("#"):
            assert line.split("{")[0].split(" ")[0] == current
    assert len(parse(text)) == len(metrics)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian package prometheus) is not installed")
def test_promtool_accepts_a_system_sample(tmp_path):
    collector = SystemCollector(SystemCollectorConfig())
    metrics = MetricSet()
    collector.collect(metrics)
    metrics.add("app_info", 1, {"target": "app", "version": 'v1 "beta"\\x'})
    result = subprocess.run(["promtool", "check", "metrics"], input=render(metrics), capture_output=True,
                            text=True, timeout=60)
    # promtool also lints naming conventions (and exits 1 for those); only a parse error means our
    # text is wrong.
    assert "parsing error" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_values_are_spelled_as_the_format_requires():
    assert format_value(3.0) == "3"
    assert format_value(-0.5) == "-0.5"
    assert format_value(2.0**60) == "1.152921504606847e+18"
    assert format_value(math.nan) == "NaN"
    assert format_value(math.inf) == "+Inf"
    assert format_value(-math.inf) == "-Inf"


def test_render_refuses_names_prometheus_cannot_read():
    with pytest.raises(ValueError, match="metric name"):
        render([Series("app.requests", {}, 1.0)])
    with pytest.raises(ValueError, match="label name"):
        render([Series("app_requests", {"http-method": "GET"}, 1.0)])


EXPOSITION = """\
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# A comment that is neither HELP nor TYPE.
msdos_file_access_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find:\\n\\"FILE.TXT\\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
negative{sign="minus"} -Inf
not_a_number NaN
empty_braces{} 1
trailing_comma{a="1",} 2
\tspaced { a = "1" , b="2" }\t3
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""


def test_parse_reads_the_reference_example():
    series = parse(EXPOSITION)
    by_key = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in series}

    assert by_key[("http_requests_total", (("code", "200"), ("method", "post")))] == 1027
    assert by_key[("http_requests_total", (("code", "400"), ("method", "post")))] == 3
    assert by_key[("msdos_file_access_seconds",
                   (("error", 'Cannot find:\n"FILE.TXT"'), ("path", "C:\\DIR\\FILE.TXT")))] == 1.458255915e9
    assert by_key[("metric_without_timestamp_and_labels", ())] == 12.47
    assert by_key[("something_weird", (("problem", "division by zero"),))] == math.inf
    assert by_key[("negative", (("sign", "minus"),))] == -math.inf
    assert math.isnan(by_key[("not_a_number", ())])
    assert by_key[("empty_braces", ())] == 1
    assert by_key[("trailing_comma", (("a", "1"),))] == 2
    assert by_key[("spaced", (("a", "1"), ("b", "2")))] == 3
    assert by_key[("http_request_duration_seconds_bucket", (("le", "+Inf"),))] == 144320
    assert by_key[("http_request_duration_seconds_sum", ())] == 53423
    assert by_key[("rpc_duration_seconds", (("quantile", "0.5"),))] == 4773
    assert by_key[("rpc_duration_seconds_sum", ())] == 1.7560473e7
    assert len(series) == 17


@pytest.mark.parametrize("line, problem", [
    ("up", "value"),
    ("up{job=\"a\"}", "space before the value"),
    ("up 1 2 3", "at most a timestamp"),
    ("up one", "not a number"),
    ("up 1_000", "not a number"),
    ("up 1 12.5", "timestamp"),
    ('up{job="a} 1', "malformed labels"),
    ("up{job=a} 1", "malformed labels"),
    ('up{job="a",job="b"} 1', "appears twice"),
    ('up{job="a\\tb"} 1', "unknown escape"),
    ('{__name__="up"} 1', "metric name"),
])
def test_parse_names_the_line_it_cannot_read(line, problem):
    with pytest.raises(ExpositionError, match=problem) as caught:
        parse("# TYPE up gauge\nok 1\n" + line + "\n")
    assert str(caught.value).startswith("line 3: ")
