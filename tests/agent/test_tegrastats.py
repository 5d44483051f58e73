"""The tegrastats grammar against real lines from TX1 to Thor, root and non-root."""

import datetime
import re
from pathlib import Path
from typing import List, Tuple

import pytest

from fleetmon.agent.collectors.jetson.reading import Core, Engine, Rail, Temperature
from fleetmon.agent.collectors.jetson.tegrastats import parse_line

DATA = Path(__file__).resolve().parent.parent / "data" / "tegrastats"
MIB = 1024 * 1024
MHZ = 1e6


def _samples() -> List[Tuple[str, str]]:
    """(source comment, line) for every line of the reference samples."""
    samples, source = [], ""
    for raw in (DATA / "reference-samples.txt").read_text(encoding="utf-8").splitlines():
        if raw.startswith("# source:"):
            source = raw
        elif raw.strip() and not raw.startswith("#"):
            samples.append((source, raw))
    return samples


SAMPLES = _samples()
LINES = [line for _, line in SAMPLES]


def sample(fragment: str) -> str:
    """The one reference line that contains ``fragment``."""
    found = [line for line in LINES if fragment in line]
    assert len(found) == 1, fragment
    return found[0]


def _model(source: str) -> str:
    match = re.search(r"model: ([^;(]+)", source)
    return match.group(1).strip() if match else source


def test_the_reference_file_has_lines_from_every_generation():
    assert len(SAMPLES) >= 18


@pytest.mark.parametrize("line", LINES, ids=[_model(s) for s, _ in SAMPLES])
def test_every_reference_line_is_fully_explained(line):
    reading = parse_line(line)
    assert reading.unknown == []
    assert reading.ram is not None and reading.cores


def test_tx1_legacy_cpu_shares_one_clock_and_old_fields_parse():
    reading = parse_line(sample("cpu [2%,5%,8%,11%]@1734"))
    assert reading.timestamp is None
    assert reading.ram.used_bytes == 1104 * MIB and reading.ram.total_bytes == 3995 * MIB
    assert (reading.ram.lfb_blocks, reading.ram.lfb_block_bytes) == (425, 4 * MIB)
    assert reading.cores == [Core(0, True, 0.02, 1734 * MHZ), Core(1, True, 0.05, 1734 * MHZ),
                             Core(2, True, 0.08, 1734 * MHZ), Core(3, True, 0.11, 1734 * MHZ)]
    assert (reading.emc_load, reading.emc_frequency_hz) == (0.0, 1600 * MHZ)
    assert (reading.gpu_load, reading.gpc_frequencies_hz) == (0.0, [998 * MHZ])
    assert reading.edp_limit_hz == 1734 * MHZ
    assert reading.engines == [Engine("AVP", True, 0.01, 115 * MHZ), Engine("NVDEC", True, None, 192 * MHZ),
                               Engine("MSENC", True, None, 192 * MHZ)]


def test_tx1_l4t_28_swap_cache_and_ape_clock():
    reading = parse_line(sample("cpu [17%,11%,65%,0%]@1734"))
    assert reading.swap.used_bytes == 873 * MIB and reading.swap.total_bytes == 8192 * MIB
    assert reading.swap.cached_bytes == 281 * MIB
    assert Engine("APE", True, None, 25 * MHZ) in reading.engines
    assert (reading.gpu_load, reading.gpc_frequencies_hz) == (0.39, [76 * MHZ])


def test_tx2_mts_kilobyte_lfb_pmic_placeholder_and_unitless_rails():
    reading = parse_line(sample("(lfb 1x512kB)"))
    assert (reading.mts_foreground, reading.mts_background) == (0.0, 0.0)
    assert reading.ram.lfb_block_bytes == 512 * 1024
    zones = [t.zone for t in reading.temperatures]
    assert "pmic" not in zones and zones[:2] == ["bcpu", "mcpu"]
    assert Temperature("tdiode", 46.75, None) in reading.temperatures
    assert reading.rails[0] == Rail("VDD_IN", 14.025, 14.416, None)
    assert reading.total_power_watts == 14.025


def test_non_root_lines_have_loads_without_clocks():
    reading = parse_line(sample("EMC_FREQ 0% GR3D_FREQ 0% PLL@42.5C"))
    assert (reading.emc_load, reading.emc_frequency_hz) == (0.0, None)
    assert (reading.gpu_load, reading.gpc_frequencies_hz) == (0.0, [])
    assert reading.mts_foreground is None and reading.engines == []


