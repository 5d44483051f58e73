"""The settings of a ``journey`` check: ordered HTTP steps, what each asserts and extracts, and its secrets.

Everything a journey can get wrong before it runs is found here, with its key path: a step using
``${token}`` before any step extracts it, an extraction with two sources, a JSON path that does not parse.
Two small grammars live here because both the config and the run read them: ``${name}`` templates
(``$${`` writes a literal ``${``) and a JSON-path subset (``$.a.b[0].c``, ``$['odd key']``, ``$[-1]``).
Secrets are named here by file only; their values are read at each run, so rotating one needs no reload
and no value ever sits in the parsed config.
"""

import re
from typing import Any, List, Mapping, NamedTuple, Optional, Set, Tuple, Union
from urllib.parse import urlsplit

from fleetmon.agent.checks.status_codes import expect_status
from fleetmon.config_reader import Node, readable_file, regex

JOURNEY_KEYS = ("steps", "secrets")
STEP_KEYS = ("name", "method", "url", "headers", "body", "json", "form", "verify_tls", "timeout",
             "follow_redirects", "expect_status", "expect_headers", "body_match", "expect_json", "max_latency",
             "extract", "always")
EXTRACT_SOURCES = ("json", "regex", "header", "cookie")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Step names become the ``step`` label of the journey metrics, so they follow check names.
STEP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_PATH_PART = re.compile(r"\.([^.\[\]\s]+)|\[(-?\d+)\]|\[(?:'([^']*)'|\"([^\"]*)\")\]")


# --- ${name} templates ---------------------------------------------------------------------------


def template_names(text: str) -> Set[str]:
    """The variables a template uses."""
    return {match.group(1) for match in _TEMPLATE.finditer(text) if match.group(1)}


def fill(text: str, values: Mapping[str, str]) -> str:
    """The template with every ``${name}`` replaced; the caller made sure every name has a value."""
    return _TEMPLATE.sub(lambda match: values[match.group(1)] if match.group(1) else "${", text)


