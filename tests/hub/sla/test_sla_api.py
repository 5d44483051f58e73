"""The SLA routes (fleetmon.hub.sla.api) in a Starlette app, called in-process over ASGI as uvicorn hands
requests over (tests/hub/standin.py's Asgi), on a real ledger: summaries, reports by period and by range, CSV,
the budget burn-down, and the 400s and 404s that name what is wrong."""

from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette

from fleetmon.hub.sla.api import sla_routes
from fleetmon.hub.sla.report import report_csv
from tests.hub.sla.month import NOW, OUTAGE, RESTART, START, at, november
from tests.hub.standin import Asgi

DAY = 86400.0


@pytest.fixture
def app(tmp_path: Path):
    engine = november(tmp_path)
    yield Asgi(Starlette(routes=sla_routes(engine)))
    engine.close()


def get(app: Asgi, path: str, **query: object):
    return app.call("GET", path, urlencode(query).encode(), token=None)


def test_summaries(app: Asgi) -> None:
    answer = get(app, "/api/v1/sla")
    assert answer.status == 200
    month, week = answer.json()["slos"]
    assert (month["slo"], month["label"], month["start"], month["end"], month["until"]) == (
        "web-up", "2026-11", START, at("2026-12-01 00:00"), NOW)
    assert month["bad_s"] == OUTAGE and month["good_s"] == 2 * (NOW - START) - OUTAGE
    assert month["budget"]["allowed_bad_s"] == pytest.approx(0.001 * 2 * 30 * DAY), "(1 - target) x the month"
    assert "members" not in month
    assert (week["slo"], week["label"], week["start"]) == ("web-week", "2026-W47", at("2026-11-16 00:00"))
    assert week["bad_s"] == 0


def test_report_by_period(app: Asgi) -> None:
    answer = get(app, "/api/v1/sla/web-up/report", period="2026-11")
    assert answer.status == 200
    report = answer.json()
    assert report["label"] == "2026-11"
    assert [(m["member"], m["bad_s"], m["good_s"]) for m in report["members"]] == [
        ("srv-a", OUTAGE, NOW - START - OUTAGE), ("srv-b", 0, NOW - START)]
    day = get(app, "/api/v1/sla/web-up/report", period="2026-11-10").json()
    assert (day["label"], day["bad_s"], day["downtime_minutes"]) == ("2026-11-10", OUTAGE, 60.0)
    assert get(app, "/api/v1/sla/web-up/report").json()["label"] == "2026-11", "no range: the current period"


def test_report_by_range(app: Asgi) -> None:
    report = get(app, "/api/v1/sla/web-up/report", start=RESTART - 1800, end=RESTART + 1800).json()
    assert (report["label"], report["good_s"], report["bad_s"]) == ("", 2 * 3600 - 1800, 1800)


def test_report_as_csv(app: Asgi) -> None:
    answer = get(app, "/api/v1/sla/web-up/report", period="2026-11", format="csv")
    assert answer.status == 200 and answer.media_type == "text/csv"
    assert answer.headers["content-disposition"] == 'attachment; filename="web-up-2026-11.csv"'
    assert answer.body.decode() == report_csv(get(app, "/api/v1/sla/web-up/report", period="2026-11").json())


def test_budget(app: Asgi) -> None:
    answer = get(app, "/api/v1/sla/web-up/budget", period="2026-11", step=86400)
    assert answer.status == 200
    body = answer.json()
    assert body["step"] == 86400 and len(body["points"]) == 20  # the 1st to the 20th, midnights
    left = dict((ts, value) for ts, value in body["points"])
    assert left[RESTART] == 1.0 and left[RESTART + DAY] == pytest.approx(1 - OUTAGE / (0.001 * 2 * 30 * DAY))
    default = get(app, "/api/v1/sla/web-up/budget").json()
    assert default["step"] % 60 == 0 and len(default["points"]) <= 501


@pytest.mark.parametrize(("path", "query", "status", "error"), [
    ("/api/v1/sla/nope/report", {}, 404, "no SLO named 'nope'"),
    ("/api/v1/sla/nope/budget", {}, 404, "no SLO named 'nope'"),
    ("/api/v1/sla/web-up/report", {"period": "2026-13"}, 400, "period: '2026-13' is no period: month must be in 1..12"),
    ("/api/v1/sla/web-up/report", {"period": "last month"}, 400, "period: 'last month' is not a period"),
    ("/api/v1/sla/web-up/report", {"period": "2026-11", "start": 0}, 400, "give period, or start and end, not both"),
    ("/api/v1/sla/web-up/report", {"start": "yesterday"}, 400, "start must be Unix seconds"),
    ("/api/v1/sla/web-up/report", {"start": 200, "end": 100}, 400, "start must not be after end"),
    ("/api/v1/sla/web-up/report", {"format": "xml"}, 400, "format must be one of json, csv (got 'xml')"),
    ("/api/v1/sla/web-up/budget", {"step": 60, "period": "2026"}, 400, "step must be at least"),
    ("/api/v1/sla/web-up/budget", {"step": "often"}, 400, "step must be an integer"),
], ids=lambda value: value if isinstance(value, int) else None)
def test_refusals(app: Asgi, path: str, query: dict, status: int, error: str) -> None:
    answer = get(app, path, **query)
    assert answer.status == status
    assert answer.json()["error"].startswith(error)
