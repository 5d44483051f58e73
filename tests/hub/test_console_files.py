"""The console's files as the hub serves them (fleetmon.hub.web.dashboard): every file under static/, with the
media type a browser needs to run it as a module, revalidated after each upgrade, and nothing outside static/
however the path is spelled."""

import ast
import re
import threading
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import pytest
from starlette.applications import Starlette

from fleetmon.hub.fleet_reader import FleetReader
from fleetmon.hub.layout import DashboardConfig
from fleetmon.hub.state import FleetState
from fleetmon.hub.trends import PanelTrends
from fleetmon.hub.web import dashboard
from tests.hub.standin import Asgi

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path, monkeypatch):
    """The real routes over a static tree of our own, beside a secret they must never serve."""
    static = tmp_path / "static"
    for name in ("index.html", "app.js", "console.css", "lib/api.js", "vendor/uPlot.esm.js", "vendor/uPlot.min.css",
                 ".hidden.js", "notes.txt"):
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(f"/* {name} */")
    (tmp_path / "secret.js").write_text("the hub's secret")
    (static / "lib" / "escape.js").symlink_to(tmp_path / "secret.js")
    monkeypatch.setattr(dashboard, "STATIC_DIR", static)
    fleet = FleetReader(FleetState(), threading.Lock())
    routes = [*dashboard.dashboard_routes(fleet, DashboardConfig, PanelTrends()), *dashboard.static_routes()]
    return Asgi(Starlette(routes=routes))


class Case(NamedTuple):
    path: str
    status: int
    media_type: str = ""


CASES = [
    # The page itself, at both of its addresses.
    pytest.param(Case("/", 200, "text/html"), id="root"),
    pytest.param(Case("/dashboard", 200, "text/html"), id="dashboard"),
    # A module must come as JavaScript: browsers refuse to run a module of another type.
    pytest.param(Case("/app.js", 200, "text/javascript"), id="module"),
    pytest.param(Case("/lib/api.js", 200, "text/javascript"), id="module-in-a-folder"),
    pytest.param(Case("/console.css", 200, "text/css"), id="stylesheet"),
    # What `make console` copies in is served like the rest.
    pytest.param(Case("/vendor/uPlot.esm.js", 200, "text/javascript"), id="chart-library"),
    pytest.param(Case("/vendor/uPlot.min.css", 200, "text/css"), id="chart-library-styles"),
    # Absent: a 404, not a 500.
    pytest.param(Case("/pages/none.js", 404), id="absent"),
    # Dot segments, however encoded, would leave static/: refused before the disk is asked.
    pytest.param(Case("/%2e%2e/secret.js", 404), id="parent-encoded"),
    pytest.param(Case("/lib/%2e%2e/%2e%2e/secret.js", 404), id="parent-nested"),
    pytest.param(Case("/lib/..%5c..%5csecret.js", 404), id="backslashes"),
    # A link inside static/ that points out of it is outside it.
    pytest.param(Case("/lib/escape.js", 404), id="link-out"),
    # Hidden files are nobody's page (an editor's swap file, a .git folder).
    pytest.param(Case("/.hidden.js", 404), id="hidden"),
    # Only what a page is made of: other files beside it are not published by being there.
    pytest.param(Case("/notes.txt", 404), id="other-kind"),
    pytest.param(Case("/index.html", 404), id="index-only-at-its-addresses"),
]


@pytest.mark.parametrize("case", CASES)
def test_the_console_files_are_served_and_nothing_else(client, case: Case):
    # The server decodes the path before routing: the app sees %2e%2e as "..".
    answer = client.call("GET", unquote(case.path), token=None)
    assert answer.status == case.status, answer.body
    if case.status == 200:
        assert answer.media_type == case.media_type
        # After a hub upgrade the browser revalidates instead of mixing old and new modules.
        assert answer.headers["cache-control"] == "no-cache"
        assert b"secret" not in answer.body


def test_the_shipped_console_loads_its_modules_by_relative_paths():
    """The page works at / and /dashboard and behind a proxy's prefix: no absolute path in the shell."""
    index = (dashboard.STATIC_DIR / "index.html").read_text()
    assert 'src="app.js"' in index and 'type="module"' in index
    assert 'href="/' not in index and 'src="/' not in index


def test_the_wheel_carries_every_file_of_the_console():
    """pyproject.toml's package data names each folder of static/ ("static/lib/*": a glob does not descend): a
    folder added without its line would be missing from the hub's wheel, and from every deployed hub."""
    line = re.search(r'^"fleetmon\.hub\.web" = (\[.*\])$', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    globs = set(ast.literal_eval(line[1]))
    files = [path for path in dashboard.STATIC_DIR.rglob("*") if path.is_file()]
    folders = {path.parent.relative_to(dashboard.STATIC_DIR.parent).as_posix() for path in files}
    assert {"static", "static/lib", "static/pages"} <= folders
    assert {f"{folder}/*" for folder in folders} <= globs