def test_nano_iram_active_encoder_and_pom_input_rail():
    reading = parse_line(sample("IRAM 0/252kB(lfb 252kB)"))
    assert (reading.iram.used_bytes, reading.iram.total_bytes, reading.iram.lfb_bytes) == (0, 252 * 1024,
                                                                                         252 * 1024)
    assert Engine("NVENC", True, None, 716 * MHZ) in reading.engines
    assert reading.total_power_watts == 4.52  # POM_5V_IN, not the sum


def test_xavier_offline_cores_and_rails_named_like_temperatures():
    reading = parse_line(sample("0%@1190,off,off,off,off] EMC_FREQ 0% GR3D_FREQ 4%"))
    assert reading.cores[3] == Core(3, True, 0.0, 1190 * MHZ)
    assert reading.cores[4:] == [Core(i, False, None, None) for i in range(4, 8)]
    assert reading.gpu_load == 0.04
    assert Temperature("gpu", 26.5, None) in reading.temperatures
    assert Rail("GPU", 0.621, 0.621, None) in reading.rails
    # No input rail on AGX Xavier: the total is the sum of its rails.
    assert reading.total_power_watts == pytest.approx(0.621 + 0.465 + 1.397 + 0 + 0 + 2.053)


def test_agx_orin_jp5_timestamp_per_gpc_tokens_offline_zones_and_nc_rails():
    reading = parse_line(sample("GR3D2_FREQ"))
    assert reading.timestamp == datetime.datetime(2023, 10, 16, 10, 59, 23)
    assert reading.gpc_frequencies_hz == [114 * MHZ, 114 * MHZ]
    assert reading.gpu_load == 0.0
    assert Engine("NVJPG1", True, None, 729 * MHZ) in reading.engines
    assert Engine("VIC", True, None, 729 * MHZ) in reading.engines
    zones = [t.zone for t in reading.temperatures]
    assert zones == ["cpu", "tdiode", "soc2", "soc0", "gpu", "soc1"]  # CV0..2 read -256C: offline
    assert [r.name for r in reading.rails] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]
    assert reading.total_power_watts == pytest.approx(4.788 + 0.798 + 3.842 + 0.707)


def test_agx_orin_jp6_frequency_arrays_and_engine_loads():
    reading = parse_line(sample("NVENC 78%@166"))
    assert (reading.gpu_load, reading.gpc_frequencies_hz) == (0.0, [0.0, 0.0])
    assert Engine("NVENC", True, 0.78, 166 * MHZ) in reading.engines
    assert Engine("NVDEC", False, None, None) in reading.engines
    assert Engine("PVA0", False, None, None) in reading.engines  # PVA0_FREQ off, _FREQ stripped
    assert Rail("VIN_SYS_5V0", 4.607, 4.657, None) in reading.rails


def test_orin_nano_jp6_single_gpc_array():
    reading = parse_line(sample("GR3D_FREQ 0%@[305]"))
    assert reading.gpc_frequencies_hz == [305 * MHZ]
    assert [c.frequency_hz for c in reading.cores] == [729 * MHZ] * 6
    assert reading.total_power_watts == 2.957  # VDD_IN


def test_thor_reports_gpc_clocks_without_load_and_idle_engines_at_zero():
    reading = parse_line(sample("GR3D_FREQ @[0,0,0]"))
    assert reading.gpu_load is None
    assert reading.gpc_frequencies_hz == [0.0, 0.0, 0.0]
    assert len(reading.cores) == 14
    assert Engine("NVENC1", False, None, 0.0) in reading.engines
    assert Engine("VIC", False, None, None) in reading.engines
    assert reading.rails[1] == Rail("VDD_CPU_SOC_MSS", 4.923, 4.544, None)


def test_thor_non_root_has_no_gpu_fields_and_vin_is_the_total():
    reading = parse_line(sample("VIN 16802mW/16802mW"))
    assert reading.swap is None and reading.emc_load is None
    assert reading.gpu_load is None and reading.gpc_frequencies_hz == [] and reading.engines == []
    assert reading.total_power_watts == 16.802


