"""The console's pure decisions, run by node on the shipped ES modules themselves: how a value in each unit
reads (lib/format.js), which rows a redraw may leave in place (lib/rows.js), how series with their own times
become a chart's columns (lib/charts.js) and which colours a heatmap spans (lib/heatmap.js). The pages that use
them are driven in a real browser by tests/console/."""

import json
import shutil
import subprocess
from typing import Any, NamedTuple

import pytest

from fleetmon.hub.web.dashboard import STATIC_DIR

NODE = shutil.which("node")
NO_VALUE = "\u2013"  # the en dash the console shows for nothing
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (`make console` installs it)")


def call(module: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """Each (function, arguments) of ``calls`` on the module ``module`` (a path under static/), answered as JSON."""
    script = f"""
        import * as module from {json.dumps((STATIC_DIR / module).as_uri())};
        import {{ readFileSync }} from "node:fs";
        const calls = JSON.parse(readFileSync(0, "utf8"));
        const answer = (value) => value instanceof Set ? [...value].sort((a, b) => a - b) : value;
        console.log(JSON.stringify(calls.map(([name, args]) => answer(module[name](...args)))));
    """
    result = subprocess.run([NODE, "--input-type=module", "-e", script], input=json.dumps(calls),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Reading(NamedTuple):
    unit: str
    value: Any
    reads: str
    digits: int | None = None


READINGS = [
    # The overview's look, kept from the dashboard: whole percents and degrees, one decimal under ten.
    pytest.param(Reading("ratio", 0.5, "50%"), id="ratio"),
    pytest.param(Reading("ratio", 0.004, "0%"), id="ratio-rounds-to-whole-percents"),
    pytest.param(Reading("ratio", 0.004, "0.4%", 1), id="ratio-with-the-decimals-an-axis-asks-for"),
    pytest.param(Reading("ratio", -0.001, "0%"), id="no-minus-zero"),  # a rounded tiny negative is no news
    pytest.param(Reading("celsius", 61.4, "61 °C"), id="celsius"),
    pytest.param(Reading("watts", 7.5, "7.5 W"), id="watts-under-ten"),
    pytest.param(Reading("watts", 12.4, "12 W"), id="watts"),
    # Sizes in powers of 1024, rates and frequencies in powers of 1000 (fleetmon.protocol.units).
    pytest.param(Reading("bytes", 512, "512 B"), id="bytes"),
    pytest.param(Reading("bytes", 1536, "1.5 KiB"), id="kibibytes"),
    pytest.param(Reading("bytes", 3.2 * 1024 ** 3, "3.2 GiB"), id="gibibytes"),
    pytest.param(Reading("bytes_per_second", 999, "999 B/s"), id="bytes-per-second"),
    pytest.param(Reading("bytes_per_second", 2510, "2.5 kB/s"), id="kilobytes-per-second"),
    pytest.param(Reading("bytes_per_second", 25_000, "25 kB/s"), id="tens-of-kilobytes-whole"),
    pytest.param(Reading("hertz", 2.0e9, "2.0 GHz"), id="hertz"),
    # Durations as fleetmon.protocol.units writes them, and what a check takes in milliseconds.
    pytest.param(Reading("seconds", 0.012, "12 ms"), id="milliseconds"),
    pytest.param(Reading("seconds", 90, "90 s"), id="seconds"),
    pytest.param(Reading("seconds", 7200, "2.0 h"), id="hours"),
    pytest.param(Reading("seconds", 3 * 86400, "3.0 d"), id="days"),
    pytest.param(Reading("count", 12_345, "12k"), id="count"),
    # No unit (load, processes, a scraped metric): a plain number, whole numbers without decimals.
    pytest.param(Reading("", 0.523, "0.52"), id="plain-small"),
    pytest.param(Reading("", 312, "312"), id="plain-whole"),
    pytest.param(Reading("", 15_000, "15.0k"), id="plain-large"),
    pytest.param(Reading("number", 12.34, "12.3"), id="the-layouts-plain-number"),
    pytest.param(Reading("per_second", 3.5, "3.50/s"), id="a-unitless-counters-rate"),
    # Nothing to show is a dash, never "NaN" or "null".
    pytest.param(Reading("ratio", None, NO_VALUE), id="no-value"),
    pytest.param(Reading("celsius", "hot", NO_VALUE), id="not-a-number"),
]


@pytest.mark.parametrize("reading", READINGS)
def test_a_value_reads_in_its_unit(reading: Reading):
    args = [reading.unit, reading.value] + ([] if reading.digits is None else [reading.digits])
    assert call("lib/format.js", [("format", args)]) == [reading.reads]


def test_a_counters_rate_has_the_unit_of_what_it_counts_per_second():
    # bytes counted: bytes a second; seconds counted (busy time): a share of each second; anything else: per second
    assert call("lib/format.js", [("rateUnit", ["bytes"]), ("rateUnit", ["seconds"]), ("rateUnit", [""])]) == [
        "bytes_per_second", "ratio", "per_second"]


class Reorder(NamedTuple):
    positions: list[int]  # where each row of the new order stands now (-1: a new row)
    staying: list[int]  # the rows of the new order a redraw leaves where they are


REORDERS = [
    # Nothing moved: every row stays.
    pytest.param(Reorder([0, 1, 2, 3], [0, 1, 2, 3]), id="unchanged"),
    # One host turned worst and went to the top: only it moves.
    pytest.param(Reorder([3, 0, 1, 2], [1, 2, 3]), id="one-up"),
    # One host recovered and went down: only it moves (not every row it passed).
    pytest.param(Reorder([1, 2, 3, 0], [0, 1, 2]), id="one-down"),
    # New rows are inserted, never "stay".
    pytest.param(Reorder([-1, 0, -1, 1], [1, 3]), id="new-rows"),
    pytest.param(Reorder([], []), id="empty"),
]


@pytest.mark.parametrize("case", REORDERS)
def test_a_redraw_moves_only_the_rows_outside_the_longest_run_in_order(case: Reorder):
    assert call("lib/rows.js", [("longestIncreasingRun", [case.positions])]) == [case.staying]


def test_series_become_columns_on_the_union_of_their_times_with_breaks_where_a_host_was_silent():
    raw = {"points": [[100, 1], [110, 2], [120, 3], [200, 4], [210, 5]]}  # silent from 120 to 200
    other = {"points": [[110, 7], [210, 8]]}
    [answer] = call("lib/charts.js", [("alignColumns", [[raw, other]])])
    # A null just after the last reading before the silence: the line breaks there, it does not bridge it.
    assert answer["columns"] == [[100, 110, 120, 130, 200, 210], [1, 2, 3, None, 4, 5],
                                 [None, 7, None, None, None, 8]]
    assert answer["bands"] == [None, None]
    rollup = {"points": [[0, 1, 2, 3], [60, 4, 5, 6]]}  # [ts, min, avg, max]: the average, over its band
    [answer] = call("lib/charts.js", [("alignColumns", [[rollup]])])
    assert answer["columns"] == [[0, 60], [2, 5]] and answer["bands"] == [[[1, 4], [3, 6]]]


def test_a_heatmap_spans_percent_for_ratios_and_the_data_otherwise():
    hosts = [{"values": [20, None, 80]}, {"values": [None, 45]}]
    assert call("lib/heatmap.js", [("valueScale", ["ratio", hosts]), ("valueScale", ["celsius", hosts]),
                                   ("valueScale", ["watts", [{"values": [None]}]])]) == [
        [0, 1],  # a ratio is 0 to 100 % whatever the data: the same colour means the same load on every page
        [0, 80],  # from 0 (or below it) to the highest reading
        [0, 1],  # no reading at all: a scale that draws nothing wrong
    ]
