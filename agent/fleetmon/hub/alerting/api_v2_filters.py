"""The query parameters of Alertmanager's API v2 (fleetmon.hub.alerting.api_v2) and the filters they make, read
as Alertmanager reads them: booleans as Go's strconv.ParseBool, matchers in its fallback mode, ``receiver`` an
anchored regex on a receiver's name, ``receiver_matchers`` (Alertmanager 0.33) matchers on a receiver's labels.
A parameter that does not parse is a BadRequest, which the API answers 400 with its reason."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request

from fleetmon.hub.alerting.config import AlertingConfig
from fleetmon.hub.alerting.matchers import Matcher, MatcherError, matches_all, parse_matcher

#: What Alertmanager's strconv.ParseBool takes for a boolean query parameter.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class BadRequest(ValueError):
    """A request Alertmanager answers 400, with this reason."""


def flag(request: Request, name: str, default: bool) -> bool:
    values = request.query_params.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"{name} is given {len(values)} times")
    if values[0] in _TRUE:
        return True
    if values[0] in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false, got {values[0][:80]!r}")


def filter_matchers(request: Request) -> list[Matcher]:
    """``filter``: matchers on an alert's (or a silence's) labels, repeatable."""
    try:
        return [parse_matcher(text) for text in request.query_params.getlist("filter")]
    except MatcherError as exc:
        raise BadRequest(f"bad filter: {exc}") from None


def receiver_filter(request: Request) -> Matcher | None:
    """``receiver``: a regex (anchored, RE2 classes) a receiver's name must match; absent or empty: any."""
    text = request.query_params.get("receiver", "")
    if not text:
        return None
    try:
        return Matcher.make("receiver", "=~", text)
    except MatcherError as exc:
        raise BadRequest(f"failed to parse receiver param: {exc}") from None


def receiver_matchers(request: Request) -> list[Matcher]:
    """``receiver_matchers`` (Alertmanager 0.33): matchers on a receiver's labels, repeatable; all must match."""
    try:
        return [parse_matcher(text) for text in request.query_params.getlist("receiver_matchers")]
    except MatcherError as exc:
        raise BadRequest(f"failed to parse receiver_matchers param: {exc}") from None


def receiver_labelled(config: AlertingConfig, name: str, matchers: list[Matcher]) -> bool:
    """Whether the receiver of this name has labels that pass ``receiver_matchers``."""
    receiver = config.receivers.get(name)
    return receiver is not None and filter_labels(matchers, receiver.labels)


def filter_labels(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Alertmanager's API filter on a label set (api/v2 matchFilterLabels), where a label may be present with an
    empty value (a receiver's may): ``x=""`` and ``x=~""`` match a set without ``x``, ``x!=""`` and ``x!~""`` one
    that has ``x``, whatever its value; every other matcher tests the value, a missing label as ""."""
    for m in matchers:
        present = m.name in labels
        if m.value == "" and present == (m.op in ("!=", "!~")):
            continue
        if not m.matches(labels):
            return False
    return True


def alert_filter(request: Request) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """Alertmanager's alert filter: matchers on the labels, and what ``active``, ``silenced``, ``inhibited`` and
    ``unprocessed`` false leave out (alerts in that state; true shows them beside the others)."""
    label_matchers = filter_matchers(request)
    active, silenced = flag(request, "active", True), flag(request, "silenced", True)
    inhibited, unprocessed = flag(request, "inhibited", True), flag(request, "unprocessed", True)

    def wanted(view: dict[str, Any], status: dict[str, Any]) -> bool:
        if not active and status["state"] == "active":
            return False
        if not unprocessed and status["state"] == "unprocessed":
            return False
        if not silenced and status["silencedBy"]:
            return False
        if not inhibited and status["inhibitedBy"]:
            return False
        return matches_all(label_matchers, view["labels"])

    return wanted
