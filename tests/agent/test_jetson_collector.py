"""The Jetson collector: metric mapping, sources (replay, a stand-in tegrastats process, jtop-shaped
clients), source choice and board facts.

Nothing here needs a board. tegrastats is replaced by a small script printing recorded lines on the
same command line; jtop by objects with the attributes and data of a real Orin Nano dump
(jetson-jtop.md §6).
"""

import datetime
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from fleetmon.agent.collectors.base import CollectorUnavailable
from fleetmon.agent.collectors.jetson.board import parse_nv_tegra_release, read_board_info
from fleetmon.agent.collectors.jetson.collector import JetsonCollector
from fleetmon.agent.collectors.jetson.jtop_source import (
    JtopSource,
    board_from_jtop,
    jtop_importable,
    reading_from_jtop,
)
from fleetmon.agent.collectors.jetson.metrics import add_reading
from fleetmon.agent.collectors.jetson.nvpmodel import NvpmodelProbe
from fleetmon.agent.collectors.jetson.reading import Fan, Rail
from fleetmon.agent.collectors.jetson.sources import SourceError, TegrastatsProcess
from fleetmon.agent.collectors.jetson.tegrastats import parse_line
from fleetmon.agent.config import JetsonCollectorConfig
from fleetmon.protocol import catalog
from fleetmon.protocol.metricset import MetricSet
from tests.polling import wait_until

DATA = Path(__file__).resolve().parent.parent / "data" / "tegrastats"
ORIN_NANO_LOG = DATA / "orin-nano-jp6.log"
MIB = 1024 * 1024


