"""``fleetmon sla report`` (fleetmon.hub.sla.cli) against the SLA routes served by a real uvicorn on a free
port: the summary table, one SLO's members, JSON, CSV, and a hub that answers 404."""

import csv
import io
import json
from argparse import Namespace
from pathlib import Path

import pytest
from starlette.applications import Starlette

from fleetmon.hub.api_commands import EXIT_FAILED, EXIT_OK
from fleetmon.hub.sla.api import sla_routes
from fleetmon.hub.sla.cli import sla
from tests.conftest import free_port
from tests.hub.sla.month import OUTAGE, november
from tests.hub.standin import Served


@pytest.fixture
def hub(tmp_path: Path):
    engine = november(tmp_path)
    served = Served(Starlette(routes=sla_routes(engine)))
    yield served.url
    served.stop()
    engine.close()


def args(hub: str, **flags: object) -> Namespace:
    values = {"hub": hub, "slo": None, "period": None, "format": "table", "token": None, "token_file": None,
              "ca_file": None, "timeout": 5.0}
    return Namespace(**{**values, **flags})


def test_summary_table(hub: str, capsys) -> None:
    assert sla(args(hub)) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SLO", "PERIOD", "TARGET", "AVAILABILITY", "DOWNTIME", "BUDGET", "LEFT", "STATUS"]
    # below target so far, but 30.6 % of the month's budget is left: the month can still make it
    assert lines[1].split() == ["web-up", "2026-11", "99.9%", "99.890%", "60.0", "min", "30.6%", "on", "track"]
    assert lines[2].split() == ["web-week", "2026-W47", "99%", "100.000%", "0.0", "min", "100.0%", "on", "track"]


def test_one_slo_with_its_members(hub: str, capsys) -> None:
    assert sla(args(hub, slo="web-up", period="2026-11-10")) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:5] == ["web-up", "2026-11-10", "99.9%", "97.917%", "60.0"]
    members = out.split("\n\n")[1].splitlines()
    assert members[0].split() == ["MEMBER", "AVAILABILITY", "DOWNTIME", "UNKNOWN", "EXCLUDED"]
    assert members[1].split() == ["srv-a", "95.833%", "60.0", "min", "0.0", "min", "0.0", "min"]
    assert members[2].split()[:2] == ["srv-b", "100.000%"]


def test_json_and_csv(hub: str, capsys) -> None:
    assert sla(args(hub, format="json")) == EXIT_OK
    summaries = json.loads(capsys.readouterr().out)
    assert [s["slo"] for s in summaries] == ["web-up", "web-week"]
    assert sla(args(hub, format="json", period="2026-11")) == EXIT_OK
    reports = json.loads(capsys.readouterr().out)
    assert [(r["slo"], r["label"]) for r in reports] == [("web-up", "2026-11"), ("web-week", "2026-11")], \
        "a month's report of a weekly SLO too: any period can be asked for"
    assert sla(args(hub, slo="web-up", period="2026-11", format="csv")) == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["member"], float(row["bad_s"])) for row in rows] == [("srv-a", OUTAGE), ("srv-b", 0), ("*", OUTAGE)]
    assert sla(args(hub, format="csv")) == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["slo"], row["label"]) for row in rows] == [("web-up", "2026-11"), ("web-week", "2026-W47")]


def test_an_unknown_slo(hub: str, capsys) -> None:
    assert sla(args(hub, slo="nope")) == EXIT_FAILED
    assert f"GET {hub}/api/v1/sla/nope/report: 404 no SLO named 'nope'" in capsys.readouterr().err


def test_no_hub(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert sla(args(url)) == EXIT_FAILED
    assert f"cannot reach the hub at {url}" in capsys.readouterr().err
