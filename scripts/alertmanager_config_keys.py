"""Every YAML key of Alertmanager's config structs, loaded through fleetmon's loader: is any refused as unknown?

Reads the structs from a local checkout of prometheus/alertmanager (nothing of it is copied here), starting at
config.Config and following each field's type: config/config.go, config/notifiers.go, config/common,
notify/*/config.go, timeinterval, and what they embed (``yaml:",inline"``). Types of other modules
(prometheus/common's HTTPClientConfig, TLSConfig, OAuth2; prometheus/sigv4's SigV4Config) are read where Go
keeps them: the checkout's vendor/, the module cache (GOMODCACHE, else GOPATH/pkg/mod, else ~/go/pkg/mod) at the
version go.mod requires, or ``--module PATH=DIR``; without their source their keys are listed as not checked.

Each struct is one place in a config (``receivers[0].slack_configs[0].fields[0]``). For each place one config
is loaded with fleetmon.hub.config.parse_config({"alerting": ...}): the place's keys, each with a plausible value
for its Go type, plus a key that exists nowhere, which the loader must call unknown (else the place was never
looked at and is reported so). A key is refused when the loader's error at its path says "unknown key". A key
that gets another error, loaded alone, is listed with that error: the loader knows it, but refuses the value
or refuses the key for a reason it names.

Usage: python scripts/alertmanager_config_keys.py ALERTMANAGER_CHECKOUT [--module PATH=DIR]... [--verbose]
Exits 1 when a key is refused as unknown or a place was not looked at, 0 otherwise.
"""

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "agent"))

from go_structs import ALERTMANAGER, INLINE_MAP, GoPackage, GoSource, GoType

from fleetmon.config_reader import ConfigError
from fleetmon.hub.config import parse_config

SENTINEL = "fleetmon_no_such_key"
#: What a place needs around its keys for the loader to read it: a route's receiver, a receiver's name.
BASE = {"route": {"receiver": "r"}, "receivers": [{"name": "r"}]}
REQUIRED = {"Route@": {"receiver": "r"}, "Receiver": {"name": "r"}, "MuteTimeInterval": {"name": "mti"},
            "TimeInterval": {"name": "ti"}, "Authorization": {"credentials": "x"}}
#: Plausible values by Go type name (the last part of a qualified name), then by key.
BY_TYPE = {"string": "x", "bool": True, "int": 1, "int64": 1, "uint64": 1, "float64": 0.5, "Duration": "1m",
           "Secret": "x", "URL": "http://127.0.0.1:9/", "SecretURL": "http://127.0.0.1:9/",
           "SecretTemplateURL": "http://127.0.0.1:9/", "HostPort": "127.0.0.1:25", "Matchers": ['a="b"'],
           "MatchRegexps": {"a": "b.*"}, "Regexp": "b.*", "LabelSet": {"a": "b"}, "LabelName": "a",
           "WeekdayRange": "monday:friday", "DayOfMonthRange": "1:7", "MonthRange": "january",
           "YearRange": "2026", "Location": "UTC", "TLSVersion": "TLS12", "ProxyHeader": {"X-A": ["b"]},
           "any": "x"}
BY_KEY = {"to": "ops@example.com", "from": "hub@example.com", "smtp_from": "hub@example.com",
          "start_time": "09:00", "end_time": "17:00", "templates": [], "group_by": ["a"], "equal": ["a"],
          "mute_time_intervals": ["mti"], "active_time_intervals": ["ti"], "receiver": "r", "name": "r",
          "channel": "#ops", "api_type": "auto", "parse_mode": "HTML", "severity": "error",
          "min_version": "TLS12", "max_version": "TLS13", "grant_type": "client_credentials",
          "thread_by_date": "daily", "region": "us-east-1",
          "topic_arn": "arn:aws:sns:us-east-1:123456789012:t", "chat_id": 1, "priority": "1",
          "Authorization.type": "Bearer", "OpsGenieConfigResponder.type": "team",
          "VictorOpsConfig.message_type": "CRITICAL", "WechatConfig.message_type": "text",
          "OpsGenieConfig.priority": "P3", "JiraConfig.priority": "High"}


@dataclass
class Place:
    path: tuple  # keys and list indices from the alerting section
    struct: GoType
    chain: tuple  # the structs of the places around it, outermost first, with their paths
    keys: dict[str, Any] = field(default_factory=dict)  # key -> plausible value
    missing: list[tuple[str, str]] = field(default_factory=list)  # keys whose type's source was not found, and it


