"""The maintenance calendar on a real SQLite file: windows from the config and the API, kept across a
restart, ended early, asked as a muter and for the SLA's excluded time."""

import pytest

from fleetmon.config_reader import Errors, Node
from fleetmon.hub.maintenance.calendar import MaintenanceCalendar, WindowNotFound, parse_maintenance
from fleetmon.hub.maintenance.windows import WindowError

T0 = 1_800_000_000.0


def configured(*bodies):
    errors = Errors()
    windows = parse_maintenance(Node(list(bodies), "maintenance", errors))
    assert not errors, list(errors)
    return windows


def test_windows_made_and_ended_survive_a_restart(tmp_path):
    path = str(tmp_path / "alerting.db")
    nightly = {"name": "nightly", "groups": ["jetsons"], "starts_at": T0, "ends_at": T0 + 3600}
    calendar = MaintenanceCalendar(path, configured(nightly))
    made = calendar.add({"name": "disk swap", "hosts": ["srv-1"], "starts_at": T0, "ends_at": T0 + 7200,
                         "comment": "ticket 42"}, "ana")
    calendar.end("nightly", T0 + 60)
    calendar.close()

    again = MaintenanceCalendar(path, configured(nightly))
    by_id = {w.id: w for w in again.windows()}
    assert by_id[made.id].created_by == "ana" and by_id[made.id].comment == "ticket 42"
    assert by_id["nightly"].ended_at == T0 + 60
    assert again.reason({"alertname": "HostDown", "host": "srv-1"}, T0 + 100) == "in maintenance window disk swap"
    again.learn_groups({"jet-1": ["jetsons"]})
    assert again.reason({"alertname": "HostDown", "host": "jet-1"}, T0 + 100) == ""  # nightly ended at 60 s
    assert again.reason({"alertname": "HostDown", "host": "jet-1"}, T0 + 30) == "in maintenance window nightly"
    again.end(made.id, T0 + 120)
    again.close()
    assert MaintenanceCalendar(path).windows()[0].ended_at == T0 + 120


def test_ending_twice_or_an_unknown_window_is_refused(tmp_path):
    calendar = MaintenanceCalendar(str(tmp_path / "a.db"))
    made = calendar.add({"name": "w", "hosts": ["a"], "starts_at": T0, "ends_at": T0 + 60}, "ana")
    calendar.end(made.id, T0 + 1)
    with pytest.raises(WindowError, match="already ended"):
        calendar.end(made.id, T0 + 2)
    with pytest.raises(WindowNotFound):
        calendar.end("nope", T0)
    with pytest.raises(WindowError, match="needs hosts, groups or matchers"):
        calendar.add({"name": "everything", "starts_at": T0, "ends_at": T0 + 60}, "ana")


def test_active_ids_follow_the_edges_and_spans_are_per_host():
    calendar = MaintenanceCalendar(None, configured(
        {"name": "a", "hosts": ["h1"], "starts_at": T0, "ends_at": T0 + 60},
        {"name": "b", "groups": ["g"], "starts_at": T0 + 30, "ends_at": T0 + 90},
        {"name": "alerts-only", "matchers": ['alertname="DiskFull"'], "starts_at": T0, "ends_at": T0 + 90}))
    assert calendar.active_ids(T0 - 1) == frozenset()
    assert calendar.active_ids(T0 + 45) == {"a", "b", "alerts-only"}
    assert calendar.active_ids(T0 + 60) == {"b", "alerts-only"}
    # h1 is in a group g too: both windows count; a window of alert matchers only excludes no host's time
    assert sorted(calendar.spans("h1", ("g",), T0 - 100, T0 + 100)) == [(T0, T0 + 60), (T0 + 30, T0 + 90)]
    assert calendar.spans("h2", (), T0 - 100, T0 + 100) == []
