"""Fuzzing the hub's Alertmanager API v2 against Alertmanager's own spec: requests drawn for every operation —
matchers, booleans, receiver regexes and silences, valid and bent (wrong types, missing fields, bad regexes,
ends in the past, starts after ends, unknown and existing ids) — sent to the hub's real app on its real parts
(tests/hub/standin.py), with alerts firing, inhibited and silenced. Every answer must have the shape
Alertmanager's document gives that operation and status (alertmanager_api_v2_shapes.yaml, written from it);
nothing answers 5xx; a refusal is a 400 (or 404) whose JSON string says why; and a refused request changes
no silence. Deterministic (derandomize); FLEETMON_FUZZ_EXAMPLES=5000 runs longer."""

import json
import os
import re
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from fleetmon.protocol.messages import rfc3339
from tests.hub.standin import TOKEN, app_of, stand_in_hub

EXAMPLES = int(os.environ.get("FLEETMON_FUZZ_EXAMPLES", "200"))
SHAPES = yaml.safe_load((Path(__file__).with_name("alertmanager_api_v2_shapes.yaml")).read_text())
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValueError(f"not RFC 3339: {value!r}")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def shape(operation: str, status: int) -> Draft202012Validator | None:
    """The validator of an answer's body; None where the document names no body. A status the document does not
    name for the operation fails the test."""
    answers = SHAPES["responses"][operation]
    assert str(status) in answers, f"{operation} answered {status}, which Alertmanager's document does not name"
    schema = answers[str(status)]
    return None if schema is None else Draft202012Validator({**schema, "$defs": SHAPES["$defs"]},
                                                             format_checker=FORMATS)


ALERTS = [{"labels": {"alertname": "Disk", "severity": "critical", "host": "h1"}, "annotations": {"summary": "full"}},
          {"labels": {"alertname": "Disk", "severity": "warning", "host": "h1"}},  # inhibited by the critical one
          {"labels": {"alertname": "Cpu", "host": "h2", "job": "node"}, "generatorURL": "http://prometheus/g"}]
NAMES = st.sampled_from(["alertname", "host", "severity", "job", "nope", "", "1x", "ünï", "a b"])
VALUES = st.sampled_from(["Disk", "h1", "h.*", "critical", "", "(", "a{99999999999}", "x" * 300, "\x00", "✓"])
OPERATORS = st.sampled_from(["=", "!=", "=~", "!~", "==", "~", ""])
FILTERS = st.one_of(st.builds(lambda n, o, v: f"{n}{o}{json.dumps(v) if v else v}", NAMES, OPERATORS, VALUES),
                    st.text(max_size=12), st.sampled_from(['{host="h1"}', "host=h1,job=node", 'a="', "=", ""]))
BOOLEANS = st.sampled_from(["true", "false", "1", "0", "t", "F", "TRUE", "False", "", "yes", "maybe", "2"])
RECEIVERS = st.sampled_from(["team", "te.*", "", "(", "[", "a{99999999999}", "x|y", ".*"])
STATE_FLAGS = {"GET /api/v2/alerts": ("active", "silenced", "inhibited", "unprocessed"),
               "GET /api/v2/alerts/groups": ("active", "silenced", "inhibited"),
               "GET /api/v2/silences": ("active", "pending", "expired")}


def _times(now: float) -> st.SearchStrategy:
    offsets = st.sampled_from([-86400.0, -60.0, 0.0, 1.0, 60.0, 3600.0, 86400.0 * 400])
    return st.one_of(offsets.map(lambda d: rfc3339(now + d)), st.sampled_from(
        ["", "0001-01-01T00:00:00Z", "2026-13-45T99:99:99Z", "9999-12-31T23:59:59Z", "1500-01-01T00:00:00Z",
         "2026-01-01T00:00:00"]), st.floats(allow_nan=True) | st.integers() | st.none() | st.booleans())


def _matcher() -> st.SearchStrategy:
    valid = st.fixed_dictionaries({"name": NAMES, "value": VALUES, "isRegex": st.booleans()},
                                  optional={"isEqual": st.booleans()})
    bent = st.one_of(st.dictionaries(st.sampled_from(["name", "value", "isRegex", "isEqual"]),
                                     st.one_of(st.text(max_size=4), st.integers(), st.none(), st.booleans()),
                                     max_size=4),
                     st.text(max_size=10), st.integers(), st.none())
    return st.integers(1, 5).flatmap(lambda i: bent if i == 1 else valid)


def known(ids: list[str], index: int) -> str:
    """One of the silences the hub has (the draw does not depend on how many there are, as hypothesis wants)."""
    return ids[index % len(ids)] if ids else "none-yet"


