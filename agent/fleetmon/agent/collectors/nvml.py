"""NVIDIA GPUs through NVML (the nvidia-ml-py package, imported as ``pynvml``).

NVML is optional: without the package or the driver library the constructor raises
CollectorUnavailable, and with ``enabled: auto`` the agent runs without this collector. A field a GPU
does not have (fans on a passively cooled datacenter card, some readings on Jetson Thor) answers
NOT_SUPPORTED and is left out; any other NVML error fails the sample with the GPU and the reading
named, so a GPU that fell off the bus shows as a failing collector rather than as silence.
"""

from typing import Any, Callable, Dict, List, NamedTuple, Optional

from fleetmon.agent.collectors.base import Collector, CollectorUnavailable
from fleetmon.agent.config import NvmlCollectorConfig
from fleetmon.protocol.metricset import MetricSet

MHZ = 1e6
CLOCK_NAMES = (("graphics", "NVML_CLOCK_GRAPHICS"), ("sm", "NVML_CLOCK_SM"), ("memory", "NVML_CLOCK_MEM"),
               ("video", "NVML_CLOCK_VIDEO"))


class Gpu(NamedTuple):
    index: int
    handle: Any
    name: str
    uuid: str
    memory_bytes: int


class NvmlCollector(Collector):
    name = "nvml"

    def __init__(self, config: NvmlCollectorConfig, nvml: Optional[Any] = None) -> None:
        """``nvml`` stands in for the pynvml module (tests); by default the real one is imported."""
        self.config = config
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError as exc:
                raise CollectorUnavailable("NVML is not available: the nvidia-ml-py package is not "
                                           "installed") from exc
        self._nvml = nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            # LIBRARY_NOT_FOUND, DRIVER_NOT_LOADED, NO_PERMISSION...: no usable NVIDIA driver here.
            raise CollectorUnavailable(f"NVML is not available: {_text(exc)}") from exc
        try:
            self.driver = _decode(nvml.nvmlSystemGetDriverVersion())
            self._gpus: Optional[List[Gpu]] = [
                self._describe(index) for index in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError as exc:
            nvml.nvmlShutdown()
            raise CollectorUnavailable(f"NVML cannot list the GPUs: {_text(exc)}") from exc
        if not self._gpus:
            nvml.nvmlShutdown()
            raise CollectorUnavailable("NVML is loaded but finds no GPU")

    def _describe(self, index: int) -> Gpu:
        nvml = self._nvml
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        return Gpu(index, handle, name=_decode(nvml.nvmlDeviceGetName(handle)),
                   uuid=_decode(nvml.nvmlDeviceGetUUID(handle)),
                   memory_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total))

    def collect(self, out: MetricSet) -> None:
        for gpu in self._gpus or ():
            self._collect_gpu(gpu, out)

    def _collect_gpu(self, gpu: Gpu, out: MetricSet) -> None:
        nvml = self._nvml
        handle = gpu.handle
        labels = {"gpu": str(gpu.index)}

        def read(what: str, call: Callable[[], Any]) -> Any:
            """The reading, or None where this GPU does not support it."""
            try:
                return call()
            except nvml.NVMLError as exc:
                if exc.value == nvml.NVML_ERROR_NOT_SUPPORTED:
                    return None
                raise RuntimeError(
                    f"GPU {gpu.index} ({gpu.name}): reading {what} failed: {_text(exc)}") from exc

        utilization = read("utilization", lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        if utilization is not None:
            out.add("fleetmon_gpu_utilization_ratio", utilization.gpu / 100.0, labels)
            out.add("fleetmon_gpu_memory_utilization_ratio", utilization.memory / 100.0, labels)
        memory = read("memory", lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        if memory is not None:
            out.add("fleetmon_gpu_memory_used_bytes", memory.used, labels)
            out.add("fleetmon_gpu_memory_total_bytes", memory.total, labels)
        temperature = read("temperature",
                           lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        if temperature is not None:
            out.add("fleetmon_gpu_temperature_celsius", temperature, labels)
        power = read("power", lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        if power is not None:
            out.add("fleetmon_gpu_power_watts", power / 1000.0, labels)  # milliwatts
        limit = read("power limit", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        if limit is not None:
            out.add("fleetmon_gpu_power_limit_watts", limit / 1000.0, labels)
        for clock, constant in CLOCK_NAMES:
            kind = getattr(nvml, constant)
            mhz = read(clock + " clock", lambda kind=kind: nvml.nvmlDeviceGetClockInfo(handle, kind))
            if mhz is not None:
                out.add("fleetmon_gpu_clock_hertz", mhz * MHZ, dict(labels, clock=clock))
        fan = read("fan speed", lambda: nvml.nvmlDeviceGetFanSpeed(handle))
        if fan is not None:
            out.add("fleetmon_gpu_fan_speed_ratio", fan / 100.0, labels)
        out.add("fleetmon_gpu_info", 1, dict(labels, name=gpu.name, uuid=gpu.uuid, driver=self.driver))

    def facts(self) -> Dict[str, object]:
        gpus: List[Dict[str, object]] = [
            {"index": gpu.index, "name": gpu.name, "uuid": gpu.uuid, "memory_bytes": gpu.memory_bytes}
            for gpu in self._gpus or ()]
        return {"gpus": gpus, "nvidia_driver": self.driver}

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus = None
            self._nvml.nvmlShutdown()


def _decode(value: Any) -> str:
    """nvidia-ml-py before 11.515 returned bytes for strings."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _text(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
