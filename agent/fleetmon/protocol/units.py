"""Values for people, in the unit their metric announces."""

from typing import Tuple


def format_value(metric: str, value: float) -> str:
    """A value in the unit its metric name announces, for people: 97.0%, 81.5 °C, 12.3 W, 3.2 GiB."""
    if metric.endswith("_ratio"):
        return f"{value * 100.0:.1f}%"
    if metric.endswith("_celsius"):
        return f"{value:.1f} °C"
    if metric.endswith("_watts"):
        return f"{value:.1f} W"
    if metric.endswith("_bytes"):
        return _scaled(value, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"))
    if metric.endswith("_hertz"):
        return _scaled(value, 1000.0, ("Hz", "kHz", "MHz", "GHz", "THz"))
    if metric.endswith("_seconds"):
        for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
            if abs(value) >= 2 * size:
                return f"{value / size:.1f}{unit}"
        return f"{round(value, 3):g}s"
    return f"{value:g}"


def _scaled(value: float, base: float, units: Tuple[str, ...]) -> str:
    for unit in units[:-1]:
        if abs(value) < base:
            return f"{round(value, 1):g} {unit}"
        value /= base
    return f"{round(value, 1):g} {units[-1]}"
