"""Named time intervals: Alertmanager's matching at exact instants, and errors that name their key path."""

import calendar
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.alerting.timeintervals import TimeIntervals, merge, parse_time_intervals


def parse(text, path="time_intervals"):
    errors = Errors()
    intervals = parse_time_intervals(Node(yaml.safe_load(text), path, errors))
    return intervals, list(errors)


def one(spec_yaml):
    """The named interval 'x' holding the single spec given as YAML flow text."""
    intervals, errors = parse(f"[{{name: x, time_intervals: [{spec_yaml}]}}]")
    assert errors == []
    return lambda *args: intervals.active("x", utc(*args))


def utc(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp()


def errors_of(spec_yaml):
    return parse(f"[{{name: x, time_intervals: [{spec_yaml}]}}]")[1]


# --- matching -------------------------------------------------------------------------------------------------


def test_times_include_the_start_and_exclude_the_end():
    active = one("{times: [{start_time: '09:00', end_time: '17:30'}]}")
    assert not active(2026, 1, 5, 8, 59, 59)
    assert active(2026, 1, 5, 9, 0, 0)
    assert active(2026, 1, 5, 17, 29, 59)
    assert not active(2026, 1, 5, 17, 30, 0)


def test_a_day_ends_at_2400_and_starts_at_0000():
    active = one("{times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '01:00'}]}")
    assert not active(2026, 1, 5, 21, 59, 59)
    assert active(2026, 1, 5, 22, 0) and active(2026, 1, 5, 23, 59, 59)
    assert active(2026, 1, 6, 0, 0) and active(2026, 1, 6, 0, 59, 59)
    assert not active(2026, 1, 6, 1, 0)


def test_unquoted_times_as_in_alertmanagers_docs_read_the_same():
    # PyYAML reads 17:00 as the base-60 number 1020; 09:00 (leading zero) stays text.
    intervals, errors = parse("""
- name: office
  time_intervals:
    - times:
      - start_time: 09:00
        end_time: 17:00
""")
    assert errors == []
    assert intervals.active("office", utc(2026, 1, 5, 16, 59)) and not intervals.active("office", utc(2026, 1, 5, 17))


def test_weekday_ranges_are_inclusive_and_names_case_insensitive():
    active = one("{weekdays: ['Monday:friday', 'SUNDAY']}")
    # 2026-01-04 is a Sunday, 2026-01-10 a Saturday.
    assert datetime(2026, 1, 4).strftime("%A") == "Sunday"
    assert [active(2026, 1, day, 12) for day in range(4, 11)] == [True, True, True, True, True, True, False]
    assert not active(2026, 1, 10, 23, 59, 59) and active(2026, 1, 11, 0, 0)


def test_the_last_day_of_february_counts_back_from_the_month_end():
    active = one("{days_of_month: ['-1']}")
    assert active(2024, 2, 29, 0, 0) and not active(2024, 2, 28, 23, 59, 59)  # leap year
    assert active(2025, 2, 28, 12) and not active(2025, 2, 27, 12)
    assert not active(2025, 3, 1, 0, 0)
    assert active(2025, 4, 30) and active(2025, 12, 31, 23, 59, 59) and not active(2025, 12, 30)


def test_day_ranges_with_negative_and_mixed_ends():
    last_three = one("{days_of_month: ['-3:-1']}")
    assert [last_three(2025, 2, d) for d in (25, 26, 27, 28)] == [False, True, True, True]
    assert [last_three(2024, 2, d) for d in (26, 27, 28, 29)] == [False, True, True, True]
    whole_month = one("{days_of_month: ['1:-1']}")
    assert all(whole_month(2025, 2, d) for d in range(1, 29)) and whole_month(2025, 1, 31)
    first_week = one("{days_of_month: ['1:7', '15']}")
    assert [first_week(2025, 5, d) for d in (1, 7, 8, 14, 15, 16)] == [True, True, False, False, True, False]


def test_days_past_the_end_of_a_short_month_are_cut_off_or_never_match():
    late = one("{days_of_month: ['25:31']}")
    assert late(2025, 2, 28) and not late(2025, 3, 1) and late(2025, 3, 31)
    thirtieth = one("{days_of_month: [30]}")
    assert not any(thirtieth(2024, 2, d) for d in range(1, 30)) and thirtieth(2024, 4, 30)
    all_of_february = one("{days_of_month: ['-31:-1']}")
    assert all(all_of_february(2025, 2, d) for d in range(1, 29))


def test_months_by_name_and_number_and_years():
    # Unquoted 2025:2026 stays text: base-60 digits after the colon only go to 59.
    active = one("{months: ['january:march', '7', 'December', '10:11'], years: [2025:2026, 2030]}")
    expected = [True, True, True, False, False, False, True, False, False, True, True, True]
    assert [active(2025, m, 15) for m in range(1, 13)] == expected
    assert active(2026, 3, 31, 23, 59, 59) and not active(2026, 4, 1)
    assert not active(2024, 12, 31, 23, 59, 59) and active(2025, 1, 1) and not active(2027, 1, 1)
    assert active(2030, 7, 1) and not active(2029, 7, 1)


def test_fields_of_one_spec_must_all_match_and_any_spec_will_do():
    intervals, errors = parse("""
- name: weekend-or-nights
  time_intervals:
    - weekdays: [saturday, sunday]
    - times: [{start_time: '00:00', end_time: '06:00'}]
      weekdays: ['monday:friday']
- name: always
  time_intervals: [{}]
- name: never
  time_intervals: []
""")
    assert errors == []
    assert intervals.names() == ["weekend-or-nights", "always", "never"]
    active = intervals.active
    assert active("weekend-or-nights", utc(2026, 1, 10, 14))  # Saturday afternoon
    assert active("weekend-or-nights", utc(2026, 1, 7, 5, 59))  # Wednesday night
    assert not active("weekend-or-nights", utc(2026, 1, 7, 6, 0))
    assert active("always", utc(1999, 1, 1)) and not active("never", utc(2026, 1, 1))
    assert "always" in intervals and "sometimes" not in intervals
    with pytest.raises(KeyError):
        intervals.active("sometimes", 0.0)


def test_location_follows_berlin_across_the_spring_change():
    office = one("{times: [{start_time: '09:00', end_time: '17:00'}], location: Europe/Berlin}")
    assert not office(2026, 3, 28, 7, 59, 59) and office(2026, 3, 28, 8, 0)  # CET, UTC+1
    assert office(2026, 3, 28, 15, 59, 59) and not office(2026, 3, 28, 16, 0)
    assert not office(2026, 3, 30, 6, 59, 59) and office(2026, 3, 30, 7, 0)  # CEST, UTC+2
    assert office(2026, 3, 30, 14, 59, 59) and not office(2026, 3, 30, 15, 0)
    # On 2026-03-29 the clocks jump from 02:00 to 03:00 (01:00 UTC): no instant of that day reads 02:xx.
    skipped = one("{times: [{start_time: '02:00', end_time: '03:00'}], location: Europe/Berlin}")
    start = utc(2026, 3, 28, 22)
    assert not any(skipped(*_fields(start + minute * 60)) for minute in range(0, 26 * 60))
    assert skipped(2026, 3, 30, 0, 30)  # 02:30 CEST the next night


def test_location_follows_berlin_across_the_autumn_change():
    # On 2026-10-25 02:00-03:00 happens twice: 00:00-01:00 UTC (CEST), then 01:00-02:00 UTC (CET).
    twice = one("{times: [{start_time: '02:00', end_time: '03:00'}], location: Europe/Berlin}")
    assert not twice(2026, 10, 24, 23, 59, 59)
    assert twice(2026, 10, 25, 0, 0) and twice(2026, 10, 25, 0, 59, 59)
    assert twice(2026, 10, 25, 1, 0) and twice(2026, 10, 25, 1, 59, 59)
    assert not twice(2026, 10, 25, 2, 0)


def test_location_moves_weekday_day_and_year_boundaries():
    new_year_in_auckland = one("{days_of_month: ['1'], months: [january], years: ['2026'], "
                               "weekdays: [thursday], location: Pacific/Auckland}")
    # 2026-01-01 00:00 in Auckland (NZDT, UTC+13) is 2025-12-31 11:00 UTC.
    assert not new_year_in_auckland(2025, 12, 31, 10, 59, 59)
    assert new_year_in_auckland(2025, 12, 31, 11, 0)
    assert not new_year_in_auckland(2026, 1, 1, 11, 0)


@pytest.fixture
def new_york_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_local_means_the_hosts_time_zone(new_york_local_time):
    active = one("{times: [{start_time: '09:00', end_time: '10:00'}], location: Local}")
    assert active(2026, 1, 5, 14, 0) and not active(2026, 1, 5, 9, 0)  # EST, UTC-5
    assert one("{times: [{start_time: '09:00', end_time: '10:00'}], location: UTC}")(2026, 1, 5, 9, 0)


def _fields(when):
    t = datetime.fromtimestamp(when, timezone.utc)
    return t.year, t.month, t.day, t.hour, t.minute, t.second


INSTANTS = st.integers(min_value=0, max_value=int(utc(2100, 1, 1)))


@given(INSTANTS, st.integers(0, 1439), st.integers(1, 1440))
def test_times_match_exactly_the_minutes_in_range(when, start, length):
    end = min(start + length, 1440)
    active = one(f"{{times: [{{start_time: '{start // 60:02d}:{start % 60:02d}', "
                 f"end_time: '{end // 60:02d}:{end % 60:02d}'}}]}}")
    minute = (when % 86400) // 60
    assert active(*_fields(when)) == (start <= minute < end)


@given(INSTANTS, st.integers(1, 31))
def test_minus_k_is_the_kth_day_counted_back_from_the_month_end(when, k):
    active = one(f"{{days_of_month: ['-{k}']}}")
    t = datetime.fromtimestamp(when, timezone.utc)
    # Independent of calendar.monthrange: k days on we are in a later month, k-1 days on we are not.
    k_on, k_minus_one_on = t + timedelta(days=k), t + timedelta(days=k - 1)
    assert active(*_fields(when)) == (k_on.month != t.month and k_minus_one_on.month == t.month)
    assert calendar.monthrange(t.year, t.month)[1] >= t.day


# --- errors ---------------------------------------------------------------------------------------------------

P = "time_intervals[0].time_intervals[0]"


@pytest.mark.parametrize("spec, expected", [
    ("{weekdays: [mondey]}", f"{P}.weekdays[0]: unknown weekday 'mondey'"),
    ("{weekdays: ['monday', 'saturday:sunday']}", f"{P}.weekdays[1]: range 'saturday:sunday' ends before it starts"),
    ("{weekdays: [1]}", f"{P}.weekdays[0]: unknown weekday '1'"),
    ("{weekdays: ['monday:tuesday:friday']}", f"{P}.weekdays[0]: 'monday:tuesday:friday' is not a weekday"),
    ("{weekdays: monday}", f"{P}.weekdays: must be a list"),
    ("{weekdays: [[monday]]}", f"{P}.weekdays[0]: must be a weekday"),
    ("{days_of_month: ['0']}", f"{P}.days_of_month[0]: unknown day of the month '0'"),
    ("{days_of_month: ['32']}", f"{P}.days_of_month[0]: unknown day of the month '32'"),
    ("{days_of_month: ['-32:-1']}", f"{P}.days_of_month[0]: unknown day of the month '-32'"),
    ("{days_of_month: ['-3:2']}", f"{P}.days_of_month[0]: range '-3:2' starts counting from the end"),
    ("{days_of_month: ['5:1']}", f"{P}.days_of_month[0]: range '5:1' ends before it starts"),
    ("{days_of_month: ['-1:-3']}", f"{P}.days_of_month[0]: range '-1:-3' ends before it starts"),
    ("{days_of_month: ['30:-1']}", f"{P}.days_of_month[0]: range '30:-1' ends before it starts"),
    ("{days_of_month: ['1:x']}", f"{P}.days_of_month[0]: unknown day of the month 'x'"),
    ("{days_of_month: [1:5]}", f"{P}.days_of_month[0]: unknown day of the month '65'"),
    ("{months: [jan]}", f"{P}.months[0]: unknown month 'jan'"),
    ("{months: ['13']}", f"{P}.months[0]: unknown month '13'"),
    ("{months: ['march:january']}", f"{P}.months[0]: range 'march:january' ends before it starts"),
    ("{years: ['2022:2020']}", f"{P}.years[0]: range '2022:2020' ends before it starts"),
    ("{months: [1:3]}", f"{P}.months[0]: unknown month '63'"),
    ("{years: ['0']}", f"{P}.years[0]: unknown year '0'"),
    ("{years: ['twenty']}", f"{P}.years[0]: unknown year 'twenty'"),
    ("{times: [{start_time: '9:00', end_time: '17:00'}]}", f"{P}.times[0].start_time: '9:00' is not a time"),
    ("{times: [{start_time: '09:00', end_time: '24:01'}]}", f"{P}.times[0].end_time: '24:01' is not a time"),
    ("{times: [{start_time: '09:60', end_time: '17:00'}]}", f"{P}.times[0].start_time: '09:60' is not a time"),
    ("{times: [{start_time: '24:00', end_time: '24:00'}]}", f"{P}.times[0].start_time: 24:00 is only valid"),
    ("{times: [{start_time: '10:00', end_time: '10:00'}]}",
     f"{P}.times[0]: start_time '10:00' must be before end_time '10:00'"),
    ("{times: [{start_time: '17:00', end_time: '09:00'}]}",
     f"{P}.times[0]: start_time '17:00' must be before end_time '09:00'"),
    ("{times: [{start_time: '09:00'}]}", f"{P}.times[0].end_time: required"),
    ("{times: [{start_time: '09:00', end_time: '10:00', end: '11:00'}]}", f"{P}.times[0].end: unknown key"),
    ("{times: ['09:00-17:00']}", f"{P}.times[0]: must be a mapping"),
    ("{location: Mars/Olympus}", f"{P}.location: unknown time zone 'Mars/Olympus'"),
    ("{location: ../etc/passwd}", f"{P}.location: unknown time zone '../etc/passwd'"),
    ("{location: 1}", f"{P}.location: must be a string"),
    ("{weekday: [monday]}", f"{P}.weekday: unknown key"),
    ("{time_zone: UTC}", f"{P}.time_zone: unknown key"),
])
def test_each_kind_of_bad_input_names_its_key_path(spec, expected):
    errors = errors_of(spec)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_a_range_read_as_a_base_60_number_says_to_quote_it():
    assert "quote it: '1:5'" in errors_of("{days_of_month: [1:5]}")[0]


def test_entries_need_a_unique_name_and_only_known_keys():
    intervals, errors = parse("""
- name: a
  time_intervals: [{weekdays: [monday]}]
- time_intervals: []
- name: a
  time_intervals: []
- name: b
  mute: true
- name: ''
- 7
- name: [c]
""")
    assert errors == [
        "time_intervals[1].name: required: the name routes refer to",
        "time_intervals[2].name: duplicate time interval name 'a'",
        "time_intervals[3].mute: unknown key (expected one of: name, time_intervals)",
        "time_intervals[4].name: required: the name routes refer to",
        "time_intervals[5]: must be a mapping",
        "time_intervals[6].name: must be a string",
    ]
    assert intervals.names() == ["a", "b"]
    assert intervals.active("a", utc(2026, 1, 5)) and not intervals.active("a", utc(2026, 1, 6))
    assert parse("")[1] == [] and parse("")[0].names() == []
    assert parse("{name: a}")[1] == ["time_intervals: must be a list"]


def test_merge_joins_both_lists_and_refuses_a_name_in_both():
    current, errors = parse("[{name: a, time_intervals: [{weekdays: [monday]}]}, {name: b, time_intervals: []}]")
    old, old_errors = parse("[{name: c, time_intervals: [{}]}, {name: a, time_intervals: [{}]}]",
                            "mute_time_intervals")
    assert errors == old_errors == []
    merge_errors = Errors()
    merged = merge(current, old, Node(None, "mute_time_intervals", merge_errors))
    assert merged.names() == ["a", "b", "c"]
    assert list(merge_errors) == ["mute_time_intervals: duplicate time interval name 'a' (defined in both "
                                  "time_intervals and mute_time_intervals)"]
    assert not merged.active("a", utc(2026, 1, 6))  # the first definition stands
    assert merged.active("c", 0.0)
    clean = Errors()
    assert merge(TimeIntervals(), current, Node(None, "", clean)).names() == ["a", "b"] and clean == []
