"""`fleetmon incident ...` (fleetmon.hub.incidents.cli) against a hub-like HTTP server: the incident routes on a
real uvicorn on a free port, called through the real client (fleetmon.hub.client), the handler given the
Namespace the command's parser makes."""

import json
from argparse import Namespace
from typing import Any

import pytest

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from fleetmon.hub.incidents.cli import incident
from tests.conftest import free_port
from tests.hub.standin import Served


@pytest.fixture
def hub(app):
    served = Served(app)
    yield served.url
    served.stop()


def run(hub: str, command: str, **flags: Any) -> int:
    """The handler, as `fleetmon incident COMMAND --hub URL --by bob ...` calls it."""
    defaults = {"list": {"state": None, "since": None, "limit": 500, "json": False}, "show": {"json": False},
                "ack": {"comment": None}, "resolve": {"comment": None},
                "postmortem": {"summary": None, "root_cause": None, "impact": None, "resolution": None,
                               "follow_up": None, "owner": None}}
    return incident(Namespace(incident_command=command, hub=hub, token=None, token_file=None, ca_file=None,
                              timeout=5.0, by="bob", **{**defaults.get(command, {}), **flags}))


def test_list_prints_a_table_or_json(hub, capsys):
    assert run(hub, "list") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "SEVERITY", "TITLE", "ASSIGNEE", "OPENED"]
    assert [line.split()[:4] for line in lines[1:]] == [["INC-2", "triggered", "warning", "HighLoad"],
                                                         ["INC-1", "triggered", "warning", "DiskFull"]]
    assert lines[1].split()[-2:] == ["2027-01-15", "08:00:00"]
    assert run(hub, "list", state="triggered", since="1h", json=True) == EXIT_OK
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["INC-2", "INC-1"]


def test_acting_then_showing(hub, capsys):
    assert run(hub, "ack", id="INC-1", comment="looking") == EXIT_OK
    assert run(hub, "assign", id="INC-1", assignee="carol") == EXIT_OK
    assert run(hub, "note", id="INC-1", text="disk at 99%") == EXIT_OK
    assert run(hub, "severity", id="INC-1", severity="critical") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == ["INC-1 acknowledged", "INC-1 assigned to carol", "INC-1: noted",
                                                    "INC-1 severity critical"]
    assert run(hub, "show", id="INC-1") == EXIT_OK
    shown = capsys.readouterr().out
    assert shown.startswith("INC-1  DiskFull\nstate: acknowledged   severity: critical   assignee: carol")
    assert "  a            firing" in shown
    timeline = shown.split("\ntimeline:\n")[1].splitlines()
    assert [line.split()[2:4] for line in timeline[1:]][-3:] == [["assignee_changed", "bob"], ["note", "bob"],
                                                                 ["severity_changed", "bob"]]
    assert run(hub, "show", id="INC-1", json=True) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["assignee"] == "carol"


def test_closing_with_a_postmortem_written_from_the_command_line(hub, capsys):
    assert run(hub, "resolve", id="INC-1", comment="rotated the logs") == EXIT_OK
    assert run(hub, "close", id="INC-1") == EXIT_FAILED
    assert "409 INC-1 cannot close before its postmortem says rootCause, impact and resolution" in \
        capsys.readouterr().err
    assert run(hub, "postmortem", id="INC-1", root_cause="logs not rotated", follow_up=["alert on inodes"],
               owner="carol") == EXIT_OK
    assert capsys.readouterr().out == "INC-1: postmortem saved; still empty: impact, resolution\n"
    assert run(hub, "postmortem", id="INC-1", impact="writes failed", resolution="rotated") == EXIT_OK
    assert capsys.readouterr().out == "INC-1: postmortem saved\n"
    assert run(hub, "close", id="INC-1") == EXIT_OK
    assert capsys.readouterr().out == "INC-1 closed\n"
    assert run(hub, "postmortem", id="INC-1") == EXIT_OK
    markdown = capsys.readouterr().out
    assert markdown.startswith("# INC-1 (warning): DiskFull\n")
    assert "## Root cause\n\nlogs not rotated\n" in markdown and "- [ ] alert on inodes (carol)" in markdown


def test_failures_in_words(hub, capsys):
    assert run(hub, "show", id="INC-9") == EXIT_FAILED
    assert "404 no incident INC-9" in capsys.readouterr().err
    assert run(hub, "list", since="soon") == EXIT_USAGE
    assert "--since must be a duration" in capsys.readouterr().err
    assert run(f"http://127.0.0.1:{free_port()}", "list") == EXIT_FAILED
    assert "cannot reach the hub" in capsys.readouterr().err


def test_the_command_line_offers_the_books_states():
    from fleetmon.cli_operations import INCIDENT_STATES
    from fleetmon.hub.incidents.lifecycle import STATES

    assert INCIDENT_STATES == STATES