def test_jetpack_7_2_three_value_rails_and_current_max_temperatures():
    reading = parse_line(sample("GR3D_FREQ @[314,314,314]"))
    assert Rail("VDD_CPU_SOC_MSS", 7.953, 8.332, 8.71) in reading.rails
    assert Temperature("cpu", 34.312, 34.843) in reading.temperatures
    assert Engine("NVENC0", True, None, 1556 * MHZ) in reading.engines
    assert Engine("VIC", True, 0.59, 423 * MHZ) in reading.engines
    assert reading.gpc_frequencies_hz == [314 * MHZ] * 3


def test_jetpack_7_2_orin_with_cores_switched_off_by_nvpmodel():
    reading = parse_line(sample("off,off,off,off] EMC_FREQ 2%@2133"))
    assert [c.online for c in reading.cores] == [True] * 8 + [False] * 4
    assert reading.cores[4] == Core(4, True, 0.49, 729 * MHZ)
    assert Engine("NVENC0", False, None, None) in reading.engines
    assert Temperature("soc1", 49.0, 49.0) in reading.temperatures


def test_documented_forms_no_sample_shows():
    reading = parse_line("RAM 1/2GB CPU [5%,off]@1000 EMC_FREQ @1600 GR3D_FREQ off PVA0_FREQ [12%,30%]@704 "
                         "CVNAS 4%@500 SE 80")
    assert reading.unknown == []
    assert reading.ram.total_bytes == 2 * 1024 * MIB
    assert reading.cores == [Core(0, True, 0.05, 1000 * MHZ), Core(1, False, None, None)]
    assert (reading.emc_load, reading.emc_frequency_hz) == (None, 1600 * MHZ)
    assert reading.gpu_load == 0.0
    assert reading.engines == [Engine("PVA0", True, pytest.approx(0.21), 704 * MHZ),
                               Engine("CVNAS", True, 0.04, 500 * MHZ), Engine("SE", True, None, 80 * MHZ)]


def _field_boundaries(line: str) -> List[int]:
    """Offsets where a field surely starts: the CPU field, each temperature, the line's ends."""
    starts = [m.start() for m in re.finditer(r"(?<=\s)(?:CPU \[|cpu \[|[A-Za-z]\w*@-?\d)", line)]
    stamp = re.match(r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d ", line)
    return [stamp.end() if stamp else 0, *starts, len(line)]


@pytest.mark.parametrize("line", LINES, ids=[_model(s) for s, _ in SAMPLES])
def test_an_unknown_engine_is_reported_and_everything_else_still_parses(line):
    expected = parse_line(line)
    for at in _field_boundaries(line):
        changed = parse_line(line[:at] + " FOO_ENGINE 12%@400 " + line[at:])
        assert changed.unknown == ["FOO_ENGINE", "12%@400"]
        changed.unknown = []
        assert changed == expected


@pytest.mark.parametrize("line", LINES, ids=[_model(s) for s, _ in SAMPLES])
def test_runs_of_spaces_and_tabs_change_nothing(line):
    tokens = line.split(" ")
    gaps = [" " * (1 + i % 11) if i % 3 else "\t " for i in range(len(tokens))]
    spaced = "  " + "".join(token + gap for token, gap in zip(tokens, gaps))
    assert parse_line(spaced + "\n") == parse_line(line)


def test_the_padded_jetpack_6_capture():
    line = ("RAM 2448/62840MB (lfb 2x4MB) CPU [0%@2201,0%@2201]  GR3D_FREQ 0%  NVENC      off  NVDEC    off  "
            "NVJPG  off    cpu@42C   VDD_GPU_SOC 4940mW/4940mW")
    reading = parse_line(line)
    assert reading.unknown == []
    assert [e.name for e in reading.engines] == ["NVENC", "NVDEC", "NVJPG"]


def test_text_that_is_no_tegrastats_line_is_reported_not_raised():
    assert parse_line("").unknown == []
    reading = parse_line("tegrastats: need root privileges")
    assert reading.unknown == ["tegrastats:", "need", "root", "privileges"]
    assert reading.ram is None and reading.cores == []


def test_a_line_cut_anywhere_never_raises():
    for line in LINES:
        for end in range(len(line)):
            reading = parse_line(line[:end])
            assert all(token for token in reading.unknown)


def test_an_impossible_date_is_reported_instead_of_read_as_a_timestamp():
    reading = parse_line("13-45-2025 10:00:00 RAM 1/2MB")
    assert reading.timestamp is None
    assert reading.unknown == ["13-45-2025", "10:00:00"]
    assert reading.ram.total_bytes == 2 * MIB
