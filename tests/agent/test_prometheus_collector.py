"""Scraping local Prometheus endpoints: a real HTTP server on 127.0.0.1 serves exposition text."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetmon.agent.collectors.prometheus import MAX_SERIES_PER_TARGET, PrometheusScrapeCollector, ScrapeError
from fleetmon.agent.collectors.runner import CollectorRunner
from fleetmon.agent.config import PrometheusCollectorConfig, ScrapeTarget
from fleetmon.protocol.metricset import MetricSet

APP_METRICS = """\
# HELP inference_requests_total Requests served.
# TYPE inference_requests_total counter
inference_requests_total{model="resnet50",status="ok"} 1027 1700000000000
inference_requests_total{model="resnet50",status="error"} 3
# A free-form comment.
inference_queue_depth{model="C:\\\\models\\\\yolo \\"v8\\"\\nnano"} 4
inference_info{target="inside-the-app",version="2.1"} 1
# TYPE inference_latency_seconds histogram
inference_latency_seconds_bucket{le="0.1"} 90
inference_latency_seconds_bucket{le="+Inf"} 100
inference_latency_seconds_sum 7.5
inference_latency_seconds_count 100
process_open_fds 12
gpu_util NaN
"""

BIG = "".join(f"big_series{{n=\"{n}\"}} {n}\n" for n in range(MAX_SERIES_PER_TARGET + 500))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {"/metrics": (200, APP_METRICS), "/big": (200, BIG),
                  "/broken": (200, "ok 1\nbad line here\n"), "/error": (500, "boom\n")}
        status, body = routes.get(self.path, (404, "not found\n"))
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/metrics"


def scrape(*targets: ScrapeTarget) -> MetricSet:
    out = MetricSet()
    PrometheusScrapeCollector(PrometheusCollectorConfig(targets=list(targets))).collect(out)
    return out


def test_every_series_of_a_target_arrives_with_its_target_labels(server):
    out = scrape(ScrapeTarget(name="triton", url=server + "/metrics", labels={"team": "vision"}))
    ours = {"target": "triton", "team": "vision"}

    assert out.get("inference_requests_total", model="resnet50", status="ok", **ours) == 1027
    assert out.get("inference_queue_depth", model='C:\\models\\yolo "v8"\nnano', **ours) == 4
    assert out.get("inference_latency_seconds_bucket", le="+Inf", **ours) == 100
    assert out.get("inference_latency_seconds_count", **ours) == 100
    # The app's own 'target' label does not hide which endpoint the series came from.
    assert out.get("inference_info", exported_target="inside-the-app", version="2.1", **ours) == 1
    # NaN cannot travel as JSON; the series is left out rather than failing the target.
    assert out.get("gpu_util", **ours) is None
    assert len(out) == 9


def test_metrics_regexes_keep_only_matching_names(server):
    out = scrape(ScrapeTarget(name="app", url=server + "/metrics",
                              metrics=["inference_requests_total", "inference_latency_seconds_.*"]))
    assert sorted(set(out.names())) == ["inference_latency_seconds_bucket", "inference_latency_seconds_count",
                                        "inference_latency_seconds_sum", "inference_requests_total"]
    # Names must match whole: 'inference_requests' would not keep 'inference_requests_total'.
    narrow = ScrapeTarget(name="app", url=server + "/metrics", metrics=["inference_requests"])
    assert not scrape(narrow).names()


def test_a_failing_target_is_named_and_does_not_stop_the_others(server):
    collector = PrometheusScrapeCollector(PrometheusCollectorConfig(targets=[
        ScrapeTarget(name="dead", url=dead_url(), timeout=2.0),
        ScrapeTarget(name="app", url=server + "/metrics"),
        ScrapeTarget(name="crashing", url=server + "/error"),
        ScrapeTarget(name="garbled", url=server + "/broken"),
    ]))
    out = MetricSet()
    with pytest.raises(ScrapeError) as caught:
        collector.collect(out)

    message = str(caught.value)
    assert "dead (http://127.0.0.1:" in message and "refused" in message
    assert f"crashing ({server}/error): HTTP 500" in message
    assert f"garbled ({server}/broken): line 2: " in message
    assert "app (" not in message
    assert out.get("process_open_fds", target="app") == 12
    assert out.get("ok", target="garbled") is None  # a malformed response is dropped whole


def test_the_runner_keeps_good_targets_and_marks_the_collector_down(server):
    runner = CollectorRunner([PrometheusScrapeCollector(PrometheusCollectorConfig(targets=[
        ScrapeTarget(name="app", url=server + "/metrics"), ScrapeTarget(name="dead", url=dead_url())]))])
    metrics, errors, _ = runner.collect()
    assert metrics.get("process_open_fds", target="app") == 12
    assert metrics.get("fleetmon_agent_collector_up", collector="prometheus") == 0
    assert "dead (" in errors["prometheus"]


def test_a_chatty_target_is_capped_and_says_so(server):
    out = MetricSet()
    collector = PrometheusScrapeCollector(PrometheusCollectorConfig(targets=[
        ScrapeTarget(name="chatty", url=server + "/big")]))
    expected = f"chatty .*kept the first {MAX_SERIES_PER_TARGET} of {MAX_SERIES_PER_TARGET + 500} series"
    with pytest.raises(ScrapeError, match=expected):
        collector.collect(out)
    assert len(out) == MAX_SERIES_PER_TARGET
    assert out.get("big_series", n="0", target="chatty") == 0


def test_proxy_settings_are_not_used_for_local_targets(server, monkeypatch):
    monkeypatch.setenv("http_proxy", dead_url().rsplit("/", 1)[0])
    monkeypatch.setenv("HTTP_PROXY", dead_url().rsplit("/", 1)[0])
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    out = scrape(ScrapeTarget(name="app", url=server + "/metrics"))
    assert out.get("process_open_fds", target="app") == 12


def test_a_target_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (the kernel does) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/metrics"
        with pytest.raises(ScrapeError, match=r"hung \(.*\): .*timed out"):
            scrape(ScrapeTarget(name="hung", url=url, timeout=0.3))


def test_a_missing_path_is_reported_as_http_404(server):
    with pytest.raises(ScrapeError, match=r"app \(.*/nope\): HTTP 404"):
        scrape(ScrapeTarget(name="app", url=server + "/nope"))
