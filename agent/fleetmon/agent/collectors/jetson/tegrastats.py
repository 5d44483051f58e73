"""The tegrastats line grammar, TX1 (L4T R24) to Thor (JetPack 7.2), root and non-root.

Fields are recognised by their own shape wherever they stand, never by position: which fields a line
has depends on the board, the release and whether tegrastats runs as root. The scanner walks the line
from left to right; at each position it tries every field pattern, and a token no pattern explains is
kept in ``reading.unknown`` so that new engines or changed formats are reported instead of dropped.
Whitespace runs of any length separate fields (one JetPack 6 capture pads with up to 11 spaces).
"""

import datetime
import re
from typing import Callable, List, Match, Optional, Pattern, Tuple

from fleetmon.agent.collectors.jetson.reading import (
    Core,
    Engine,
    Iram,
    JetsonReading,
    Rail,
    Ram,
    Swap,
    Temperature,
    total_power,
)

MHZ = 1e6
MILLIWATTS_PER_WATT = 1000.0
#: tegrastats sizes are binary: its "MB" is MiB.
SIZE_UNITS = {"k": 1024, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
#: An offline or power-gated thermal zone reads -256C.
OFFLINE_CELSIUS = -256.0
#: TX1, TX2, Nano and Xavier print a fixed PMIC@100C that is no measurement.
PMIC_PLACEHOLDER = ("pmic", 100.0)

_END = r"(?=\s|$)"
_NUM = r"\d+(?:\.\d+)?"
_SIZE = r"(\d+)/(\d+)([kKMG])B"
_CORE = r"\s*(?:\d+%(?:@\d+)?|off)\s*"
#: The value of EMC, GR3D and engines: off, a load, a clock, or both, where a load may be a list
#: ([N%,N%], two PVA cores) and a clock may be a list (@[f,f], one per GPU GPC).
_VALUE = (r"(?:(?P<off>off)|(?=[\d\[@])"
          r"(?:(?P<load>\d+)%|\[(?P<loads>\d+%(?:\s*,\s*\d+%)*)\])?"
          r"(?:@(?:(?P<freq>\d+)|\[(?P<freqs>\d+(?:\s*,\s*\d+)*)\]))?)")
_ENGINE_NAMES = "APE|VIC|NVENC|NVDEC|NVJPG|NVDLA|PVA|OFA|MSENC|AVP|SE|CVNAS"

_SPACE = re.compile(r"\s+")
_TIMESTAMP = re.compile(r"\s*(\d\d)-(\d\d)-(\d{4})\s+(\d\d):(\d\d):(\d\d)" + _END)
_RAM = re.compile(r"RAM\s+" + _SIZE + r"(?:\s*\(lfb\s+(\d+)x(\d+)([kKMG])B\))?" + _END)
_SWAP = re.compile(r"SWAP\s+" + _SIZE + r"(?:\s*\(cached\s+(\d+)([kKMG])B\))?" + _END)
_IRAM = re.compile(r"IRAM\s+" + _SIZE + r"(?:\s*\(lfb\s+(\d+)([kKMG])B\))?" + _END)
_CPU = re.compile(r"(?:CPU|cpu)\s+\[(" + _CORE + r"(?:," + _CORE + r")*)\](?:@(\d+))?" + _END)
_CORE_VALUE = re.compile(r"\s*(?:(\d+)%(?:@(\d+))?|off)\s*")
_MTS = re.compile(r"MTS\s+fg\s+(\d+)%\s+bg\s+(\d+)%" + _END)
_EDP = re.compile(r"EDP\s+limit\s+(\d+)" + _END)
_GR3D = re.compile(r"GR3D\d*(?:_FREQ)?\s+" + _VALUE + _END)
_EMC = re.compile(r"EMC(?:_FREQ)?\s+" + _VALUE + _END)
# Before JetPack 5 an engine printed only its clock in MHz, and only while active ("NVENC 716").
_ENGINE = re.compile(r"(?P<name>(?:" + _ENGINE_NAMES + r")\d*)(?:_FREQ)?\s+(?:(?P<mhz>\d+)" + _END
                     + "|" + _VALUE + _END + ")")
_TEMPERATURE = re.compile(r"([A-Za-z][\w-]*)@(-?" + _NUM + r")C(?:/(-?" + _NUM + r")C)?" + _END)
_RAIL = re.compile(r"([A-Za-z]\w*)\s+(" + _NUM + r")(?:mW)?/(" + _NUM + r")(?:mW)?(?:/(" + _NUM
                   + r")(?:mW)?)?" + _END)


class _LineState:
    """The reading being built, plus the per-GPC loads averaged once the line is done."""

    __slots__ = ("gpu_loads", "reading")

    def __init__(self) -> None:
        self.reading = JetsonReading()
        self.gpu_loads: List[float] = []


def parse_line(line: str) -> JetsonReading:
    """Parse one tegrastats line; never raises, unexplained tokens land in ``unknown``."""
    state = _LineState()
    reading = state.reading
    pos, end = 0, len(line)
    stamp = _TIMESTAMP.match(line)
    if stamp:
        reading.timestamp = _timestamp(stamp)
        if reading.timestamp is not None:
            pos = stamp.end()
    while True:
        space = _SPACE.match(line, pos)
        if space:
            pos = space.end()
        if pos >= end:
            break
        for pattern, handle in _FIELDS:
            match = pattern.match(line, pos)
            if match:
                handle(state, match)
                pos = match.end()
                break
        else:
            space = _SPACE.search(line, pos)
            token_end = space.start() if space else end
            reading.unknown.append(line[pos:token_end])
            pos = token_end
    if state.gpu_loads:
        # One GR3D token per GPC on AGX Orin JetPack 5; their mean is the load of the whole GPU.
        reading.gpu_load = sum(state.gpu_loads) / len(state.gpu_loads)
    reading.total_power_watts = total_power(reading.rails)
    return reading


def _timestamp(match: Match[str]) -> Optional[datetime.datetime]:
    month, day, year, hour, minute, second = (int(group) for group in match.groups())
    try:
        return datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None  # not a date after all: its tokens are reported as unknown


def _size(number: str, unit: str) -> float:
    return int(number) * SIZE_UNITS[unit]


def _ram(state: _LineState, m: Match[str]) -> None:
    used, total, unit, blocks, block, block_unit = m.groups()
    state.reading.ram = Ram(_size(used, unit), _size(total, unit), int(blocks) if blocks else None,
                            _size(block, block_unit) if block else None)


def _swap(state: _LineState, m: Match[str]) -> None:
    used, total, unit, cached, cached_unit = m.groups()
    state.reading.swap = Swap(_size(used, unit), _size(total, unit),
                              _size(cached, cached_unit) if cached else None)


def _iram(state: _LineState, m: Match[str]) -> None:
    used, total, unit, lfb, lfb_unit = m.groups()
    state.reading.iram = Iram(_size(used, unit), _size(total, unit), _size(lfb, lfb_unit) if lfb else None)


def _cpu(state: _LineState, m: Match[str]) -> None:
    entries, shared_mhz = m.groups()
    cores = state.reading.cores
    for index, entry in enumerate(entries.split(",")):
        load, mhz = _CORE_VALUE.fullmatch(entry).groups()  # always matches: _CPU checked each entry
        if load is None:
            cores.append(Core(index, False, None, None))
            continue
        mhz = mhz or shared_mhz  # the legacy form (L4T <= R28.1) prints one clock for all cores
        cores.append(Core(index, True, int(load) / 100.0, int(mhz) * MHZ if mhz else None))


def _mts(state: _LineState, m: Match[str]) -> None:
    state.reading.mts_foreground = int(m.group(1)) / 100.0
    state.reading.mts_background = int(m.group(2)) / 100.0


def _edp(state: _LineState, m: Match[str]) -> None:
    state.reading.edp_limit_hz = int(m.group(1)) * MHZ


def _loads(m: Match[str]) -> List[float]:
    if m.group("load") is not None:
        return [int(m.group("load")) / 100.0]
    if m.group("loads") is not None:
        return [int(item.strip().rstrip("%")) / 100.0 for item in m.group("loads").split(",")]
    return []


def _frequencies(m: Match[str]) -> List[float]:
    if m.group("freq") is not None:
        return [int(m.group("freq")) * MHZ]
    if m.group("freqs") is not None:
        return [int(item) * MHZ for item in m.group("freqs").split(",")]
    return []


def _mean(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _gr3d(state: _LineState, m: Match[str]) -> None:
    if m.group("off"):
        state.gpu_loads.append(0.0)
        return
    state.gpu_loads.extend(_loads(m))
    state.reading.gpc_frequencies_hz.extend(_frequencies(m))


def _emc(state: _LineState, m: Match[str]) -> None:
    if m.group("off"):
        state.reading.emc_load = 0.0
        return
    state.reading.emc_load = _mean(_loads(m))
    frequencies = _frequencies(m)
    state.reading.emc_frequency_hz = frequencies[0] if frequencies else None


def _engine(state: _LineState, m: Match[str]) -> None:
    name = m.group("name")
    if m.group("mhz") is not None:
        frequency: Optional[float] = int(m.group("mhz")) * MHZ
        load = None
    elif m.group("off"):
        state.reading.engines.append(Engine(name, False, None, None))
        return
    else:
        load = _mean(_loads(m))
        frequencies = _frequencies(m)
        frequency = frequencies[0] if frequencies else None
    # Thor prints an idle engine as "@0": its clock is stopped, so it is not active.
    state.reading.engines.append(Engine(name, frequency != 0, load, frequency))


def _temperature(state: _LineState, m: Match[str]) -> None:
    zone, current, highest = m.group(1).lower(), float(m.group(2)), m.group(3)
    if current == OFFLINE_CELSIUS or (zone, current) == PMIC_PLACEHOLDER:
        return
    state.reading.temperatures.append(Temperature(zone, current, float(highest) if highest else None))


def _rail(state: _LineState, m: Match[str]) -> None:
    name, current, average, highest = m.groups()
    if name == "NC":  # an unconnected INA3221 channel, sometimes printed twice
        return
    state.reading.rails.append(Rail(name, float(current) / MILLIWATTS_PER_WATT,
                                    float(average) / MILLIWATTS_PER_WATT,
                                    float(highest) / MILLIWATTS_PER_WATT if highest else None))


_FIELDS: Tuple[Tuple[Pattern[str], Callable[[_LineState, Match[str]], None]], ...] = (
    (_RAM, _ram),
    (_SWAP, _swap),
    (_IRAM, _iram),
    (_CPU, _cpu),
    (_MTS, _mts),
    (_EDP, _edp),
    (_GR3D, _gr3d),
    (_EMC, _emc),
    (_ENGINE, _engine),
    (_TEMPERATURE, _temperature),
    (_RAIL, _rail),  # last: its NAME N/N shape is the most general
)
