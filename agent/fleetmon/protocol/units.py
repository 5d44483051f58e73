"""Units: how a value in each unit a metric may have is shown to people, in Grafana, in Prometheus alert
templates and on the hub's dashboard page.

The metric catalogue (fleetmon.protocol.catalog) gives every metric its unit; every renderer asks
``unit_of(metric)`` and reads that unit's row of ``UNITS``, so a unit is written once and the agent's alert
text, the Grafana panels, the Prometheus rules and the hub's page cannot disagree about it. A metric the
catalogue does not know (an application metric the agent scraped) gets the unit its name's suffix
announces by Prometheus naming (``queue_bytes``: bytes); any other name, ``_total`` counters included, is
a plain number.
"""

from typing import Callable, Dict, NamedTuple, Tuple

from fleetmon.protocol import catalog


class Unit(NamedTuple):
    name: str  # the catalogue's name of the unit ("" for none)
    for_people: Callable[[float], str]  # 97.0%, 81.5 °C, 12.3 W, 3.2 GiB
    grafana: str  # Grafana's unit id
    alert_value: str  # a Prometheus alert template that prints {{ $value }} as for_people does
    hub_page: str  # the name the console's format() (static/lib/format.js) knows it by; "number": a plain number
    rate: str = ""  # the unit of its per-second rate, for units a panel draws rates of


def _scaled(value: float, base: float, units: Tuple[str, ...]) -> str:
    for unit in units[:-1]:
        if abs(value) < base:
            return f"{round(value, 1):g} {unit}"
        value /= base
    return f"{round(value, 1):g} {units[-1]}"


def _duration(value: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if abs(value) >= 2 * size:
            return f"{value / size:.1f}{unit}"
    return f"{round(value, 3):g}s"


BYTES_PER_SECOND = "bytes_per_second"
_UNITS = (
    Unit(catalog.RATIO, lambda value: f"{value * 100.0:.1f}%", "percentunit", "{{ $value | humanizePercentage }}",
         "ratio"),
    Unit(catalog.CELSIUS, lambda value: f"{value:.1f} °C", "celsius", '{{ printf "%.1f" $value }} °C', "celsius"),
    Unit(catalog.WATTS, lambda value: f"{value:.1f} W", "watt", '{{ printf "%.1f" $value }} W', "watts"),
    # Sizes in powers of 1024 (GiB) as Grafana's "bytes" and humanize1024 print them; transfer rates in
    # powers of 1000 (MB/s) as Grafana's "Bps" and the hub's page print them.
    Unit(catalog.BYTES, lambda value: _scaled(value, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB")), "bytes",
         "{{ $value | humanize1024 }}B", "number", rate=BYTES_PER_SECOND),
    Unit(BYTES_PER_SECOND, lambda value: _scaled(value, 1000.0, ("B/s", "kB/s", "MB/s", "GB/s", "TB/s")), "Bps",
         "{{ $value | humanize }}B/s", BYTES_PER_SECOND),
    Unit(catalog.HERTZ, lambda value: _scaled(value, 1000.0, ("Hz", "kHz", "MHz", "GHz", "THz")), "hertz",
         "{{ $value | humanize }}Hz", "number"),
    Unit(catalog.SECONDS, _duration, "s", "{{ $value | humanizeDuration }}", "number"),
    Unit(catalog.NO_UNIT, lambda value: f"{value:g}", "none", "{{ $value }}", "number"),
)
UNITS: Dict[str, Unit] = {unit.name: unit for unit in _UNITS}
#: Units a scraped metric's name may announce, by suffix.
_SUFFIXES = tuple(("_" + name, UNITS[name]) for name in catalog.UNIT_NAMES if name)


def unit_of(metric: str) -> Unit:
    """The metric's unit: the catalogue's, else the one its name's suffix announces, else none."""
    spec = catalog.BY_NAME.get(metric)
    if spec is not None:
        return UNITS[spec.unit]
    return next((unit for suffix, unit in _SUFFIXES if metric.endswith(suffix)), UNITS[catalog.NO_UNIT])


def rate_of(unit: Unit) -> Unit:
    """The unit of a per-second rate of a counter in ``unit``."""
    if not unit.rate:
        raise ValueError(f"no unit is known for a per-second rate of {unit.name or 'a unitless counter'}")
    return UNITS[unit.rate]


def format_value(metric: str, value: float) -> str:
    """A value in its metric's unit, for people: 97.0%, 81.5 °C, 12.3 W, 3.2 GiB."""
    return unit_of(metric).for_people(value)