def recorded_lines(path: Path) -> List[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


REFERENCE_LINES = recorded_lines(DATA / "reference-samples.txt")
ORIN_NANO_LINES = recorded_lines(ORIN_NANO_LOG)


def metrics_of(reading) -> MetricSet:
    out = MetricSet()
    add_reading(out, reading)
    return out


def error_of(read: Callable[[], Any]) -> str:
    """The SourceError message ``read`` raises, or '' when it returns a reading."""
    try:
        read()
    except SourceError as exc:
        return str(exc)
    return ""


def first_reading(read: Callable[[], Any]) -> Any:
    """What ``read`` returns once the source behind it (another thread or process) has produced it; until
    then it raises SourceError (or the test's own AssertionError)."""
    return wait_until(read, timeout=20, message="a reading", ignoring=(AssertionError, SourceError))


# --- the metric mapping -------------------------------------------------------------------------


def test_a_reading_becomes_catalogue_series_in_base_units():
    line = next(line for line in REFERENCE_LINES if "NVENC 78%@166" in line)
    out = metrics_of(parse_line(line))
    assert out.get("fleetmon_jetson_ram_used_bytes") == 18202 * MIB
    assert out.get("fleetmon_jetson_ram_lfb_blocks") == 466
    assert out.get("fleetmon_jetson_ram_lfb_block_bytes") == 4 * MIB
    assert out.get("fleetmon_jetson_swap_total_bytes") == 31420 * MIB
    assert out.get("fleetmon_jetson_cpu_core_usage_ratio", core="0") == 0.16
    assert out.get("fleetmon_jetson_cpu_core_frequency_hertz", core="0") == 1949e6
    assert out.get("fleetmon_jetson_cpu_core_online", core="11") == 1
    assert out.get("fleetmon_jetson_emc_load_ratio") == 0.03
    assert out.get("fleetmon_jetson_emc_frequency_hertz") == 2133e6
    assert out.get("fleetmon_jetson_gpu_frequency_hertz", gpc="1") == 0
    assert out.get("fleetmon_jetson_engine_active", engine="NVENC") == 1
    assert out.get("fleetmon_jetson_engine_load_ratio", engine="NVENC") == 0.78
    assert out.get("fleetmon_jetson_engine_frequency_hertz", engine="NVENC") == 166e6
    assert out.get("fleetmon_jetson_engine_active", engine="PVA0") == 0
    assert out.get("fleetmon_jetson_engine_frequency_hertz", engine="PVA0") is None
    assert out.get("fleetmon_jetson_temperature_celsius", zone="tj") == 52.343
    assert out.get("fleetmon_jetson_power_watts", rail="VIN_SYS_5V0") == 4.607
    assert out.get("fleetmon_jetson_power_average_watts", rail="VIN_SYS_5V0") == 4.657
    assert out.get("fleetmon_jetson_power_total_watts") == pytest.approx(2.412 + 1.607 + 4.607)


def test_an_offline_core_has_no_load_and_jetpack_7_2_adds_maxima():
    line = next(line for line in REFERENCE_LINES if "off,off,off,off] EMC_FREQ 2%@2133" in line)
    out = metrics_of(parse_line(line))
    assert out.get("fleetmon_jetson_cpu_core_online", core="8") == 0
    assert out.get("fleetmon_jetson_cpu_core_usage_ratio", core="8") is None
    assert out.get("fleetmon_jetson_temperature_max_celsius", zone="cpu") == 50.718
    assert out.get("fleetmon_jetson_power_max_watts", rail="VDD_CPU_CV") == 2.643


def test_thor_publishes_no_gpu_load_rather_than_a_false_zero():
    line = next(line for line in REFERENCE_LINES if "GR3D_FREQ @[0,0,0]" in line)
    out = metrics_of(parse_line(line))
    assert out.get("fleetmon_jetson_gpu_load_ratio") is None
    assert out.get("fleetmon_jetson_gpu_frequency_hertz", gpc="2") == 0


def _assert_in_catalogue(out: MetricSet) -> None:
    for series in out:
        spec = catalog.BY_NAME.get(series.name)
        assert spec is not None and spec.collector == "jetson", series.name
        assert sorted(series.labels) == sorted(spec.labels), series


@pytest.mark.parametrize("line", REFERENCE_LINES + ORIN_NANO_LINES[:3])
def test_every_series_is_in_the_catalogue_with_its_labels(line):
    _assert_in_catalogue(metrics_of(parse_line(line)))


# --- board facts ---------------------------------------------------------------------------------


def test_l4t_release_and_jetpack_from_the_release_file(tmp_path):
    release = tmp_path / "nv_tegra_release"
    release.write_text("# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64, "
                       "DATE: Mon Jun 16 16:07:13 UTC 2025\n# KERNEL_VARIANT: oot\n")
    model = tmp_path / "model"
    model.write_bytes(b"NVIDIA Jetson AGX Orin Developer Kit\x00")
    board = read_board_info(str(release), str(model))
    assert board.facts() == {"model": "NVIDIA Jetson AGX Orin Developer Kit", "l4t": "36.4.4",
                             "jetpack": "6.2.1"}
    assert parse_nv_tegra_release("# R32 (release), REVISION: 7.1, GCID: 29818004") == "32.7.1"


def test_a_host_without_release_files_reports_nothing_rather_than_a_guess(tmp_path):
    assert read_board_info(str(tmp_path / "missing"), str(tmp_path / "missing")).facts() == {}
    release = tmp_path / "nv_tegra_release"
    release.write_text("# R99 (release), REVISION: 1.0\n")
    assert read_board_info(str(release), str(tmp_path / "missing")).facts() == {"l4t": "99.1.0"}


# --- replay --------------------------------------------------------------------------------------


def replay_config(path, loop: bool = True) -> JetsonCollectorConfig:
    return JetsonCollectorConfig(enabled="true", source="replay", replay_file=str(path), replay_loop=loop)


def test_replay_plays_one_line_per_sample_and_loops():
    collector = JetsonCollector(replay_config(ORIN_NANO_LOG), interval=1.0)
    assert collector.facts() == {"jetson": {
        "model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit", "l4t": "36.4.4",
        "jetpack": "6.2.1", "source": "replay"}}
    used = []
    for _ in range(len(ORIN_NANO_LINES) + 1):
        out = MetricSet()
        collector.collect(out)
        used.append(out.get("fleetmon_jetson_ram_used_bytes"))
    expected = [parse_line(line).ram.used_bytes for line in ORIN_NANO_LINES]
    assert used == [*expected, expected[0]]
    assert out.get("fleetmon_jetson_unparsed_tokens") == 0
    model = "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit"
    assert out.get("fleetmon_jetson_info", model=model, l4t="36.4.4", jetpack="6.2.1", source="replay") == 1
    _assert_in_catalogue(out)
    collector.close()


def test_replay_without_loop_says_when_it_is_finished(tmp_path):
    log_file = tmp_path / "short.log"
    log_file.write_text("# two lines\n\n{}\n{}\n".format(*REFERENCE_LINES[:2]))
    collector = JetsonCollector(replay_config(log_file, loop=False), interval=1.0)
    assert collector.facts() == {"jetson": {"source": "replay"}}
    collector.collect(MetricSet())
    collector.collect(MetricSet())
    with pytest.raises(SourceError, match="replay finished"):
        collector.collect(MetricSet())


def test_a_replay_file_without_lines_is_refused(tmp_path):
    log_file = tmp_path / "empty.log"
    log_file.write_text("# nothing but a comment\n")
    with pytest.raises(CollectorUnavailable, match="no tegrastats lines"):
        JetsonCollector(replay_config(log_file), interval=1.0)


def test_unknown_tokens_are_counted_every_sample_and_logged_once(tmp_path, caplog):
    line = ORIN_NANO_LINES[0].replace(" APE 200", " APE 200 FOO_ENGINE 12%@400")
    log_file = tmp_path / "new-engine.log"
    log_file.write_text("\n".join([line] * 3) + "\n")
    collector = JetsonCollector(replay_config(log_file), interval=1.0)
    with caplog.at_level(logging.WARNING, logger="fleetmon.agent.jetson"):
        for _ in range(3):
            out = MetricSet()
            collector.collect(out)
            assert out.get("fleetmon_jetson_unparsed_tokens") == 2
            assert out.get("fleetmon_jetson_engine_active", engine="APE") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("'FOO_ENGINE'" in m for m in messages) == 1
    assert sum("'12%@400'" in m for m in messages) == 1


# --- tegrastats as a process ---------------------------------------------------------------------


def fake_tegrastats(directory: Path, lines: List[str], count: int, then: str, delay: float = 0.2) -> Path:
    """An executable standing in for /usr/bin/tegrastats: it notes each start (pid and arguments) in
    ``starts``, prints ``count`` lines ``delay`` seconds apart, then runs ``then`` (``HANG``: stays silent
    until the collector kills it)."""
    script = directory / "tegrastats"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'starts'), 'a') as f:\n"
        "    f.write('%d %s\\n' % (os.getpid(), ' '.join(sys.argv[1:])))\n"
        f"lines = {lines!r}\n"
        f"for n in range({count}):\n"
        f"    time.sleep({delay})\n"  # tegrastats' own cadence: one line per --interval, not a test clock
        "    print(lines[n % len(lines)], flush=True)\n"
        f"{then}\n")
    script.chmod(0o755)
    return script


