"""Alertmanager's template functions (its ``template.DefaultFuncs``), with Go's semantics.

Alertmanager 0.25 has toUpper, toLower, title, join, match, safeHtml, reReplaceAll and stringSlice; later
releases added trimSpace (0.26), date, tz, since, humanizeDuration (0.28), safeUrl, urlUnescape, toJson
(0.30), list, append, dict (0.32), now (0.33), toDate, mustToDate, base64encode, base64decode and
routeLabels (0.34). All are here, as Alertmanager 0.34 defines them. Regular expressions are Go's RE2 syntax
(gotpl's engine, reached through its Sprig functions), not Python's.

``routeLabels`` needs the data being rendered: the engine adds it (fleetmon.hub.alerting.templates.engine).
"""

import base64
import binascii
import math
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from gotime.go import UTC, ParseError, Time
from gotpl import HTML, URL, FunctionResult, TemplateExecutionError
from gotpl.funcs.sprig import hermetic_text_func_map

from fleetmon.hub.alerting.templates.data import Strings, go_json
from fleetmon.hub.alerting.templates.times import GoDuration, GoTime, load_location, named_offset

_SPRIG = hermetic_text_func_map()
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
_URL_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})(.{0,2})", re.DOTALL)


def _strings(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TemplateExecutionError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def to_upper(text: str) -> str:
    """strings.ToUpper maps one rune to one rune: 'ß' stays 'ß' (Python's upper() writes 'SS')."""
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in _strings(text, "toUpper"))


def to_lower(text: str) -> str:
    return "".join(lower if len(lower := char.lower()) == 1 else char for char in _strings(text, "toLower"))


def title(text: str) -> str:
    """golang.org/x/text/cases.Title for American English: each word's first letter upper case, the rest
    lower case. A word runs over letters, marks, apostrophes and underscores; digits and other characters
    end it (so "1st" becomes "1St", as it does in Alertmanager)."""
    out = []
    in_word = False
    for char in _strings(text, "title"):
        kind = unicodedata.category(char)
        if kind[0] in "LM":
            out.append(char.lower() if in_word else (char.title() if len(char.title()) == 1 else char))
            in_word = True
        else:
            out.append(char)
            in_word = in_word and (char in "'_\u2019" or kind == "Pc")
    return "".join(out)


def trim_space(text: str) -> str:
    return _strings(text, "trimSpace").strip(_GO_SPACE)


def join(sep: str, items: list) -> str:
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise TemplateExecutionError(f"join: expected a list of strings, got {type(items).__name__}")
    return _strings(sep, "join").join(items)


def match(pattern: str, text: str) -> FunctionResult:
    """regexp.MatchString: unanchored, so "^...$" is needed to match the whole text."""
    return _SPRIG["mustRegexMatch"](_strings(pattern, "match"), _strings(text, "match"))


def re_replace_all(pattern: str, replacement: str, text: str) -> FunctionResult:
    """Regexp.ReplaceAllString: $1 and ${name} in the replacement expand to groups."""
    return _SPRIG["mustRegexReplaceAll"](_strings(pattern, "reReplaceAll"), _strings(text, "reReplaceAll"),
                                         _strings(replacement, "reReplaceAll"))


def safe_html(text: str) -> HTML:
    return HTML(_strings(text, "safeHtml"))


def safe_url(text: str) -> URL:
    return URL(_strings(text, "safeUrl"))


def url_unescape(text: str) -> str:
    """url.QueryUnescape: '+' is a space, %XX a byte; a malformed escape is an error."""
    bad = _URL_ESCAPE.search(_strings(text, "urlUnescape"))
    if bad:
        raise TemplateExecutionError(f'invalid URL escape "%{bad.group(1)}"')
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


def string_slice(*items: str) -> Strings:
    return Strings(_strings(item, "stringSlice") for item in items)


def date(layout: str, when: GoTime) -> str:
    return _time(when, "date").format(_strings(layout, "date"))