def json_template_names(value: Any) -> Set[str]:
    """The variables used in the string leaves (and keys) of a JSON body."""
    if isinstance(value, str):
        return template_names(value)
    if isinstance(value, dict):
        return set().union(*(template_names(str(k)) | json_template_names(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(json_template_names(item) for item in value))
    return set()


def fill_json(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, dict):
        return {fill(str(k), values): fill_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_json(item, values) for item in value]
    return value


# --- the JSON-path subset ------------------------------------------------------------------------


class JsonPath(NamedTuple):
    text: str  # as the user wrote it, for messages
    parts: Tuple[Union[str, int], ...]  # object keys and list indices, in order

    def find(self, document: Any) -> Tuple[bool, Any]:
        """(found, value): whether every part exists in ``document``, and the value it leads to."""
        value = document
        for part in self.parts:
            if isinstance(part, int):
                if not isinstance(value, list) or not -len(value) <= part < len(value):
                    return False, None
            elif not isinstance(value, dict) or part not in value:
                return False, None
            value = value[part]
        return True, value


def parse_json_path(text: str) -> JsonPath:
    """``$`` then ``.key``, ``[index]`` or ``['key']`` parts; ValueError says where it stops making sense."""
    if not text.startswith("$"):
        raise ValueError("a JSON path starts with $ (like $.token or $.items[0].id)")
    parts: List[Union[str, int]] = []
    position = 1
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if match is None:
            raise ValueError(f"cannot read the JSON path from {text[position:]!r} on")
        key, index, single, double = match.groups()
        parts.append(int(index) if index is not None else next(p for p in (key, single, double) if p is not None))
        position = match.end()
    return JsonPath(text, tuple(parts))


# --- the settings --------------------------------------------------------------------------------


class Extraction(NamedTuple):
    variable: str
    source: str  # one of EXTRACT_SOURCES
    expression: str  # the JSON path, regex, header name or cookie name
    path: Optional[JsonPath] = None  # for source "json"


class JourneyStep(NamedTuple):
    name: str
    url: str  # a template; may be relative to the previous step's URL when it starts with a variable
    method: str = "GET"
    headers: Tuple[Tuple[str, str], ...] = ()  # values are templates
    body: Optional[str] = None  # a template, sent as it is
    json_body: Any = None  # sent as JSON; its string leaves are templates
    form: Tuple[Tuple[str, str], ...] = ()  # sent urlencoded; values are templates
    verify_tls: bool = True
    timeout: Optional[float] = None  # None: the check's timeout
    follow_redirects: bool = False
    expect_status: Tuple[str, ...] = ("2xx",)
    expect_headers: Tuple[Tuple[str, str], ...] = ()  # header name, regex its value must match
    body_match: Optional[str] = None
    expect_json: Tuple[Tuple[JsonPath, Any], ...] = ()  # path, the value it must hold
    max_latency: Optional[float] = None
    extract: Tuple[Extraction, ...] = ()
    always: bool = False  # runs even after an earlier step failed (log out, clean up)

    def variable_uses(self) -> List[Tuple[str, Set[str]]]:
        """(key, the variables it uses) for each key of the request that may hold templates."""
        uses = [("url", template_names(self.url)), ("body", template_names(self.body or "")),
                ("json", json_template_names(self.json_body))]
        uses += [(f"headers.{name}", template_names(value)) for name, value in self.headers]
        return uses + [(f"form.{name}", template_names(value)) for name, value in self.form]

    @property
    def variables(self) -> Set[str]:
        """Every variable the request uses."""
        return set().union(*(names for _, names in self.variable_uses()))


class JourneySettings(NamedTuple):
    steps: Tuple[JourneyStep, ...]
    secrets: Tuple[Tuple[str, str], ...] = ()  # variable name, the file holding its value


def journey_settings(node: Node) -> JourneySettings:
    """Read a journey check's own keys from its (already key-checked) mapping."""
    secrets = _secrets(node.child("secrets"))
    steps_node = node.child("steps")
    if steps_node.missing:
        steps_node.fail("is required: a list of HTTP steps")
    items = steps_node.sequence()
    if isinstance(steps_node.value, list) and not items:
        steps_node.fail("must not be empty")
    secret_names = {name for name, _ in secrets}
    known = set(secret_names)
    steps: List[JourneyStep] = []
    for item in items:
        step = _step(item, known, secret_names)
        if step is None:
            continue
        if any(step.name == other.name for other in steps):
            item.child("name").fail(f"{step.name!r} is already the name of an earlier step")
        steps.append(step)
        known |= {extraction.variable for extraction in step.extract}
    return JourneySettings(steps=tuple(steps), secrets=secrets)


def _secrets(node: Node) -> Tuple[Tuple[str, str], ...]:
    secrets = []
    for name, item in node.items():
        if not VARIABLE_NAME.match(name):
            item.fail("secret names must match [A-Za-z_][A-Za-z0-9_]* (they are used as ${name})")
            continue
        item = item.mapping(("file",))
        file_node = item.child("file")
        if file_node.missing:
            file_node.fail("is required: the file holding the secret (its first line is the value)")
            continue
        path = readable_file(file_node)
        if path:
            secrets.append((name, path))
    return tuple(secrets)


def _step(node: Node, known: Set[str], secrets: Set[str]) -> Optional[JourneyStep]:
    if not isinstance(node.value, dict):
        node.fail("must be a mapping (a step: name, url, ...)")
        return None
    node = node.mapping(STEP_KEYS)
    name_node = node.child("name")
    name = name_node.string("")
    if name_node.missing:
        name_node.fail("is required")
    elif isinstance(name_node.value, str) and not STEP_NAME.match(name):
        name_node.fail("step names must match [A-Za-z0-9_.-]+")
    bodies = [key for key in ("body", "json", "form") if not node.child(key).missing]
    if len(bodies) > 1:
        node.fail(f"takes at most one of body, json and form (got {', '.join(bodies)})")
    step = JourneyStep(
        name=name,
        url=_url(node.child("url")),
        method=node.child("method").string("GET", choices=METHODS),
        headers=_headers(node.child("headers")),
        body=node.child("body").string(None),
        json_body=node.child("json").value if not node.child("json").missing else None,
        form=tuple(node.child("form").string_map().items()),
        verify_tls=node.child("verify_tls").boolean(True),
        timeout=_seconds(node.child("timeout")),
        follow_redirects=node.child("follow_redirects").boolean(False),
        expect_status=expect_status(node.child("expect_status")),
        expect_headers=_expect_headers(node.child("expect_headers")),
        body_match=regex(node.child("body_match")),
        expect_json=_expect_json(node.child("expect_json")),
        max_latency=_seconds(node.child("max_latency")),
        extract=_extractions(node.child("extract"), secrets),
        always=node.child("always").boolean(False),
    )
    _undefined_variables(node, step, known)
    return step


def _undefined_variables(node: Node, step: JourneyStep, known: Set[str]) -> None:
    """Name the key using a variable that no secret and no earlier step's extract defines."""
    for key, names in step.variable_uses():
        for variable in sorted(names - known):
            node.errors.add(f"{node.path}.{key}",
                            f"uses ${{{variable}}}, which no secret and no earlier step's extract defines")


def _url(node: Node) -> str:
    if node.missing:
        node.fail("is required")
        return ""
    url = node.string("")
    parts = urlsplit(url)
    # A URL starting with a variable (a Location extracted earlier) is checked once it is filled in.
    if url.startswith("${"):
        return url
    if parts.scheme not in ("http", "https") or not parts.hostname:
        node.fail(f"must be an http:// or https:// URL, or start with a ${{variable}} (got {url!r})")
    return url


def _headers(node: Node) -> Tuple[Tuple[str, str], ...]:
    headers = node.string_map()
    for header in headers:
        if not _HEADER_NAME.match(header):
            node.child(header).fail("is not a valid HTTP header name")
    return tuple(headers.items())


def _seconds(node: Node) -> Optional[float]:
    if node.missing:
        return None
    seconds = node.duration(None)
    if seconds is not None and seconds <= 0:
        node.fail("must be greater than 0")
    return seconds


def _expect_headers(node: Node) -> Tuple[Tuple[str, str], ...]:
    expected = []
    for header, item in node.items():
        if not _HEADER_NAME.match(header):
            item.fail("is not a valid HTTP header name")
            continue
        if not isinstance(item.value, str):
            item.fail("must be a regular expression the header's value must match")
            continue
        expected.append((header, regex(item) or ""))
    return tuple(expected)


def _expect_json(node: Node) -> Tuple[Tuple[JsonPath, Any], ...]:
    expected = []
    for text, item in node.items():
        try:
            path = parse_json_path(text)
        except ValueError as exc:
            item.fail(str(exc))
            continue
        expected.append((path, item.value))
    return tuple(expected)


def _extractions(node: Node, secrets: Set[str]) -> Tuple[Extraction, ...]:
    extractions = []
    for variable, item in node.items():
        if not VARIABLE_NAME.match(variable):
            item.fail("variable names must match [A-Za-z_][A-Za-z0-9_]* (they are used as ${name})")
            continue
        if variable in secrets:
            item.fail("is the name of a secret: an extracted value would take the secret's place")
            continue
        item = item.mapping(EXTRACT_SOURCES)
        sources = [source for source in EXTRACT_SOURCES if not item.child(source).missing]
        if len(sources) != 1:
            item.fail("needs exactly one of: " + ", ".join(EXTRACT_SOURCES))
            continue
        source = sources[0]
        source_node = item.child(source)
        expression = source_node.string("")
        if not expression:
            if isinstance(source_node.value, str):  # anything else was refused as no string already
                source_node.fail("must not be empty")
            continue
        extraction = _extraction(variable, source, expression, source_node)
        if extraction is not None:
            extractions.append(extraction)
    return tuple(extractions)


def _extraction(variable: str, source: str, expression: str, node: Node) -> Optional[Extraction]:
    if source == "json":
        try:
            return Extraction(variable, source, expression, parse_json_path(expression))
        except ValueError as exc:
            node.fail(str(exc))
            return None
    if source == "regex":
        regex(node)  # a bad pattern is an error: the check is left out
    if source == "header" and not _HEADER_NAME.match(expression):
        node.fail("is not a valid HTTP header name")
        return None
    return Extraction(variable, source, expression)