HANG = "import signal; signal.pause()"


def starts(directory: Path) -> List[List[str]]:
    path = directory / "starts"
    return [line.split(" ", 1) for line in path.read_text().splitlines()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tegrastats_config(path) -> JetsonCollectorConfig:
    return JetsonCollectorConfig(enabled="true", source="tegrastats", tegrastats_path=str(path))


def test_tegrastats_runs_with_the_agent_interval_and_serves_its_latest_line(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES[:20], count=100000, then="")
    collector = JetsonCollector(tegrastats_config(script), interval=0.2)
    try:
        assert collector.source == "tegrastats"

        def sample_has_memory():
            out = MetricSet()
            collector.collect(out)
            assert out.get("fleetmon_jetson_ram_total_bytes") == 7620 * MIB
            return out

        out = first_reading(sample_has_memory)
        assert out.get("fleetmon_jetson_unparsed_tokens") == 0
        assert out.get("fleetmon_jetson_gpu_frequency_hertz", gpc="0") == 305e6
        assert collector.facts()["jetson"]["source"] == "tegrastats"
        ((pid, arguments),) = starts(tmp_path)
        assert arguments == "--interval 200"
    finally:
        collector.close()
    assert not alive(int(pid))


def test_before_the_first_line_a_sample_fails_with_the_reason(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES, count=0, then=HANG)
    collector = JetsonCollector(tegrastats_config(script), interval=0.2)
    try:
        with pytest.raises(SourceError, match="no line yet"):
            collector.collect(MetricSet())
        wait_until(lambda: starts(tmp_path), timeout=20)
    finally:
        collector.close()
    assert not alive(int(starts(tmp_path)[0][0]))


def test_a_tegrastats_that_stops_printing_makes_samples_fail_as_stale(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES, count=1, then=HANG)
    source = TegrastatsProcess(str(script), 0.2, read_board_info())
    try:
        first_reading(source.read)
        wait_until(lambda: re.match(r"the last tegrastats line is [\d.]+s old", error_of(source.read)), timeout=20)
    finally:
        source.close()


def test_a_tegrastats_that_exits_is_started_again(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES, count=2, then="sys.exit(3)", delay=0.05)
    source = TegrastatsProcess(str(script), 0.2, read_board_info(), restart_delay=0.05)
    try:
        wait_until(lambda: len(starts(tmp_path)) >= 3, timeout=20)
        assert len({pid for pid, _ in starts(tmp_path)}) >= 3
        first_reading(source.read)
    finally:
        source.close()


def test_a_failing_tegrastats_explains_itself(tmp_path):
    script = tmp_path / "tegrastats"
    script.write_text("#!/bin/sh\necho 'tegrastats: cannot open /sys/kernel/debug' >&2\nexit 1\n")
    script.chmod(0o755)
    source = TegrastatsProcess(str(script), 0.2, read_board_info(), restart_delay=0.05)
    try:
        # Restarts come ever more slowly, so the line goes stale and the error names the cause.
        cause = "exited with status 1: tegrastats: cannot open /sys/kernel/debug; starting it again"
        wait_until(lambda: cause in error_of(source.read), timeout=20)
    finally:
        source.close()


def fake_nvpmodel(directory: Path, mode: str, status: int = 0) -> Path:
    script = directory / "nvpmodel"
    script.write_text(f"#!/bin/sh\necho 'NV Power Mode: {mode}'\necho 2\nexit {status}\n")
    script.chmod(0o755)
    return script


def test_the_power_mode_comes_from_nvpmodel_and_is_cached(tmp_path):
    probe = NvpmodelProbe(str(fake_nvpmodel(tmp_path, "15W")), refresh=3600)
    assert probe.mode() == "15W"
    fake_nvpmodel(tmp_path, "MAXN_SUPER")
    assert probe.mode() == "15W"
    assert NvpmodelProbe(str(tmp_path / "nvpmodel"), refresh=0).mode() == "MAXN_SUPER"


def test_an_nvpmodel_that_fails_gives_no_mode_and_one_warning(tmp_path, caplog):
    probe = NvpmodelProbe(str(fake_nvpmodel(tmp_path, "15W", status=1)), refresh=0)
    with caplog.at_level(logging.WARNING, logger="fleetmon.agent.jetson"):
        assert probe.mode() is None
        assert probe.mode() is None
    assert len(caplog.records) == 1 and "exited 1" in caplog.records[0].getMessage()


def test_tegrastats_samples_carry_the_power_mode(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES, count=100000, then="")
    probe = NvpmodelProbe(str(fake_nvpmodel(tmp_path, "15W")))
    source = TegrastatsProcess(str(script), 0.2, read_board_info(), nvpmodel=probe)
    try:
        reading = first_reading(source.read)
        assert metrics_of(reading).get("fleetmon_jetson_nvpmodel_info", mode="15W") == 1
    finally:
        source.close()


# --- source choice -------------------------------------------------------------------------------


def test_auto_picks_tegrastats_where_jtop_is_missing(tmp_path):
    script = fake_tegrastats(tmp_path, ORIN_NANO_LINES, count=100000, then="")
    collector = JetsonCollector(JetsonCollectorConfig(tegrastats_path=str(script)), interval=0.2)
    try:
        assert collector.source == "tegrastats"
    finally:
        collector.close()


def test_auto_on_a_host_without_any_jetson_source_is_unavailable(tmp_path):
    config = JetsonCollectorConfig(tegrastats_path=str(tmp_path / "no-tegrastats"))
    with pytest.raises(CollectorUnavailable, match=r"no Jetson source: .*jtop.*no-tegrastats"):
        JetsonCollector(config, interval=1.0)


def test_an_explicit_tegrastats_source_needs_the_program(tmp_path):
    with pytest.raises(CollectorUnavailable, match="not an executable file"):
        JetsonCollector(tegrastats_config(tmp_path / "tegrastats"), interval=1.0)


def test_an_explicit_jtop_source_needs_jetson_stats():
    if jtop_importable():
        pytest.skip("jetson-stats is installed here")
    with pytest.raises(CollectorUnavailable, match="jetson-stats"):
        JetsonCollector(JetsonCollectorConfig(source="jtop"), interval=1.0)


# --- jtop ---------------------------------------------------------------------------------------


class ReadsLikeDict:
    """jtop's helper objects (Memory, Fan) are not dicts but read like them."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    def items(self):
        return self._data.items()


def orin_nano_dump(cpu1_load: int = 18) -> Dict[str, Any]:
    """jetson-jtop.md §6: an Orin Nano 4GB Super on JetPack 6.2. ``memory['RAM']``/``['SWAP']`` and
    ``cpu`` are not in that dump; they follow §5.2-5.3 with values consistent with stats['RAM']."""
    stats = {"time": datetime.datetime(2025, 4, 16, 23, 6, 5, 398586),
             "uptime": datetime.timedelta(seconds=931, microseconds=410000),
             "CPU1": cpu1_load, "CPU2": 39, "CPU3": 9, "CPU4": 9, "CPU5": 5, "CPU6": 3,
             "RAM": 0.4574121443512036,
             "SWAP": 0.0, "EMC": 0, "GPU": 4.8, "APE": "OFF", "NVDEC": "OFF", "NVJPG": "OFF", "NVJPG1": "OFF",
             "OFA": "OFF", "SE": "OFF", "VIC": "OFF", "Fan pwmfan0": 26.274509803921568, "Temp cpu": 46.062,
             "Temp cv0": -256, "Temp cv1": -256, "Temp cv2": -256, "Temp gpu": 46.406, "Temp soc0": 45.875,
             "Temp soc1": 47.906, "Temp soc2": 45.25, "Temp tj": 47.906, "Power VDD_CPU_GPU_CV": 1064,
             "Power VDD_SOC": 1540, "Power TOT": 5133, "jetson_clocks": "OFF", "nvp model": "25W"}
    return {
        "stats": stats,
        "board": {"hardware": {
            "Model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
            "699-level Part Number": "699-13767-0004-300 N.2", "P-Number": "p3767-0004",
            "Module": "NVIDIA Jetson Orin Nano (4GB ram)", "SoC": "tegra234", "CUDA Arch BIN": "8.7",
            "L4T": "36.4.3", "Jetpack": "6.2"}},
        "gpu": {"gpu": {"type": "integrated",
                        "status": {"railgate": False, "tpc_pg_mask": False, "3d_scaling": True, "load": 4.8},
                        "freq": {"governor": "nvhost_podgov", "cur": 306000, "max": 1020000, "min": 306000,
                                 "GPC": [305981]},
                        "power_control": "auto"}},
        "power": {"rail": {"VDD_CPU_GPU_CV": {"volt": 4928, "curr": 216, "warn": 32760, "crit": 32760,
                                              "power": 1064, "online": True, "avg": 806},
                           "VDD_SOC": {"volt": 4936, "curr": 312, "warn": 32760, "crit": 32760, "power": 1540,
                                       "online": True, "avg": 1524}},
                  "tot": {"volt": 4936, "curr": 1040, "warn": 5232, "crit": 5232, "power": 5133,
                          "online": True, "avg": 4800, "name": "VDD_IN"}},
        "memory": ReadsLikeDict({
            "RAM": {"tot": 3735052, "used": 1708484, "free": 210000, "buffers": 40000, "cached": 1700000,
                    "shared": 60000, "lfb": 13},
            "SWAP": {"tot": 1867524, "used": 0, "cached": 0, "table": {}},
            "EMC": {"cur": 2133000, "max": 3199000, "min": 204000, "override": 0, "val": 0, "online": True}}),
        "fan": ReadsLikeDict({"pwmfan": {"speed": [26.274509803921568], "rpm": [1145], "profile": "quiet",
                                         "governor": "cont", "control": "close_loop"}}),
        "engine": {"APE": {"APE": {"online": False, "cur": 200000}},
                   "NVDEC": {"NVDEC": {"online": False, "cur": 524800}},
                   "VIC": {"VIC": {"online": True, "cur": 115200}}},
        "temperature": {"cpu": {"temp": 46.062, "online": True}, "cv0": {"temp": -256, "online": False},
                        "cv1": {"temp": -256, "online": False}, "cv2": {"temp": -256, "online": False},
                        "gpu": {"temp": 46.406, "online": True}, "soc0": {"temp": 45.875, "online": True},
                        "soc1": {"temp": 47.906, "online": True}, "soc2": {"temp": 45.25, "online": True},
                        "tj": {"temp": 47.906, "online": True}},
        "cpu": {"total": {"user": 8.0, "nice": 0.0, "system": 3.0, "idle": 89.0},
                "cpu": [{"online": True, "governor": "schedutil",
                         "freq": {"min": 729600, "max": 1728000, "cur": 1190400},
                         "model": "ARMv8 Processor rev 1"}
                        for _ in range(6)]},
    }


class FakeJtop:
    """A jtop client as the agent uses it: start(), ok() blocking until the next sample, close(), and
    the read-only properties. It serves ``samples`` samples, then behaves like a service that went
    quiet: ok() returns False after three intervals."""

    def __init__(self, interval: float, samples: int = 10 ** 9, start_error: Optional[BaseException] = None,
                 start_blocks: Optional[threading.Event] = None) -> None:
        self.interval = interval
        self._left = samples
        self._start_error = start_error
        self._start_blocks = start_blocks
        self.served = 0
        self.quiet = threading.Event()
        self.starting = threading.Event()
        self.closed = False
        self._data = orin_nano_dump()

    def start(self) -> None:
        self.starting.set()
        if self._start_blocks is not None:
            self._start_blocks.wait()
        if self._start_error is not None:
            raise self._start_error

    def ok(self) -> bool:
        # jtop's ok() blocks until the service's next sample, and gives up after three intervals: the
        # stand-in keeps the service's cadence, it is not a test clock.
        if self._left == 0:
            self.quiet.set()
            time.sleep(3 * self.interval)
            return False
        time.sleep(self.interval)
        self._left -= 1
        self.served += 1
        # The first sample after connecting is the since-boot average the agent must not publish.
        self._data = orin_nano_dump(cpu1_load=99 if self.served == 1 else 18)
        return True

    def close(self) -> None:
        self.closed = True

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__["_data"]
        if name in data:
            return data[name]
        raise AttributeError(name)


def test_the_jtop_dump_maps_to_the_same_metrics_as_tegrastats():
    jetson = FakeJtop(0.1)
    out = metrics_of(reading_from_jtop(jetson))
    assert out.get("fleetmon_jetson_ram_used_bytes") == 1708484 * 1024
    assert out.get("fleetmon_jetson_ram_lfb_block_bytes") == 4 * MIB
    assert out.get("fleetmon_jetson_swap_total_bytes") == 1867524 * 1024
    assert out.get("fleetmon_jetson_cpu_core_usage_ratio", core="1") == 0.39
    assert out.get("fleetmon_jetson_cpu_core_frequency_hertz", core="5") == 1190.4e6
    assert out.get("fleetmon_jetson_gpu_load_ratio") == pytest.approx(0.048)
    assert out.get("fleetmon_jetson_gpu_frequency_hertz", gpc="0") == 305.981e6
    assert out.get("fleetmon_jetson_emc_load_ratio") == 0
    assert out.get("fleetmon_jetson_emc_frequency_hertz") == 2133e6
    assert out.get("fleetmon_jetson_engine_active", engine="NVDEC") == 0
    assert out.get("fleetmon_jetson_engine_frequency_hertz", engine="NVDEC") is None
    assert out.get("fleetmon_jetson_engine_frequency_hertz", engine="VIC") == 115.2e6
    assert out.get("fleetmon_jetson_temperature_celsius", zone="tj") == 47.906
    assert out.get("fleetmon_jetson_temperature_celsius", zone="cv0") is None
    assert out.get("fleetmon_jetson_power_watts", rail="VDD_SOC") == 1.54
    assert out.get("fleetmon_jetson_power_watts", rail="VDD_IN") == 5.133
    assert out.get("fleetmon_jetson_power_average_watts", rail="VDD_SOC") is None  # jtop's avg is no mean
    assert out.get("fleetmon_jetson_power_total_watts") == 5.133
    assert out.get("fleetmon_jetson_fan_speed_ratio", fan="pwmfan0") == pytest.approx(0.26274509803921568)
    assert out.get("fleetmon_jetson_clocks_enabled") == 0
    assert out.get("fleetmon_jetson_nvpmodel_info", mode="25W") == 1
    _assert_in_catalogue(out)
    assert board_from_jtop(jetson).facts() == {
        "model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "l4t": "36.4.3",
        "jetpack": "6.2"}


def test_jtop_without_input_rail_sums_rails_and_survives_missing_properties():
    jetson = FakeJtop(0.1)
    data = jetson.__dict__["_data"]
    data["power"] = {"rail": {"VDD_GPU_SOC": {"power": 4940}, "VDD_CPU_CV": {"power": 988}},
                     "tot": {"power": 5928, "avg": 5928}}
    data["gpu"], data["engine"], data["fan"] = {}, {}, ReadsLikeDict({})
    data["memory"] = ReadsLikeDict({})
    del data["cpu"]
    reading = reading_from_jtop(jetson)
    assert reading.rails == [Rail("VDD_GPU_SOC", 4.94, None, None), Rail("VDD_CPU_CV", 0.988, None, None)]
    assert reading.total_power_watts == 5.928
    assert reading.ram is None and reading.gpu_load is None and reading.fans == []
    assert reading.cores[0].frequency_hz is None and reading.cores[0].load == 0.18


def test_jtop_source_skips_the_first_sample_after_connecting():
    clients: List[FakeJtop] = []

    def connect(interval):
        clients.append(FakeJtop(interval, samples=1))
        return clients[-1]

    source = JtopSource(0.1, connect, retry_delay=60)
    try:
        assert source.wait_connected(timeout=10)
        wait_until(clients[0].quiet.is_set, timeout=20)
        with pytest.raises(SourceError):
            source.read()
    finally:
        source.close()


def test_jtop_source_serves_the_latest_sample_and_the_board():
    clients: List[FakeJtop] = []

    def connect(interval):
        clients.append(FakeJtop(interval))
        return clients[-1]

    source = JtopSource(0.05, connect)
    try:
        reading = first_reading(source.read)
        assert reading.cores[0].load == 0.18
        assert reading.fans == [Fan("pwmfan0", pytest.approx(0.26274509803921568))]
        assert source.board().l4t == "36.4.3"
        assert clients[0].interval == 0.05
    finally:
        source.close()
    assert clients[0].closed


def test_an_unavailable_jtop_service_is_reported_and_retried():
    attempts: List[FakeJtop] = []

    def connect(interval):
        attempts.append(FakeJtop(interval, start_error=ConnectionRefusedError(111, "Connection refused")))
        return attempts[-1]

    source = JtopSource(0.1, connect, retry_delay=0.01, max_retry_delay=0.05)
    try:
        assert not source.wait_connected(timeout=10)
        with pytest.raises(SourceError, match="Connection refused"):
            source.read()
        wait_until(lambda: len(attempts) >= 3, timeout=20)
        assert all(client.closed for client in attempts[:2])
    finally:
        source.close()


def test_a_jtop_service_that_goes_quiet_makes_samples_stale_then_reconnects():
    clients: List[FakeJtop] = []

    def connect(interval):
        clients.append(FakeJtop(interval, samples=3))
        return clients[-1]

    source = JtopSource(0.05, connect, retry_delay=0.01)
    try:
        first_reading(source.read)
        wait_until(lambda: len(clients) >= 2, timeout=20)
    finally:
        source.close()


def test_a_wedged_jtop_service_never_blocks_a_sample():
    release = threading.Event()
    clients: List[FakeJtop] = []

    def connect(interval):
        clients.append(FakeJtop(interval, start_blocks=release))
        return clients[-1]

    source = JtopSource(0.1, connect)
    try:
        wait_until(lambda: clients and clients[0].starting.is_set(), timeout=20, message="the client's start()")
        assert not source.wait_connected(timeout=0)  # start() is wedged: no attempt has ended
        with pytest.raises(SourceError, match="no sample yet"):
            source.read()
    finally:
        release.set()
        source.close()
