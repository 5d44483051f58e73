"""Label matchers exactly as Alertmanager reads and applies them (docs/alerting.md, "Matchers").

- A missing label is tested as ``""``: ``team!="ops"`` matches an alert without ``team``.
- Regexes are fully anchored (``fullmatch``) and ASCII-classed, like Go's RE2 ``\\d``, ``\\w``, ``\\s``.
- Text is parsed in Alertmanager's default *fallback* mode: the classic parser's result when it accepts the
  text, otherwise the UTF-8 parser's (quoted names, Go escapes). Both errors are reported when neither does.

The string forms matter beyond display: route keys and so group keys (which receivers see in webhooks and
which the notification log is keyed by) are built from ``Matcher.__str__`` and ``format_labels``.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

OPERATORS = ("=", "!=", "=~", "!~")  # also Alertmanager's sort order of matcher types
_CLASSIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_CLASSIC_PIECE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_RESERVED = set(" \t\n\r\f\v{}!=~,\\\"'`")


class MatcherError(ValueError):
    pass


@dataclass(slots=True, frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> "Matcher":
        if op not in OPERATORS:
            raise MatcherError(f"unknown matcher operator {op!r}")
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(_go_regex(value), re.ASCII)
            # re refuses some patterns with these instead of re.error: a{99999999999}, thousands of nested groups
            except (re.error, OverflowError, RecursionError) as exc:
                raise MatcherError(f"invalid regular expression {value!r} for {name}: {exc}") from None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = self._regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def matches_empty(self) -> bool:
        return self.matches({})

    @property
    def sort_key(self) -> tuple[str, str, int]:
        return self.name, self.value, OPERATORS.index(self.op)

    def __str__(self) -> str:
        name = f'"{_escape(self.name)}"' if any(c in _RESERVED for c in self.name) else self.name
        return f'{name}{self.op}"{_escape(self.value)}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="1",b=~"x"}``: Alertmanager's Matchers.String(), the route half of a group key."""
    return "{" + ",".join(str(m) for m in sorted(matchers, key=lambda m: m.sort_key)) + "}"


def format_labels(labels: Mapping[str, str]) -> str:
    """``{a="1", b="2"}``: Prometheus' LabelSet.String(), the group-label half of a group key (Go quoting)."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters kept, the rest escaped."""
    out = ['"']
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


def parse_matchers(text: str) -> list[Matcher]:
    """One matcher list such as ``{team="ops", severity=~"crit|page"}``, in fallback mode."""
    try:
        return parse_classic(text)
    except MatcherError as classic:
        try:
            return parse_utf8(text)
        except MatcherError as utf8:
            if str(utf8) == str(classic):
                raise
            raise MatcherError(f"{classic} (and as UTF-8 matchers: {utf8})") from None


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher (a command-line argument, a silence's matcher)."""
    found = parse_matchers(text)
    if len(found) != 1:
        raise MatcherError(f"expected one matcher, got {len(found)} in {text!r}")
    return found[0]


# --- the classic syntax (Alertmanager ≤ 0.26 and its fallback) ---------------------------------------

def parse_classic(text: str) -> list[Matcher]:
    body = text
    if body.startswith("{"):
        body = body[1:]
    if body.endswith("}"):
        body = body[:-1]
    return [_classic_piece(piece) for piece in _split_commas(body)]


def _split_commas(body: str) -> list[str]:
    """Split on commas outside double quotes; a trailing comma is allowed."""
    if not body.strip():
        return []
    pieces, current, quoted, escaped = [], [], False, False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces.pop()  # the trailing comma
    if any(not p.strip() for p in pieces):
        raise MatcherError(f"empty matcher in {body!r}")
    return pieces


def _classic_piece(piece: str) -> Matcher:
    match = _CLASSIC_PIECE.match(piece)
    if not match:
        raise MatcherError(f"bad matcher format: {piece.strip()!r}")
    name, op, raw = match.groups()
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        raw = raw[1:-1]
    value, i = [], 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\n':
            value.append("\n" if raw[i + 1] == "n" else raw[i + 1])
            i += 2
            continue
        if char == '"':
            raise MatcherError(f"unescaped double quote in the value of {piece.strip()!r}")
        value.append(char)
        i += 1
    return Matcher.make(name, op, "".join(value))


# --- the UTF-8 syntax (Alertmanager ≥ 0.27) ---------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(?P<op>=~|!~|!=|=)|(?P<punct>[{},])|(?P<quoted>"(?:[^"\\\n]|\\.)*")'
                    r"|(?P<literal>[^\s{}!=~,\\\"'`]+))")


def parse_utf8(text: str) -> list[Matcher]:
    tokens = _utf8_tokens(text)
    if tokens and tokens[0] == ("punct", "{"):
        if tokens[-1] != ("punct", "}"):
            raise MatcherError(f"unbalanced braces in {text!r}")
        tokens = tokens[1:-1]
    elif tokens and tokens[-1] == ("punct", "}"):
        raise MatcherError(f"unbalanced braces in {text!r}")
    matchers, i = [], 0
    while i < len(tokens):
        if len(tokens) < i + 3 or tokens[i][0] not in ("quoted", "literal") or tokens[i + 1][0] != "op" \
                or tokens[i + 2][0] not in ("quoted", "literal"):
            raise MatcherError(f"expected NAME OP VALUE in {text!r}")
        matchers.append(Matcher.make(_unquote(tokens[i]), tokens[i + 1][1], _unquote(tokens[i + 2])))
        i += 3
        if i < len(tokens):
            if tokens[i] != ("punct", ","):
                raise MatcherError(f"expected a comma after {matchers[-1]} in {text!r}")
            i += 1
    return matchers


def _utf8_tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise MatcherError(f"unexpected {text[pos:].strip()[:1]!r} in {text!r}")
        kind = match.lastgroup
        tokens.append((kind, match[kind]))
        pos = match.end()
    return tokens


def _unquote(token: tuple[str, str]) -> str:
    kind, text = token
    if kind == "literal":
        return text
    body, out, i = text[1:-1], [], 0
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        code = body[i + 1]
        if code in simple:
            out.append(simple[code])
            i += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise MatcherError(f"bad escape \\{code}{digits} in {text}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise MatcherError(f"unknown escape \\{code} in {text}")
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _go_regex(pattern: str) -> str:
    """RE2 spellings Python lacks: ``\\z`` (end of text) and the POSIX classes inside brackets."""
    pattern = pattern.replace(r"\z", r"\Z")
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    return pattern


_POSIX_CLASSES = {"[:alnum:]": "0-9A-Za-z", "[:alpha:]": "A-Za-z", "[:digit:]": "0-9", "[:lower:]": "a-z",
                  "[:upper:]": "A-Z", "[:space:]": r"\t\n\v\f\r ", "[:word:]": "0-9A-Za-z_",
                  "[:xdigit:]": "0-9A-Fa-f", "[:punct:]": r"!-/:-@\[-`{-~"}


def is_label_name(name: str, classic: bool = True) -> bool:
    return bool(_CLASSIC_NAME.fullmatch(name)) if classic else bool(name)