@st.composite
def silences(draw, ids: list[str]) -> dict:
    """A silence Alertmanager would take, half the time as it is, else with one or two fields bent or gone."""
    now = time.time()
    body = {"matchers": [{"name": "host", "value": draw(st.sampled_from(["h1", "h2", "h.*"])),
                          "isRegex": draw(st.booleans())}],
            "startsAt": rfc3339(now + draw(st.sampled_from([-5.0, 0.0, 600.0]))), "endsAt": rfc3339(now + 3600),
            "createdBy": "ops", "comment": "why"}
    if draw(st.booleans()):
        body["id"] = known(ids, draw(st.integers(0, 15)))
    if draw(st.booleans()):
        return body
    bent = {"matchers": st.lists(_matcher(), max_size=3), "startsAt": _times(now), "endsAt": _times(now),
            "createdBy": st.sampled_from(["", None, 7]), "comment": st.sampled_from(["", None, ["x"]]),
            "id": st.sampled_from(["", "nope", 3]), "annotations": st.sampled_from([{"a": "b"}, "x", {}])}
    for key in draw(st.lists(st.sampled_from(sorted(bent)), min_size=1, max_size=2, unique=True)):
        if key in body and draw(st.integers(0, 3)) == 0:
            del body[key]
        else:
            body[key] = draw(bent[key])
    return body


@st.composite
def requests(draw, ids: list[str]):
    operation = draw(st.sampled_from(list(SHAPES["responses"])))
    method, path = operation.split(" ")
    query: list[tuple[str, str]] = []
    if operation in ("GET /api/v2/alerts", "GET /api/v2/alerts/groups", "GET /api/v2/silences"):
        query += [("filter", f) for f in draw(st.lists(FILTERS, max_size=3))]
        query += [(flag, draw(BOOLEANS)) for flag in STATE_FLAGS[operation] if draw(st.booleans())]
    if operation in ("GET /api/v2/alerts", "GET /api/v2/alerts/groups") and draw(st.booleans()):
        query.append(("receiver", draw(RECEIVERS)))
    if "{id}" in path:
        silence_id = known(ids, draw(st.integers(0, 15))) if draw(st.booleans()) else \
            draw(st.text(min_size=1, max_size=40))
        path = path.replace("{id}", urllib.parse.quote(silence_id, safe=""))
    body = b""
    if method == "POST":
        body = json.dumps(draw(st.one_of(silences(ids), st.lists(st.integers(), max_size=2), st.none()))).encode()
        shape_of = draw(st.sampled_from(["json"] * 8 + ["truncated", "bytes"]))
        if shape_of == "truncated":
            body = body[:draw(st.integers(0, len(body)))]
        elif shape_of == "bytes":
            body = draw(st.binary(max_size=30))
    token = draw(st.sampled_from([TOKEN] * 9 + [None]))
    return operation, method, path, urllib.parse.urlencode(query).encode(), body, token


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    stand_in = stand_in_hub(tmp_path_factory.mktemp("fuzz-api-v2"))
    app = app_of(stand_in)
    now = time.time()
    alerts = [{**a, "startsAt": rfc3339(now - 60)} for a in ALERTS]
    assert app.call("POST", "/api/v2/alerts", body=json.dumps(alerts).encode()).status == 200
    stand_in.dispatcher.process(time.time())
    silence = {"matchers": [{"name": "host", "value": "h2", "isRegex": False}], "startsAt": rfc3339(now),
               "endsAt": rfc3339(now + 86400), "createdBy": "ops", "comment": "cpu work"}
    assert app.call("POST", "/api/v2/silences", body=json.dumps(silence).encode()).status == 200
    yield stand_in
    stand_in.close()


def silences_kept(hub) -> list[dict]:
    """What a refused request must not change: every silence, without its state (which time moves on)."""
    return sorted(({k: v for k, v in s.items() if k != "status"} for s in hub.dispatcher.silence_views(time.time())),
                  key=lambda s: s["id"])


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=st.data())
def test_answers_have_alertmanagers_shapes_refusals_say_why_and_change_nothing(hub, data):
    ids = [s["id"] for s in hub.dispatcher.silence_views(time.time())]
    operation, method, path, query, body, token = data.draw(requests(ids))
    before = silences_kept(hub)
    answer = app_of(hub).call(method, path, query, body, token)
    where = f"{method} {path}?{query.decode()[:200]} {body[:300]!r} -> {answer.status}: {answer.body[:300]!r}"
    event(f"{operation} -> {answer.status}")
    assert answer.status < 500, where
    if answer.status == 401:  # the access control's, before the route: a change without a token
        assert token is None and method != "GET", where
        assert json.loads(answer.body)["error"], where
    else:
        validator = shape(operation, answer.status)
        if validator is None:
            assert answer.body in (b"", b'""') or json.loads(answer.body), where
        else:
            document = json.loads(answer.body)
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
            assert not errors, f"{where}\n" + "\n".join(errors)
            if answer.status >= 400:
                assert document.strip(), f"{where}: a refusal must say why"
    if answer.status >= 400:
        assert silences_kept(hub) == before, f"{where}: a refused request changed the silences"
    elif method == "POST":
        made = json.loads(answer.body)["silenceID"]
        assert made in {s["id"] for s in hub.dispatcher.silence_views(time.time())}, where


def test_after_the_fuzzing_the_alerts_and_their_states_read_as_before(hub):
    # Runs after the fuzz test (file order) on the same stand-in hub: its alerts are still there, with the
    # inhibition they had; the fuzzing may have silenced some.
    answer = app_of(hub).call("GET", "/api/v2/alerts", b"filter=alertname%3D%22Disk%22")
    assert answer.status == 200
    shown = {a["labels"]["severity"]: a for a in json.loads(answer.body)}
    assert set(shown) == {"critical", "warning"}
    assert shown["warning"]["status"]["inhibitedBy"] == [shown["critical"]["fingerprint"]]
