"""Running a journey: its steps in order, one cookie jar, values carried from step to step, secrets hidden.

After a step fails the remaining steps are skipped, except those marked ``always`` (log out, clean up),
which still run when the variables they use were set. A step that did not run is ``skipped``, never failed,
so the failing step the result names is the one that broke. Every message of the result passes through
``redact`` before it leaves: a secret echoed by a server, or put in a URL, reads ``***``.
"""

import http.cookiejar
import json
import re
import time
import urllib.request
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote, quote_plus, urlencode, urljoin, urlsplit

from fleetmon import __version__
from fleetmon.agent.checks.http_timing import ExchangeFailed, Request, Response, exchange
from fleetmon.agent.checks.journey_spec import Extraction, JourneySettings, JourneyStep, fill, fill_json
from fleetmon.agent.checks.status_codes import status_matches
from fleetmon.protocol.check_results import STEP_FAILED, STEP_OK, STEP_SKIPPED, StepResult, StepTimings

REDACTED = "***"
MAX_REDIRECTS = 10
#: Characters of a response body quoted in a failure message: enough to read an error, not a page.
EXCERPT_CHARS = 120
_REDIRECTS = (301, 302, 303, 307, 308)


class JourneyOutcome(NamedTuple):
    ok: bool
    message: str
    value: Optional[float]  # seconds of the steps that ran
    steps: Tuple[StepResult, ...]


class SecretUnreadable(Exception):
    """A secret's file cannot be read: the journey fails before any step, naming the file, never a value."""


