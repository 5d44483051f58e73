"""jetson-stats (jtop) as a source: one long-lived client in its own thread.

jtop is a client of the root service ``jtop.service`` on /run/jtop.sock. It reads sysfs and debugfs
as root, so it sees more than a non-root tegrastats (fans, jetson_clocks, nvpmodel). Its client can
block: ``start()`` hangs when the service is alive but wedged and ``ok()`` waits up to three intervals.
So the client runs in a thread that keeps the latest reading, and ``read()`` only looks at that: a stuck
service makes samples stale (an error naming the cause), never a stuck agent.

The client is only read. Its setters (jetson_clocks, nvpmodel, fan, swap) change the board and are
never called. jetson-stats is optional and imported only when this source is used, because importing
it switches multiprocessing to "fork" for the whole process.
"""

import importlib.util
import logging
import queue
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from fleetmon.agent.collectors.jetson.board import JETPACK_FOR_L4T, BoardInfo
from fleetmon.agent.collectors.jetson.reading import (
    Core,
    Engine,
    Fan,
    Iram,
    JetsonReading,
    Rail,
    Ram,
    Swap,
    Temperature,
    total_power,
)
from fleetmon.agent.collectors.jetson.sources import SourceError

log = logging.getLogger("fleetmon.agent.jetson")

KIB = 1024
KHZ = 1e3
MHZ = 1e6
#: jtop counts lfb in blocks of 4 MiB (from /proc/buddyinfo).
LFB_BLOCK_BYTES = 4 * 1024 * 1024
OFFLINE_CELSIUS = -256.0
#: What a client raises when the service is missing, refuses us, or goes away, besides JtopException.
CONNECTION_ERRORS: Tuple[Type[BaseException], ...] = (EOFError, OSError, queue.Empty)

_CPU_KEY = re.compile(r"^CPU(\d+)$")


def jtop_importable() -> bool:
    """Whether jetson-stats is installed, without importing it (the import has side effects)."""
    return importlib.util.find_spec("jtop") is not None


def load_jtop() -> Tuple[Callable[..., Any], Tuple[Type[BaseException], ...]]:
    """The jtop client class and the exceptions that mean 'the service is unavailable'."""
    from jtop import JtopException, jtop

    return jtop, (JtopException, *CONNECTION_ERRORS)


class JtopSource:
    name = "jtop"

    def __init__(self, interval: float, client_factory: Callable[..., Any],
                 expected_errors: Tuple[Type[BaseException], ...] = CONNECTION_ERRORS,
                 retry_delay: float = 1.0, max_retry_delay: float = 60.0) -> None:
        """``client_factory(interval=...)`` makes an unstarted client: ``jtop.jtop`` in production."""
        self._interval = interval
        self._factory = client_factory
        self._expected = expected_errors
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        # ok() gives up after three intervals without a sample; one more second covers scheduling.
        self._stale_after = 3 * interval + 1.0
        self._latest: Optional[Tuple[JetsonReading, float]] = None
        self._board = BoardInfo()
        self._problem = "jtop has delivered no sample yet"
        self._delivered = False
        self._connected = False
        self._attempted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleetmon-jtop", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Wait for the first connection attempt; True when the client started."""
        self._attempted.wait(timeout)
        return self._connected

    @property
    def problem(self) -> str:
        return self._problem

    def read(self) -> JetsonReading:
        latest = self._latest
        if latest is None:
            raise SourceError(self._problem)
        reading, arrived = latest
        age = time.monotonic() - arrived
        if age > self._stale_after:
            raise SourceError(f"the last jtop sample is {age:.1f}s old ({self._problem})")
        return reading

    def board(self) -> BoardInfo:
        return self._board

    def close(self) -> None:
        """Stop the thread; a thread stuck in a wedged service is left behind (it is a daemon)."""
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        delay = self._retry_delay
        while not self._stop.is_set():
            self._delivered = False
            try:
                self._session()
                ended = "the jtop service stopped sending samples"
            except self._expected as exc:
                ended = "jtop: {}".format(" ".join(str(exc).split()) or type(exc).__name__)
            except Exception:  # a bug in this module must not end the thread silently: log it, retry
                log.exception("jtop client failed")
                ended = "the jtop client failed unexpectedly (see the agent log)"
            if self._delivered:
                delay = self._retry_delay
            self._problem = f"{ended}; connecting again in {delay:g}s"
            self._connected = False
            self._attempted.set()
            if self._stop.is_set():
                break
            log.warning("%s", self._problem)
            self._stop.wait(delay)
            delay = min(delay * 2, self._max_retry_delay)

    def _session(self) -> None:
        client = self._factory(interval=self._interval)
        try:
            client.start()
            self._board = board_from_jtop(client)
            self._problem = "connected to the jtop service, waiting for its samples"
            self._connected = True
            self._attempted.set()
            # The first sample after connecting measures CPU load since boot (the service zeroes its
            # counters when its first client arrives): skip it.
            skipped_first = False
            while not self._stop.is_set() and client.ok():
                if not skipped_first:
                    skipped_first = True
                    continue
                self._latest = (reading_from_jtop(client), time.monotonic())
                self._delivered = True
        finally:
            # jetson-stats 4.x does not close the client on __exit__, so close it here explicitly.
            client.close()


def _dict(value: Any) -> Dict[str, Any]:
    """jtop's helper objects (memory, fan, ...) read like dicts; anything else reads as empty."""
    if isinstance(value, dict):
        return value
    items = getattr(value, "items", None)
    return dict(items()) if callable(items) else {}


