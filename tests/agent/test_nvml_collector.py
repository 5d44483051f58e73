"""The NVML collector: quietly absent without an NVIDIA driver, and the mapping of NVML readings to
catalogue metrics. No GPU exists here, so a small stand-in for the pynvml module plays two GPUs."""

import sys
from types import SimpleNamespace

import pytest

from fleetmon.agent.collectors.base import CollectorUnavailable
from fleetmon.agent.collectors.nvml import NvmlCollector
from fleetmon.agent.config import NvmlCollectorConfig
from fleetmon.protocol.catalog import NVML
from fleetmon.protocol.metricset import MetricSet


def test_without_an_nvidia_driver_the_collector_is_unavailable():
    try:
        collector = NvmlCollector(NvmlCollectorConfig())
    except CollectorUnavailable as exc:
        assert str(exc).startswith("NVML is not available: ")
        assert "Library Not Found" in str(exc) or "Driver Not Loaded" in str(exc)
    else:
        collector.close()
        pytest.skip("this host has an NVIDIA driver; test_a_real_gpu_is_collected covers it")


def test_without_nvidia_ml_py_the_collector_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail as if not installed
    with pytest.raises(CollectorUnavailable, match="nvidia-ml-py package is not installed"):
        NvmlCollector(NvmlCollectorConfig())


def test_a_real_gpu_is_collected():
    try:
        collector = NvmlCollector(NvmlCollectorConfig())
    except CollectorUnavailable:
        pytest.skip("no NVIDIA driver on this host")
    try:
        out = MetricSet()
        collector.collect(out)
        facts = collector.facts()
    finally:
        collector.close()
    assert facts["gpus"] and facts["nvidia_driver"]
    assert out.get("fleetmon_gpu_memory_total_bytes", gpu="0") == facts["gpus"][0]["memory_bytes"]
    assert 0 <= out.get("fleetmon_gpu_utilization_ratio", gpu="0") <= 1


class FakeNvml:
    """Just enough of pynvml for two GPUs: an A100-like one and a fanless one that also cannot
    report its power draw."""

    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_CLOCK_VIDEO = 0, 1, 2, 3

    class NVMLError(Exception):
        def __init__(self, value):
            super().__init__({3: "Not Supported", 9: "Driver Not Loaded", 15: "GPU is lost"}[value])
            self.value = value

    def __init__(self, init_error=None, names=("NVIDIA A100-SXM4-40GB", "NVIDIA L4")):
        self.init_error = init_error
        self.names = names
        self.shutdowns = 0
        self.lost = False

    def nvmlInit(self):
        if self.init_error is not None:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlDeviceGetCount(self):
        return len(self.names)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return self.names[handle]

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-0000000{handle}-aaaa-bbbb-cccc-dddddddddddd"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(total=(40 if handle == 0 else 24) * 2**30, used=3 * 2**30, free=0)

    def nvmlDeviceGetUtilizationRates(self, handle):
        if self.lost:
            raise self.NVMLError(self.NVML_ERROR_GPU_IS_LOST)
        return SimpleNamespace(gpu=87, memory=12)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 61 + handle

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle == 1:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return 123456  # milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 400000 if handle == 0 else 72000

    def nvmlDeviceGetClockInfo(self, handle, kind):
        return {0: 1410, 1: 1395, 2: 1215, 3: 1275}[kind]

    def nvmlDeviceGetFanSpeed(self, handle):
        if handle == 1:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return 45


def test_readings_map_to_catalogue_names_and_base_units():
    collector = NvmlCollector(NvmlCollectorConfig(), nvml=FakeNvml())
    out = MetricSet()
    collector.collect(out)

    catalogue = {spec.name: set(spec.labels) for spec in NVML}
    for item in out:
        assert set(item.labels) == catalogue[item.name], item
    assert out.get("fleetmon_gpu_utilization_ratio", gpu="0") == 0.87
    assert out.get("fleetmon_gpu_memory_utilization_ratio", gpu="0") == 0.12
    assert out.get("fleetmon_gpu_memory_used_bytes", gpu="0") == 3 * 2**30
    assert out.get("fleetmon_gpu_memory_total_bytes", gpu="0") == 40 * 2**30
    assert out.get("fleetmon_gpu_temperature_celsius", gpu="0") == 61
    assert out.get("fleetmon_gpu_power_watts", gpu="0") == pytest.approx(123.456)
    assert out.get("fleetmon_gpu_power_limit_watts", gpu="0") == 400
    assert out.get("fleetmon_gpu_clock_hertz", gpu="0", clock="graphics") == 1.41e9
    assert out.get("fleetmon_gpu_clock_hertz", gpu="0", clock="sm") == 1.395e9
    assert out.get("fleetmon_gpu_clock_hertz", gpu="0", clock="memory") == 1.215e9
    assert out.get("fleetmon_gpu_clock_hertz", gpu="0", clock="video") == 1.275e9
    assert out.get("fleetmon_gpu_fan_speed_ratio", gpu="0") == 0.45
    info = [s for s in out if s.name == "fleetmon_gpu_info"]
    assert sorted((s.labels["gpu"], s.labels["name"], s.labels["driver"], s.value) for s in info) == [
        ("0", "NVIDIA A100-SXM4-40GB", "550.54.15", 1), ("1", "NVIDIA L4", "550.54.15", 1)]
    assert info[0].labels["uuid"].startswith("GPU-")


def test_fields_a_gpu_does_not_support_are_left_out_quietly():
    out = MetricSet()
    NvmlCollector(NvmlCollectorConfig(), nvml=FakeNvml()).collect(out)

    assert out.get("fleetmon_gpu_fan_speed_ratio", gpu="1") is None
    assert out.get("fleetmon_gpu_power_watts", gpu="1") is None
    assert out.get("fleetmon_gpu_power_limit_watts", gpu="1") == 72
    assert out.get("fleetmon_gpu_temperature_celsius", gpu="1") == 62


def test_a_lost_gpu_fails_the_collect_with_a_clear_message():
    nvml = FakeNvml()
    collector = NvmlCollector(NvmlCollectorConfig(), nvml=nvml)
    nvml.lost = True
    with pytest.raises(RuntimeError, match=r"GPU 0 \(NVIDIA A100-SXM4-40GB\): reading utilization failed: "
                                           r"GPU is lost"):
        collector.collect(MetricSet())


def test_a_driver_that_is_not_loaded_makes_the_collector_unavailable():
    with pytest.raises(CollectorUnavailable, match="NVML is not available: Driver Not Loaded"):
        NvmlCollector(NvmlCollectorConfig(), nvml=FakeNvml(init_error=FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED))


def test_a_driver_without_gpus_makes_the_collector_unavailable():
    nvml = FakeNvml(names=())
    with pytest.raises(CollectorUnavailable, match="finds no GPU"):
        NvmlCollector(NvmlCollectorConfig(), nvml=nvml)
    assert nvml.shutdowns == 1


def test_facts_list_the_gpus_and_the_driver():
    collector = NvmlCollector(NvmlCollectorConfig(), nvml=FakeNvml(names=(b"NVIDIA A100-SXM4-40GB",)))
    assert collector.facts() == {
        "gpus": [{"index": 0, "name": "NVIDIA A100-SXM4-40GB",
                  "uuid": "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd", "memory_bytes": 40 * 2**30}],
        "nvidia_driver": "550.54.15",
    }


def test_close_shuts_nvml_down_once():
    nvml = FakeNvml()
    collector = NvmlCollector(NvmlCollectorConfig(), nvml=nvml)
    collector.close()
    collector.close()
    assert nvml.shutdowns == 1