class Walker:
    """The places of Alertmanager's config, from config.Config down, each struct type at most twice on a path
    (a route and its child routes)."""

    def __init__(self, source: GoSource) -> None:
        self.source = source
        self.places: list[Place] = []

    def walk(self, struct: GoType, path: tuple = (), chain: tuple = ()) -> None:
        place = Place(path, struct, chain)
        self.places.append(place)
        for key, type_name, within in self.keys_of(struct):
            value, child_path, child = self.value_of(type_name, within, (*path, key))
            if child is not None:
                value = filled(value, required(child, child_path))
                if not any(s.name == child.name for s, _ in chain):
                    self.walk(child, child_path, (*chain, (struct, path)))
            elif value is None:
                place.missing.append((key, type_name.lstrip("*[]")))
                value = {}
            else:
                value = plausible(struct.name, key, value)
            place.keys[key] = value

    def keys_of(self, struct: GoType):
        for f in struct.fields or ():
            if f.key is not None:
                yield f.key, f.type, struct.package
                continue
            embedded = self.source.resolve(f.type.lstrip("*"), struct.package)
            if embedded is None:
                raise SystemExit(f"{struct.name} embeds {f.type}, whose source was not found: its keys are "
                                 "this struct's (vendor/, GOMODCACHE or --module)")
            yield from self.keys_of(embedded)

    def value_of(self, type_name: str, within: GoPackage, path: tuple) -> tuple[Any, tuple, GoType | None]:
        """A plausible value, and the struct of the place it opens with its path (None for a scalar)."""
        type_name = type_name.lstrip("*")
        if type_name.startswith("[]"):
            value, child_path, child = self.value_of(type_name[2:], within, (*path, 0))
            return [value] if child is None else [{}], child_path, child
        if type_name.startswith("map["):
            value_type = type_name[type_name.index("]") + 1:]
            value, child_path, child = self.value_of(value_type, within, (*path, "x"))
            return {"x": value if child is None else {}}, child_path, child
        short = type_name.rsplit(".", 1)[-1]
        go_type = self.source.resolve(type_name, within) if short not in ("string", "bool", "any") else None
        if go_type is not None and go_type.fields and go_type.fields[0].key == INLINE_MAP:  # it reads as a map
            return self.value_of(go_type.fields[0].type, go_type.package, path)
        helper = go_type and not go_type.fields and self.helper(go_type)
        if go_type is not None and (go_type.fields or helper):
            return {}, path, helper or go_type
        if short in BY_TYPE:
            return BY_TYPE[short], path, None
        if go_type is not None and go_type.underlying:
            return self.value_of(go_type.underlying, go_type.package, path)
        return None, path, None

    def helper(self, go_type: GoType) -> GoType | None:
        """The struct an UnmarshalYAML reads into when the type's own fields carry no keys (TimeRange's)."""
        for name in re.findall(r"var\s+\w+\s+(\w+)", go_type.unmarshal_body):
            found = go_type.package.types.get(name)
            if found is not None and found.fields:
                return found
        return None


def plausible(struct: str, key: str, value: Any) -> Any:
    """A scalar key's value: the table's, else a URL for a key named like one, else the type's."""
    if f"{struct}.{key}" in BY_KEY or key in BY_KEY:
        return BY_KEY.get(f"{struct}.{key}", BY_KEY.get(key))
    if value == "x" and (key == "url" or key.endswith("_url")):
        return "http://127.0.0.1:9/"
    return value


def filled(value: Any, needed: dict[str, Any]) -> Any:
    """A struct's value (``{}``, ``[{}]`` or ``{"x": {}}``) with what its place needs."""
    if isinstance(value, list):
        return [filled(item, needed) for item in value]
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return {k: filled(v, needed) for k, v in value.items()}
    return {**needed}


def shown(path: tuple) -> str:
    text = "alerting"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def required(struct: GoType, path: tuple) -> dict[str, Any]:
    return dict(REQUIRED.get(f"{struct.name}@" if path == ("route",) else struct.name, {}))


def document(place: Place, keys: dict[str, Any]) -> dict[str, Any]:
    """The alerting section with ``keys`` at the place (and what each place around it needs)."""
    doc = copy.deepcopy(BASE)
    for struct, path in (*place.chain, (place.struct, place.path)):
        target = at(doc, path)
        for key, value in required(struct, path).items():
            target.setdefault(key, value)
    target = at(doc, place.path)
    target.update(keys)
    for key, value in required(place.struct, place.path).items():
        if f"{key}_file" in keys:  # the key tried is the other way to give it
            target.pop(key, None)
        else:
            target[key] = value
    return doc


def at(doc: dict[str, Any], path: tuple) -> dict[str, Any]:
    node: Any = doc
    for part, following in zip(path, (*path[1:], None)):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(part, int):
            if not node:
                node.append(empty)
            node = node[0]
        else:
            if not isinstance(node.get(part), type(empty)) or (isinstance(empty, list) and not node[part]):
                node[part] = empty
            node = node[part]
    return node


