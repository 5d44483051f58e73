"""Temperatures of hwmon sensors and thermal zones, one series per sensor.

hwmon sensors are read as psutil.sensors_temperatures and lm-sensors find them:
/sys/class/hwmon/hwmonN/tempM_input (or, on older kernels, below hwmonN/device/), named after the
chip's ``name`` and the sensor's ``tempM_label``. Thermal zones (/sys/class/thermal/thermal_zoneN) are
read for the sensors hwmon does not show: the kernel gives ACPI zones a hwmon twin of the same name, but
none to device-tree zones, which is every zone of a Jetson.

A zone that is powered down (a Jetson's CV cluster at idle) fails the read or reads -256 °C; it is left
out until it reads a temperature again.
"""

import os
import re
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from fleetmon.protocol.metricset import MetricSet

# Offline Jetson zones read -256 and a disconnected probe may read 255 or -273; none of those is a
# temperature anything here can have.
TEMPERATURE_RANGE = (-60.0, 200.0)


class HwmonReading(NamedTuple):  # the fields of psutil's sensors_temperatures() entries used here
    label: str
    current: Optional[float]


def zone_name(*parts: str) -> str:
    """A label value for a sensor: lower case, runs of other characters as '_'.

    The kernel names the hwmon twin of a thermal zone this way ('CPU-therm' becomes 'cpu_therm'), so
    the same sensor found both ways gets the same name.
    """
    return re.sub(r"[^a-z0-9]+", "_", "_".join(part for part in parts if part).lower()).strip("_")


def _unique(name: str, taken: Mapping[str, object]) -> str:
    if name not in taken:
        return name
    suffix = 2
    while f"{name}_{suffix}" in taken:
        suffix += 1
    return f"{name}_{suffix}"


def _plausible(celsius: float) -> bool:
    return TEMPERATURE_RANGE[0] < celsius < TEMPERATURE_RANGE[1]


def _read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError:
        return None


def read_hwmon(hwmon_dir: str) -> Dict[str, List[HwmonReading]]:
    """The temperature sensors of each hwmon chip, by chip name, in path order (as psutil lists them)."""
    sensors: List[str] = []
    try:
        chips = [entry for entry in os.listdir(hwmon_dir) if entry.startswith("hwmon")]
    except FileNotFoundError:
        return {}
    for chip in chips:
        for directory in (f"{hwmon_dir}/{chip}", f"{hwmon_dir}/{chip}/device"):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            sensors += {f"{directory}/{name.split('_')[0]}" for name in names
                        if name.startswith("temp") and "_" in name}
    out: Dict[str, List[HwmonReading]] = {}
    for sensor in sorted(sensors):
        reading = _read_text(sensor + "_input")
        chip_name = _read_text(os.path.dirname(sensor) + "/name")
        if reading is None or chip_name is None:
            continue  # no reading now, or a sensor without an input
        try:
            current = float(reading) / 1000.0
        except ValueError:
            continue
        label = (_read_text(sensor + "_label") or "").strip()
        out.setdefault(chip_name.strip(), []).append(HwmonReading(label, current))
    return out


def hwmon_temperatures(sensors: Mapping[str, Sequence[HwmonReading]]) -> Dict[str, float]:
    """Zones from hwmon readings: 'chip' or 'chip_label', numbered when repeated
    (two NVMe drives both report a 'nvme' chip with a 'Composite' sensor)."""
    out: Dict[str, float] = {}
    for chip, entries in sensors.items():
        for entry in entries:
            if entry.current is None or not _plausible(entry.current):
                continue
            out[_unique(zone_name(chip, entry.label), out)] = float(entry.current)
    return out


def thermal_zones(thermal_dir: str) -> List[Tuple[str, str]]:
    """(temperature file, zone name) of each thermal zone, names numbered when repeated."""
    zones: Dict[str, str] = {}
    try:
        entries = sorted(os.listdir(thermal_dir), key=lambda entry: (len(entry), entry))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.startswith("thermal_zone"):
            continue
        try:
            with open(os.path.join(thermal_dir, entry, "type"), encoding="utf-8") as handle:
                kind = handle.read().strip()
        except OSError:
            continue
        zones[_unique(zone_name(kind) or entry, zones)] = os.path.join(thermal_dir, entry, "temp")
    return [(path, name) for name, path in zones.items()]


def read_thermal_zones(zones: Iterable[Tuple[str, str]], skip: Mapping[str, object]) -> Dict[str, float]:
    """Temperatures of the zones not already in ``skip`` (their hwmon twins)."""
    out: Dict[str, float] = {}
    for path, name in zones:
        if name in skip:
            continue
        try:
            with open(path, "rb") as handle:
                celsius = int(handle.read()) / 1000.0
        except (OSError, ValueError):
            continue  # offline zones fail the read (EINVAL, ENODATA, EAGAIN)
        if _plausible(celsius):
            out[name] = celsius
    return out


class ThermalSource:
    def __init__(self, sys: str) -> None:
        self._hwmon_dir = sys + "/class/hwmon"
        self._thermal_dir = sys + "/class/thermal"
        self._zones: List[Tuple[str, str]] = []

    def refresh(self) -> None:
        """Read the zone list again (it changes rarely; collect() reads the last one found)."""
        self._zones = thermal_zones(self._thermal_dir)

    def collect(self, out: MetricSet) -> None:
        zones = hwmon_temperatures(read_hwmon(self._hwmon_dir))
        zones.update(read_thermal_zones(self._zones, skip=zones))
        for zone, celsius in zones.items():
            out.add("fleetmon_temperature_celsius", celsius, {"zone": zone})
