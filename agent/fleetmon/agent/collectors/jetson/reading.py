"""One Jetson reading in base units, whichever source (tegrastats line or jtop) produced it.

Both sources fill the same value so that one mapping (``metrics.add_reading``) names every series.
Sizes are bytes, clocks hertz, power watts, temperatures Celsius, loads 0..1 ratios. ``None`` means
the source did not report the value, which is different from zero.
"""

import datetime
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional, Sequence


class Ram(NamedTuple):
    used_bytes: float
    total_bytes: float
    lfb_blocks: Optional[int]  # free blocks of the largest contiguous size
    lfb_block_bytes: Optional[float]  # that size


class Swap(NamedTuple):
    used_bytes: float
    total_bytes: float
    cached_bytes: Optional[float]


class Iram(NamedTuple):
    used_bytes: float
    total_bytes: float
    lfb_bytes: Optional[float]


class Core(NamedTuple):
    index: int  # cpuN, from 0
    online: bool
    load: Optional[float]
    frequency_hz: Optional[float]


class Engine(NamedTuple):
    name: str  # as printed, without _FREQ: "NVENC", "NVENC0", "PVA0", "APE"
    active: bool
    load: Optional[float]
    frequency_hz: Optional[float]


class Temperature(NamedTuple):
    zone: str  # lower case
    celsius: float
    max_celsius: Optional[float]  # highest since tegrastats started (JetPack 7.2 lines only)


class Rail(NamedTuple):
    name: str
    watts: float
    average_watts: Optional[float]
    max_watts: Optional[float]


class Fan(NamedTuple):
    name: str
    speed: float  # PWM duty, 0..1


#: Rails that measure the whole module input, best first (jetson-stats' rule, extended with Thor's VIN).
INPUT_RAILS = ("VIN", "POM_5V_IN", "VDD_IN")


def total_power(rails: Sequence[Rail]) -> Optional[float]:
    """The module input power: the input rail where the board has one, else the sum of all rails.

    Boards such as AGX Xavier and AGX Orin have no input rail, so their rails are summed; that misses
    carrier-board consumption but is what jtop reports as well.
    """
    if not rails:
        return None
    by_name = {rail.name: rail.watts for rail in rails}
    for name in INPUT_RAILS:
        if name in by_name:
            return by_name[name]
    return sum(by_name.values())


@dataclass
class JetsonReading:
    timestamp: Optional[datetime.datetime] = None  # the line's own clock (local, naive), JetPack 5+
    ram: Optional[Ram] = None
    swap: Optional[Swap] = None
    iram: Optional[Iram] = None
    cores: List[Core] = field(default_factory=list)
    edp_limit_hz: Optional[float] = None
    mts_foreground: Optional[float] = None
    mts_background: Optional[float] = None
    emc_load: Optional[float] = None
    emc_frequency_hz: Optional[float] = None
    gpu_load: Optional[float] = None
    gpc_frequencies_hz: List[float] = field(default_factory=list)  # index = GPC number
    engines: List[Engine] = field(default_factory=list)
    temperatures: List[Temperature] = field(default_factory=list)
    rails: List[Rail] = field(default_factory=list)
    total_power_watts: Optional[float] = None
    fans: List[Fan] = field(default_factory=list)
    jetson_clocks: Optional[bool] = None
    nvpmodel: Optional[str] = None
    #: Tokens of a tegrastats line that no field of the grammar explains, in line order.
    unknown: List[str] = field(default_factory=list)