def load(doc: dict[str, Any]) -> dict[str, str]:
    """The loader's errors by path."""
    try:
        parse_config({"alerting": doc})
    except ConfigError as exc:
        errors: dict[str, str] = {}
        for line in exc.errors:
            where, _, why = line.partition(": ")
            errors.setdefault(where, why)
        return errors
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of github.com/prometheus/alertmanager")
    parser.add_argument("--module", action="append", default=[], metavar="PATH=DIR",
                        help="where a required Go module's source is (e.g. github.com/prometheus/common=~/common)")
    parser.add_argument("--verbose", action="store_true", help="list every key checked")
    args = parser.parse_args()
    modules = dict((path, Path(directory).expanduser()) for path, _, directory in
                   (item.partition("=") for item in args.module))
    source = GoSource(args.checkout, modules)
    root = source.package(f"{ALERTMANAGER}/config").types.get("Config")
    if root is None or not root.fields:
        print(f"no config.Config struct in {args.checkout}/config")
        return 1
    walker = Walker(source)
    walker.walk(root)
    with tempfile.TemporaryDirectory() as workdir:
        pem = certificate(Path(workdir))
        for place in walker.places:  # a *_file key names a file holding what its key without _file would
            for key in place.keys:
                if key.endswith("_file") and place.keys[key] == "x":
                    if key in pem:
                        place.keys[key] = pem[key]
                        continue
                    held = place.keys.get(key.removesuffix("_file"), "x")
                    path = Path(workdir) / f"{len(os.listdir(workdir))}-{key}"
                    path.write_text(f"{held if isinstance(held, (str, int)) else 'x'}\n")
                    place.keys[key] = str(path)
        return report(walker, args.verbose)


def certificate(workdir: Path) -> dict[str, str]:
    """A self-signed certificate and its key (openssl), for tls_config's ca_file, cert_file and key_file; none
    without openssl (those keys then get a file that is no certificate, and their value is refused)."""
    if shutil.which("openssl") is None:
        return {}
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return {"ca_file": str(cert), "cert_file": str(cert), "key_file": str(key)}


def report(walker: Walker, verbose: bool) -> int:
    """Loads each place and prints what was refused; 1 when a key is unknown to the loader or a place that no
    refused key hides was not looked at."""
    unknown, other, unreached, hidden, checked = [], [], [], [], 0
    refused_paths: list[tuple] = []
    unread: dict[str, list[str]] = {}
    for place in walker.places:
        if any(place.path[:len(p)] == p for p in refused_paths):
            hidden.append(shown(place.path))
            continue
        for key, type_name in place.missing:
            unread.setdefault(type_name, []).append(shown((*place.path, key)))
        errors = load(document(place, {**place.keys, SENTINEL: "x"}))
        if not errors.get(shown((*place.path, SENTINEL)), "").startswith("unknown key"):
            unreached.append(f"{shown(place.path)} ({place.struct.name}): {sorted(errors.items())[:3]}")
            refused_paths.append(place.path)
            continue
        for key in place.keys:
            checked += 1
            where = shown((*place.path, key))
            why = errors.get(where, "")
            if why.startswith("unknown key"):
                unknown.append(f"{where}: {why.split(' (expected', 1)[0]} ({place.struct.name})")
                refused_paths.append((*place.path, key))
                continue
            if why:
                alone = load(document(place, {key: place.keys[key]})).get(where, "")
                if alone:
                    other.append(f"{where}: {alone}")
                    refused_paths.append((*place.path, key))
            if verbose:
                print("checked", where, f"({place.struct.name})")
    for line in unknown:
        print("UNKNOWN KEY", line)
    for line in other:
        print("REFUSED FOR A REASON", line)
    for line in unreached:
        print("NOT LOOKED AT", line)
    if hidden:
        print(f"NOT CHECKED {len(hidden)} places under a refused key: {', '.join(hidden[:5])}"
              f"{', ...' if len(hidden) > 5 else ''}")
    for type_name, where in sorted(unread.items()):
        print(f"NOT CHECKED the keys of {type_name} (source not found: vendor/, GOMODCACHE or --module), at "
              f"{len(where)} places: {', '.join(where[:3])}{', ...' if len(where) > 3 else ''}")
    print(f"{checked} keys in {len(walker.places) - len(hidden)} places checked: {len(unknown)} unknown to the "
          f"loader, {len(other)} refused for a reason it gives, {len(unreached)} places not looked at")
    return 1 if unknown or unreached else 0


if __name__ == "__main__":
    sys.exit(main())