def tz(name: str, when: GoTime) -> GoTime:
    return _time(when, "tz").in_(load_location(_strings(name, "tz")))


def now() -> GoTime:
    return GoTime(Time.now())


def since(when: GoTime) -> GoDuration:
    return now().sub(_time(when, "since"))


def humanize_duration(value: object) -> str:
    """prometheus/common's HumanizeDuration: seconds (a number, a numeric string or a duration) as
    '1d 2h 3m 4s', '2.5s' or '3.5ms'."""
    seconds = _float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        return _g4(seconds)
    if seconds == 0:
        return "0s"
    if abs(seconds) >= 1:
        sign = "-" if seconds < 0 else ""
        whole = int(abs(seconds))
        days, rest = divmod(whole, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{sign}{minutes}m {secs}s"
        return f"{sign}{_g4(abs(seconds))}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(seconds) >= 1:
            break
        prefix = unit
        seconds *= 1000
    return f"{_g4(seconds)}{prefix}s"


def _float(value: object) -> float:
    if isinstance(value, GoDuration):
        return value.seconds()
    if isinstance(value, bool):
        raise TemplateExecutionError("can't convert bool to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise TemplateExecutionError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise TemplateExecutionError(f"can't convert {type(value).__name__} to float")


def _g4(value: float) -> str:
    """Go's %.4g: like C's, except for infinities and NaN."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def to_date(layout: str, text: str) -> GoTime:
    try:
        return GoTime(named_offset(Time.parse_in_location(layout, text, UTC)))
    except ParseError:
        return GoTime.zero()


def must_to_date(layout: str, text: str) -> GoTime:
    try:
        return GoTime(named_offset(Time.parse_in_location(_strings(layout, "mustToDate"),
                                                          _strings(text, "mustToDate"), UTC)))
    except ParseError as exc:
        raise TemplateExecutionError(str(exc)) from exc


def to_json(value: object) -> str:
    return go_json(value)


def base64_encode(text: str) -> str:
    return base64.urlsafe_b64encode(_strings(text, "base64encode").encode("utf-8")).decode("ascii")


def base64_decode(text: str) -> str:
    try:
        decoded = base64.b64decode(_strings(text, "base64decode").encode("ascii"), altchars=b"-_", validate=True)
        return decoded.decode("utf-8", "replace")
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise TemplateExecutionError(f"illegal base64 data: {exc}") from exc


def make_list(*items: object) -> list:
    return list(items)


def append(items: list, *more: object) -> list:
    if not isinstance(items, (list, tuple)):
        raise TemplateExecutionError(f"append: expected a list, got {type(items).__name__}")
    return [*items, *more]


def make_dict(*pairs: object) -> dict:
    if len(pairs) % 2:
        raise TemplateExecutionError("dict requires an even number of arguments")
    result = {}
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(key, str):
            raise TemplateExecutionError("dict keys must be strings")
        result[key] = value
    return result


def _time(value: object, what: str) -> GoTime:
    if not isinstance(value, GoTime):
        raise TemplateExecutionError(f"{what}: expected a time.Time, got {type(value).__name__}")
    return value


#: Name to function, as Alertmanager registers them; ``routeLabels`` is added per render.
FUNCTIONS: dict[str, Callable[..., object]] = {
    "toUpper": to_upper, "toLower": to_lower, "title": title, "trimSpace": trim_space, "join": join,
    "match": match, "safeHtml": safe_html, "safeUrl": safe_url, "urlUnescape": url_unescape,
    "reReplaceAll": re_replace_all, "stringSlice": string_slice, "date": date, "tz": tz, "now": now,
    "since": since, "humanizeDuration": humanize_duration, "toDate": to_date, "mustToDate": must_to_date,
    "toJson": to_json, "base64encode": base64_encode, "base64decode": base64_decode, "list": make_list,
    "append": append, "dict": make_dict,
}