def _number(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _scaled(value: Any, factor: float) -> Optional[float]:
    number = _number(value)
    return None if number is None else number * factor


def board_from_jtop(jetson: Any) -> BoardInfo:
    hardware = _dict(_dict(jetson.board).get("hardware"))
    l4t = str(hardware.get("L4T") or "")
    return BoardInfo(model=str(hardware.get("Model") or ""), l4t=l4t,
                     jetpack=str(hardware.get("Jetpack") or JETPACK_FOR_L4T.get(l4t, "")))


def reading_from_jtop(jetson: Any) -> JetsonReading:
    """Map the client's properties (jetson-jtop.md §5) into a reading; keys vary by board, so every
    value is optional and an unexpected shape reads as absent."""
    stats = _dict(jetson.stats)  # rebuilt on every access: read it once
    memory = _dict(jetson.memory)
    reading = JetsonReading()
    _memory(reading, memory)
    reading.cores = _cores(stats, _dict(getattr(jetson, "cpu", None)))
    reading.emc_load = _scaled(stats.get("EMC"), 0.01)
    emc = _dict(memory.get("EMC"))
    if emc.get("online", True):
        reading.emc_frequency_hz = _scaled(emc.get("cur"), KHZ)
    _gpu(reading, _dict(jetson.gpu))
    for group in _dict(jetson.engine).values():
        for name, engine in _dict(group).items():
            engine = _dict(engine)
            online = bool(engine.get("online"))
            reading.engines.append(Engine(str(name), online, None, _scaled(engine.get("cur"), KHZ)))
    for zone, sensor in _dict(jetson.temperature).items():
        sensor = _dict(sensor)
        celsius = _number(sensor.get("temp"))
        if celsius is None or celsius == OFFLINE_CELSIUS or not sensor.get("online", True):
            continue
        if str(zone).lower() != "pmic":
            reading.temperatures.append(Temperature(str(zone).lower(), celsius, None))
    _power(reading, _dict(jetson.power))
    for name, fan in _dict(jetson.fan).items():
        for index, speed in enumerate(_dict(fan).get("speed") or []):
            percent = _number(speed)
            if percent is not None:
                reading.fans.append(Fan(f"{name}{index}", percent / 100.0))
    clocks = stats.get("jetson_clocks")
    if clocks in ("ON", "OFF"):
        reading.jetson_clocks = clocks == "ON"
    mode = stats.get("nvp model")  # sic: the key has a space
    if mode:
        reading.nvpmodel = str(mode)
    return reading


def _memory(reading: JetsonReading, memory: Dict[str, Any]) -> None:
    ram = _dict(memory.get("RAM"))
    if _number(ram.get("tot")):
        lfb = _number(ram.get("lfb"))
        reading.ram = Ram(_scaled(ram.get("used"), KIB) or 0.0, ram["tot"] * KIB,
                          int(lfb) if lfb is not None else None, LFB_BLOCK_BYTES if lfb is not None else None)
    swap = _dict(memory.get("SWAP"))
    if _number(swap.get("tot")) is not None:
        reading.swap = Swap(_scaled(swap.get("used"), KIB) or 0.0, swap["tot"] * KIB,
                            _scaled(swap.get("cached"), KIB))
    iram = _dict(memory.get("IRAM"))
    if _number(iram.get("tot")):
        reading.iram = Iram(_scaled(iram.get("used"), KIB) or 0.0, iram["tot"] * KIB,
                            _scaled(iram.get("lfb"), KIB))


def _cores(stats: Dict[str, Any], cpu: Dict[str, Any]) -> List[Core]:
    """Loads from stats' CPU1..CPUn (1-based, 'OFF' while off), clocks from jetson.cpu (kHz)."""
    details = cpu.get("cpu") if isinstance(cpu.get("cpu"), list) else []
    cores = []
    for key, value in stats.items():
        match = _CPU_KEY.match(key)
        if not match:
            continue
        index = int(match.group(1)) - 1
        load = _number(value)
        if load is None:
            cores.append(Core(index, False, None, None))
            continue
        frequency = None
        if index < len(details):
            frequency = _scaled(_dict(_dict(details[index]).get("freq")).get("cur"), KHZ)
        cores.append(Core(index, True, load / 100.0, frequency))
    cores.sort(key=lambda core: core.index)
    return cores


def _gpu(reading: JetsonReading, gpus: Dict[str, Any]) -> None:
    if not gpus:
        return
    gpu = _dict(next(iter(gpus.values())))  # Jetsons have one integrated GPU
    reading.gpu_load = _scaled(_dict(gpu.get("status")).get("load"), 0.01)
    freq = _dict(gpu.get("freq"))
    # NVML (JetPack 7) reports MHz; sysfs and devfreq report kHz.
    unit = MHZ if freq.get("governor") == "nvml" else KHZ
    per_gpc = freq.get("GPC") if isinstance(freq.get("GPC"), list) else [freq.get("cur")]
    reading.gpc_frequencies_hz = [hz for hz in (_scaled(value, unit) for value in per_gpc) if hz is not None]


def _power(reading: JetsonReading, power: Dict[str, Any]) -> None:
    # jtop's "avg" is its own two-sample smoothing, not an average since start: it is not published.
    for name, rail in _dict(power.get("rail")).items():
        watts = _scaled(_dict(rail).get("power"), 0.001)
        if watts is not None:
            reading.rails.append(Rail(str(name), watts, None, None))
    total = _dict(power.get("tot"))
    total_watts = _scaled(total.get("power"), 0.001)
    if total.get("name") and total_watts is not None:
        # jtop moves the input rail (VDD_IN, POM_5V_IN, VIN) out of the rails into "tot".
        reading.rails.append(Rail(str(total["name"]), total_watts, None, None))
    reading.total_power_watts = total_watts if total_watts is not None else total_power(reading.rails)
