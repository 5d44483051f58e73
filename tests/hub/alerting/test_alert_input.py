"""What an alert, a silence or an ack may carry: times in range, named labels; and rendering that never
fails, even for a time an older hub's journal may still hold."""

import math

import pytest

from fleetmon.hub.alerting.alert import NEVER, Alert, AlertError, TimeRangeError, from_json, parse_time
from fleetmon.hub.alerting.matchers import parse_matcher
from fleetmon.hub.alerting.silences import Silence, SilenceError, Silences, matchers_from_json

NOW = 1_767_225_600.0  # 2026-01-01


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("0001-01-01T00:00:00Z", None),  # unset, as Alertmanager reads them
    (0, 0.0), (NOW, NOW), (7258118400, 7258118400.0),  # the edges of the range are in it
    ("2026-01-01T00:00:00.123456789Z", NOW + 0.123456), ("2026-01-01T01:00:00+01:00", NOW),
])
def test_times_in_range_are_read(value, expected):
    assert parse_time(value, "t") == expected


@pytest.mark.parametrize("value, error", [
    (2.6e16, TimeRangeError), (-1e12, TimeRangeError), (-0.5, TimeRangeError), (7258118401, TimeRangeError),
    (2**64, TimeRangeError), pytest.param(10**5000, TimeRangeError, id="10**5000"),  # beyond float and repr()
    (math.nan, TimeRangeError), (math.inf, TimeRangeError),
    ("9999-12-31T23:59:59Z", TimeRangeError), ("1500-01-01T00:00:00Z", TimeRangeError),
    ("2026-01-01T00:00:00", AlertError), ("soon", AlertError), (True, AlertError), ([1], AlertError),
])
def test_times_out_of_range_or_malformed_are_refused(value, error):
    with pytest.raises(error) as raised:
        parse_time(value, "endsAt")
    assert str(raised.value).startswith("endsAt ") and len(str(raised.value)) < 200


@pytest.mark.parametrize("item, message", [
    ({"labels": {"a": "b"}, "endsAt": 2.6e16}, "endsAt 2.6e+16 is outside"),
    ({"labels": {"a": "b"}, "startsAt": -1e12}, "startsAt -1000000000000.0 is outside"),
    ({"labels": {"": "b", "a": "c"}}, "a label name must not be empty"),
    ({"labels": {"a": "b"}, "annotations": {"": "x"}}, "an annotation name must not be empty"),
])
def test_alerts_with_bad_fields_are_refused_naming_the_field(item, message):
    with pytest.raises(AlertError) as raised:
        from_json(item, NOW, 300.0)
    assert message in str(raised.value)


def test_silences_and_their_matchers_are_checked_before_they_are_stored():
    silences = Silences()
    matchers = (parse_matcher('a="b"'),)
    with pytest.raises(SilenceError, match="within"):
        silences.set(Silence("", matchers, NOW, 1e300, "ops", "why"), NOW)
    with pytest.raises(SilenceError, match="matchers must be a list"):
        matchers_from_json({"name": "a", "value": "b"})
    with pytest.raises(SilenceError, match="invalid regular expression"):
        matchers_from_json(['a=~"' + "(" * 3000 + ")" * 3000 + '"'])
    assert silences.by_id == {}


def test_a_time_out_of_range_renders_as_the_nearest_end_of_the_range():
    # Only a journal written before these checks can still hold one; a page listing it must not fail.
    far = Alert({"a": "b"}, {}, -1e12, 2.6e16, updated_at=math.nan, fingerprint="f")
    shown = far.to_json(NOW)
    assert (shown["startsAt"], shown["endsAt"], shown["updatedAt"]) == (
        "1970-01-01T00:00:00.000000Z", "2200-01-01T00:00:00.000000Z", "1970-01-01T00:00:00.000000Z")
    assert Alert({"a": "b"}, {}, NOW, NEVER).to_json(NOW)["endsAt"] == "0001-01-01T00:00:00Z"
    silence = Silence("s", (parse_matcher('a="b"'),), -1e12, 1e300, "ops", "why").to_json(NOW)
    assert silence["endsAt"] == "2200-01-01T00:00:00.000000Z"