class _StepFailed(Exception):
    """Why a step failed, with the timings it had reached."""

    def __init__(self, message: str, timings: Optional[StepTimings] = None, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message, self.timings, self.status = message, timings or StepTimings(), status


def run_journey(settings: JourneySettings, timeout: float) -> JourneyOutcome:
    """Every step once; ``timeout`` bounds each step that sets no timeout of its own."""
    try:
        secrets = read_secrets(settings.secrets)
    except SecretUnreadable as exc:
        skipped = tuple(StepResult(i, step.name, STEP_SKIPPED, "not run: a secret could not be read",
                                   always=step.always) for i, step in enumerate(settings.steps, 1))
        return JourneyOutcome(False, str(exc), None, skipped)
    redact = redactor(secrets.values())
    values: Dict[str, str] = dict(secrets)
    jar = http.cookiejar.CookieJar()
    results: List[StepResult] = []
    base_url: Optional[str] = None
    for index, step in enumerate(settings.steps, 1):
        failed = next((r for r in results if r.status == STEP_FAILED), None)
        unset = sorted(step.variables - set(values))
        if failed is not None and not step.always:
            results.append(StepResult(index, step.name, STEP_SKIPPED, f"not run: step {failed.index} failed"))
            continue
        if unset:  # only after a failure: a step that passed set every variable it extracts
            results.append(StepResult(index, step.name, STEP_SKIPPED, "not run: {} never set".format(
                ", ".join("${" + name + "}" for name in unset)), always=step.always))
            continue
        result, extracted, base_url = _run_step(index, step, values, jar, base_url, step.timeout or timeout)
        values.update(extracted)
        results.append(result._replace(message=redact(result.message)))
    return _outcome(tuple(results))


def read_secrets(files: Sequence[Tuple[str, str]]) -> Dict[str, str]:
    """Name -> value: the first line of each file, read at every run so a rotated secret needs no reload."""
    secrets = {}
    for name, path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.readline().rstrip("\r\n")
        except OSError as exc:
            raise SecretUnreadable(f"cannot read secret {name} from {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SecretUnreadable(f"cannot read secret {name} from {path}: not UTF-8 text") from None
        if not value:
            raise SecretUnreadable(f"secret {name} in {path} is empty")
        secrets[name] = value
    return secrets


def redactor(secrets: Sequence[str]) -> Callable[[str], str]:
    """A function hiding each secret in a text, also as a URL, a form or a JSON string would quote it."""
    forms = {form for value in secrets for form in (value, quote(value, safe=""), quote_plus(value),
                                                    json.dumps(value)[1:-1]) if form}
    ordered = sorted(forms, key=len, reverse=True)  # a longer form first: it may contain a shorter one

    def redact(text: str) -> str:
        for form in ordered:
            text = text.replace(form, REDACTED)
        return text
    return redact


def _outcome(steps: Tuple[StepResult, ...]) -> JourneyOutcome:
    """The journey's verdict from its (already redacted) steps: the first failed step is its reason."""
    seconds = sum(step.timings.total or 0.0 for step in steps if step.status != STEP_SKIPPED)
    failed = next((step for step in steps if step.status == STEP_FAILED), None)
    if failed is None:
        return JourneyOutcome(True, f"{len(steps)} steps passed in {seconds * 1000:.0f} ms", seconds, steps)
    return JourneyOutcome(False, f"step {failed.index} ({failed.name}) failed: {failed.message}", seconds, steps)


def _run_step(index: int, step: JourneyStep, values: Dict[str, str], jar: http.cookiejar.CookieJar,
              base_url: Optional[str], timeout: float) -> Tuple[StepResult, Dict[str, str], Optional[str]]:
    """The step's result, the variables it extracted, and the URL later relative URLs resolve against."""
    deadline = time.monotonic() + timeout
    try:
        request = _request(step, values, base_url)
    except _StepFailed as exc:
        return StepResult(index, step.name, STEP_FAILED, exc.message, always=step.always), {}, base_url
    try:
        response, final = _send(step, request, jar, deadline, timeout)
        extracted = _check(step, final, response, jar)
    except _StepFailed as exc:
        return (StepResult(index, step.name, STEP_FAILED, exc.message, exc.timings, exc.status, always=step.always),
                {}, request.url)
    message = f"{final.method} {final.url}: {_summary(response)}"
    return (StepResult(index, step.name, STEP_OK, message, response.timings, response.status, tuple(extracted),
                       step.always), extracted, final.url)


def _request(step: JourneyStep, values: Dict[str, str], base_url: Optional[str]) -> Request:
    url = fill(step.url, values)
    url = urljoin(base_url, url) if base_url else url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _StepFailed(f"{url!r} is not an http:// or https:// URL")
    headers = [(name, fill(value, values)) for name, value in step.headers]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise _StepFailed(f"header {name}: its value holds a line break")
    body: Optional[bytes] = None
    if step.body is not None:
        body = fill(step.body, values).encode("utf-8")
    elif step.json_body is not None:
        body = json.dumps(fill_json(step.json_body, values)).encode("utf-8")
        headers = _default(headers, "Content-Type", "application/json")
    elif step.form:
        body = urlencode([(name, fill(value, values)) for name, value in step.form]).encode("ascii")
        headers = _default(headers, "Content-Type", "application/x-www-form-urlencoded")
    # Some servers refuse requests without a User-Agent.
    headers = _default(headers, "User-Agent", f"fleetmon-journey/{__version__}")
    return Request(step.method, url, tuple(headers), body, step.verify_tls)


def _default(headers: List[Tuple[str, str]], name: str, value: str) -> List[Tuple[str, str]]:
    if any(header.lower() == name.lower() for header, _ in headers):
        return headers
    return [*headers, (name, value)]


def _send(step: JourneyStep, request: Request, jar: http.cookiejar.CookieJar, deadline: float,
          timeout: float) -> Tuple[Response, Request]:
    """The final response (after redirects, when the step follows them) and the request that got it; every
    phase's time is summed over the requests."""
    timings = StepTimings()
    for hop in range(MAX_REDIRECTS + 1):
        sent = _with_cookies(request, jar)
        if time.monotonic() >= deadline:
            raise _StepFailed(f"{request.method} {request.url}: timed out after {timeout:g}s", timings)
        try:
            response = exchange(sent, timeout, deadline)
        except ExchangeFailed as exc:
            raise _StepFailed(f"{request.method} {request.url}: {exc.reason}", _sum(timings, exc.timings)) from None
        jar.extract_cookies(response, urllib.request.Request(request.url))
        timings = _sum(timings, response.timings)
        location = response.headers.get("Location")
        if not step.follow_redirects or response.status not in _REDIRECTS or not location:
            return response._replace(timings=timings), request
        if hop == MAX_REDIRECTS:
            raise _StepFailed(f"{request.method} {request.url}: more than {MAX_REDIRECTS} redirects", timings,
                              response.status)
        request = _redirected(request, response.status, urljoin(request.url, location))
    raise AssertionError("unreachable: the loop returns or raises")


def _with_cookies(request: Request, jar: http.cookiejar.CookieJar) -> Request:
    """The request with the jar's cookies for its URL, unless the step sets its own Cookie header.

    http.cookiejar does the matching (domain, path, secure, expiry); a urllib Request is only the object
    it reads the URL from and writes the header to."""
    if any(name.lower() == "cookie" for name, _ in request.headers):
        return request
    carrier = urllib.request.Request(request.url)
    jar.add_cookie_header(carrier)
    cookie = carrier.get_header("Cookie")
    return request._replace(headers=(*request.headers, ("Cookie", cookie))) if cookie else request


def _redirected(request: Request, status: int, url: str) -> Request:
    """As browsers do: 303, and 301/302 after a POST, become a GET without a body; 307 and 308 repeat."""
    if status == 303 or (status in (301, 302) and request.method == "POST"):
        headers = tuple((name, value) for name, value in request.headers
                        if name.lower() not in ("content-type", "content-length"))
        method = "HEAD" if request.method == "HEAD" else "GET"
        return request._replace(method=method, url=url, headers=headers, body=None)
    return request._replace(url=url)


def _sum(before: StepTimings, more: StepTimings) -> StepTimings:
    return StepTimings(*(a if b is None else b if a is None else a + b for a, b in zip(before, more)))


def _summary(response: Response) -> str:
    return f"{response.status} in {(response.timings.total or 0.0) * 1000:.0f} ms"


def _check(step: JourneyStep, request: Request, response: Response, jar: http.cookiejar.CookieJar) -> Dict[str, str]:
    """The step's assertions, in the order they are documented, then its extractions."""
    summary = f"{request.method} {request.url}: {_summary(response)}"

    def failed(why: str) -> _StepFailed:
        return _StepFailed(f"{summary}, {why}", response.timings, response.status)

    text = _text(response)
    if not status_matches(response.status, step.expect_status):
        excerpt = " ".join(text.split())[:EXCERPT_CHARS]
        raise failed("expected status {}{}".format(" or ".join(step.expect_status),
                                                    f": {excerpt}" if excerpt else ""))
    for name, pattern in step.expect_headers:
        value = response.headers.get(name)
        if value is None:
            raise failed(f"no {name} header")
        if not re.search(pattern, value):
            raise failed(f"header {name} is {value!r}, which does not match {pattern!r}")
    if step.body_match is not None and not re.search(step.body_match, text):
        raise failed(f"body does not match {step.body_match!r}")
    document = _LazyJson(text, response.truncated)
    for path, expected in step.expect_json:
        found, value = path.find(document.get(failed))
        if not found:
            raise failed(f"{path.text} is not in the body")
        if value != expected or isinstance(value, bool) != isinstance(expected, bool):
            raise failed(f"{path.text} is {json.dumps(value)}, expected {json.dumps(expected, default=str)}")
    total = response.timings.total or 0.0
    if step.max_latency is not None and total > step.max_latency:
        raise failed(f"slower than {step.max_latency:g}s")
    extracted = {}
    for extraction in step.extract:
        value, why = _extract(extraction, text, document, response, jar, failed)
        if value is None:
            raise failed(f"cannot extract {extraction.variable}: {why}")
        extracted[extraction.variable] = value
    return extracted


def _text(response: Response) -> str:
    """The body as text in its declared charset; UTF-8 when it declares none, or one Python does not know."""
    try:
        return response.body.decode(response.headers.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return response.body.decode("utf-8", errors="replace")


class _LazyJson:
    """The body parsed as JSON once, when an assertion or extraction first needs it."""

    def __init__(self, text: str, truncated: bool) -> None:
        self._text, self._truncated = text, truncated
        self._parsed = False
        self._value: Any = None

    def get(self, failed: Callable[[str], _StepFailed]) -> Any:
        if not self._parsed:
            try:
                self._value = json.loads(self._text)
            except ValueError as exc:
                cut = " (cut at 1 MiB)" if self._truncated else ""
                raise failed(f"body is not JSON{cut}: {exc}") from None
            self._parsed = True
        return self._value


def _extract(extraction: Extraction, text: str, document: _LazyJson, response: Response,
             jar: http.cookiejar.CookieJar, failed: Callable[[str], _StepFailed]) -> Tuple[Optional[str], str]:
    """(value, "") or (None, why not)."""
    if extraction.source == "json" and extraction.path is not None:
        found, value = extraction.path.find(document.get(failed))
        if not found:
            return None, f"{extraction.expression} is not in the body"
        return (value if isinstance(value, str) else json.dumps(value)), ""
    if extraction.source == "regex":
        match = re.search(extraction.expression, text)
        if match is None:
            return None, f"the body does not match {extraction.expression!r}"
        return (match.group(1) if match.re.groups else match.group(0)) or "", ""
    if extraction.source == "header":
        value = response.headers.get(extraction.expression)
        return (value, "") if value is not None else (None, f"no {extraction.expression} header")
    cookies = [cookie.value for cookie in jar if cookie.name == extraction.expression and cookie.value is not None]
    return (cookies[-1], "") if cookies else (None, f"no cookie {extraction.expression} was set")
