"""``GET /api/v1/logs`` on a real store, called in-process over ASGI (tests/hub/standin.py's Asgi): every
parameter, paging, and each bad parameter a 400 that names it, never a 500."""

import urllib.parse
from pathlib import Path

import pytest
from starlette.applications import Starlette

from fleetmon.hub.logs.api import log_routes
from tests.hub.logs.journal import T0, entry, filled, kernel
from tests.hub.standin import Answer, Asgi

GROUPS = {"jetson-01": ("edge",), "jetson-02": ("edge",), "web-01": ("web",)}
FIELDS = ["id", "host", "ts", "priority", "unit", "identifier", "pid", "transport", "message"]


@pytest.fixture
def api(tmp_path: Path):
    store = filled(tmp_path, {
        "jetson-01": [entry(1, "camera started", unit="camera.service"),
                      kernel(2, "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.")],
        "jetson-02": [kernel(3, "Out of memory: Killed process 812 (python3)", priority=2),
                      entry(4, "eth0: link down", priority=5, unit="NetworkManager.service")],
        "web-01": [entry(n, f"GET /item/{n} 200", unit="nginx.service") for n in range(5, 30)],
    })
    yield Asgi(Starlette(routes=log_routes(store, lambda: GROUPS, clock=lambda: T0 + 100)))
    store.close()


def get(api: Asgi, *params: tuple[str, str]) -> Answer:
    return api.call("GET", "/api/v1/logs", urllib.parse.urlencode(params).encode())


def found(answer: Answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [line["message"] for line in answer.json()["lines"]]


def test_an_answer(api: Asgi) -> None:
    answer = get(api, ("q", "NVRM"))
    assert answer.status == 200 and answer.media_type == "application/json"
    body = answer.json()
    assert sorted(body) == ["lines", "newest_id", "next_before"]
    (line,) = body["lines"]
    assert list(line) == FIELDS
    assert (line["host"], line["ts"], line["priority"], line["unit"], line["identifier"], line["pid"],
            line["transport"]) == ("jetson-01", T0 + 2, 3, "", "kernel", None, "kernel")
    assert body["next_before"] is None, "one line, under the limit: no next page"
    assert body["newest_id"] == 29


@pytest.mark.parametrize(("params", "expected"), [
    ((("host", "jetson-01"),), ["NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.", "camera started"]),
    ((("group", "edge"), ("priority", "crit")), ["Out of memory: Killed process 812 (python3)"]),
    ((("group", "edge"), ("host", "web-01"), ("q", "link OR camera")), ["eth0: link down", "camera started"]),
    ((("unit", ""),), ["Out of memory: Killed process 812 (python3)",
                       "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ((("unit", "camera.service"), ("unit", "NetworkManager.service")), ["eth0: link down", "camera started"]),
    ((("priority", "3"),), ["Out of memory: Killed process 812 (python3)",
                            "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."]),
    ((("q", "eth0: link"),), ["eth0: link down"]),
    ((("start", str(T0 + 3)), ("end", str(T0 + 4))),
     ["eth0: link down", "Out of memory: Killed process 812 (python3)"]),
    ((("since", "97s"), ("host", "jetson-02")), ["eth0: link down", "Out of memory: Killed process 812 (python3)"]),
    ((("since", "96"), ("host", "jetson-02")), ["eth0: link down"]),
    ((("group", "nobody"),), []),
], ids=["host", "group and priority", "group, host and text", "the kernel", "two units", "priority by number",
        "a pasted piece of a line", "start and end", "since, a duration", "since, seconds", "an empty group"])
def test_parameters(api: Asgi, params, expected) -> None:
    assert found(get(api, *params)) == expected


def test_pages(api: Asgi) -> None:
    first = get(api, ("host", "web-01"), ("limit", "10")).json()
    assert [line["message"] for line in first["lines"]] == [f"GET /item/{n} 200" for n in range(29, 19, -1)]
    second = get(api, ("host", "web-01"), ("limit", "10"), ("before", str(first["next_before"]))).json()
    third = get(api, ("host", "web-01"), ("limit", "10"), ("before", str(second["next_before"]))).json()
    assert [line["message"] for line in second["lines"] + third["lines"]] == \
        [f"GET /item/{n} 200" for n in range(19, 4, -1)]
    assert third["next_before"] is None


@pytest.mark.parametrize(("params", "error"), [
    ((("q", "(oom OR"),), "q: not a valid full-text query (fts5: syntax error"),
    ((("q", '"fallen off'),), "q: not a valid full-text query (unterminated string)"),
    ((("priority", "loud"),), "priority must be 0..7 or one of emerg"),
    ((("since", "a while"),), "since must be a duration such as 1h"),
    ((("since", "1h"), ("start", "5")), "give since or start, not both"),
    ((("start", "soon"),), "start must be Unix seconds"),
    ((("start", "200"), ("end", "100")), "start must not be after end"),
    ((("end", "1e12"),), "end must be Unix seconds within"),
    ((("limit", "0"),), "limit must be an integer in 1..5000"),
    ((("limit", "5001"),), "limit must be an integer in 1..5000"),
    ((("before", "last"),), "before must be an integer"),
    (tuple(("host", f"h{n}") for n in range(1001)), "host, group and unit may be given 1000 times in all"),
], ids=["a broken group", "an unterminated phrase", "priority", "since", "since and start", "start", "start after end",
        "end out of range", "limit 0", "limit too large", "before", "too many hosts"])
def test_bad_parameters_are_400s_that_name_them(api: Asgi, params, error: str) -> None:
    answer = get(api, *params)
    assert answer.status == 400
    assert answer.json()["error"].startswith(error), answer.json()
