"""Go struct declarations read from source, enough for scripts/alertmanager_config_keys.py: each struct's fields
with their YAML keys (``yaml:"name"``, yaml.v2's lowercased field name without one, ``,inline`` embeddings), other
type declarations, and the bodies of UnmarshalYAML methods; packages found in a checkout of Alertmanager, its
vendor/, the Go module cache or a directory given per module. Not a Go parser: it reads gofmt'ed declarations."""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ALERTMANAGER = "github.com/prometheus/alertmanager"
INLINE_MAP = ""  # the key of a named map field tagged ``,inline``: yaml.v2 puts every key of the struct in it


@dataclass
class GoField:
    key: str | None  # None: embedded inline; INLINE_MAP: a map inline, whose keys are the struct's
    type: str


@dataclass
class GoType:
    name: str
    package: "GoPackage"
    fields: list[GoField] | None  # None: not a struct
    underlying: str = ""
    unmarshal_body: str = ""


@dataclass
class GoPackage:
    import_path: str
    directory: Path | None
    types: dict[str, GoType] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # alias -> import path (all files of the package)


def go_blocks(source: str, opening: int) -> int:
    """The index just past the brace matching the one at ``opening``, skipping comments and literals."""
    depth, i = 0, opening
    while i < len(source):
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = len(source) if i < 0 else i
            continue
        if source.startswith("/*", i):
            i = source.index("*/", i) + 2
            continue
        if c in "`\"'":
            end = i + 1
            while source[end] != c:
                end += 2 if c != "`" and source[end] == "\\" else 1
            i = end + 1
            continue
        depth += {"{": 1, "}": -1}.get(c, 0)
        i += 1
        if depth == 0:
            return i
    raise ValueError("unbalanced braces")


_FIELD = re.compile(r"^(?:(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s+)?(?P<type>[^`\s][^`]*?)\s*"
                    r"(?:`(?P<tag>[^`]*)`)?$")


def struct_fields(body: str) -> list[GoField]:
    fields = []
    for line in body.splitlines():
        line = re.sub(r"//.*", "", line).strip()
        found = _FIELD.match(line) if line else None
        if not found:
            continue
        tag = re.search(r'yaml:"([^"]*)"', found["tag"] or "")
        key, *options = tag[1].split(",") if tag else ("",)
        if key == "-":
            continue
        if found["names"] is None:  # embedded: its keys are this struct's only with ,inline
            if "inline" in options:
                fields.append(GoField(None, found["type"]))
            continue
        if "inline" in options and found["type"].startswith("map["):
            fields.append(GoField(INLINE_MAP, found["type"]))
            continue
        for name in re.split(r"\s*,\s*", found["names"]):
            if name[0].isupper():
                fields.append(GoField(key or name.lower(), found["type"]))  # yaml.v2's default key
    return fields if re.search(r'yaml:"', body) else []  # no yaml tag: the type reads itself


class GoSource:
    """The packages of the checkout and of the modules it requires, read on demand."""

    def __init__(self, checkout: Path, modules: dict[str, Path]) -> None:
        self.checkout = checkout
        self.overrides = modules
        self.requires = dict(re.findall(r"^\s*(?:require\s+)?([\w./-]+)\s+(v[\w.+-]+)",
                                        (checkout / "go.mod").read_text(), re.M))
        cache = os.environ.get("GOMODCACHE") or str(Path(os.environ.get("GOPATH", str(Path.home() / "go")))
                                                     / "pkg" / "mod")
        self.cache = Path(cache)
        self.packages: dict[str, GoPackage] = {}

    def directory(self, import_path: str) -> Path | None:
        if import_path == ALERTMANAGER or import_path.startswith(ALERTMANAGER + "/"):
            return self.checkout / import_path[len(ALERTMANAGER) + 1:]
        module = max((m for m in [*self.requires, *self.overrides]
                      if import_path == m or import_path.startswith(m + "/")), key=len, default=None)
        if module is None:
            return None
        rest = import_path[len(module) + 1:]
        escaped = re.sub(r"[A-Z]", lambda m: "!" + m[0].lower(), module)
        for candidate in (self.overrides.get(module), self.checkout / "vendor" / module,
                          self.cache / f"{escaped}@{self.requires.get(module, '')}"):
            if candidate is not None and (candidate / rest).is_dir():
                return candidate / rest
        return None

    def package(self, import_path: str) -> GoPackage:
        if import_path in self.packages:
            return self.packages[import_path]
        package = self.packages[import_path] = GoPackage(import_path, self.directory(import_path))
        for path in sorted(package.directory.glob("*.go")) if package.directory else ():
            if not path.name.endswith("_test.go"):
                self._read(package, path.read_text())
        return package

    def _read(self, package: GoPackage, source: str) -> None:
        for block in re.finditer(r"^import\s*\(([^)]*)\)|^import\s+(\w+\s+)?\"([^\"]+)\"", source, re.M):
            lines = block[1].splitlines() if block[1] is not None else [f'{block[2] or ""}"{block[3]}"']
            for line in lines:
                spec = re.match(r'\s*(\w+\s+)?"([^"]+)"', line)
                if spec:
                    alias = (spec[1] or "").strip() or re.sub(r"\.v\d+$", "", spec[2].rsplit("/", 1)[-1])
                    package.imports[alias] = spec[2]
        for found in re.finditer(r"^type\s+(\w+)\s+(struct\s*\{|[^\n]+)", source, re.M):
            name = found[1]
            if found[2].startswith("struct"):
                end = go_blocks(source, found.end() - 1)
                package.types[name] = GoType(name, package, struct_fields(source[found.end():end - 1]))
            else:
                package.types[name] = GoType(name, package, None, re.sub(r"//.*", "", found[2]).strip())
        for found in re.finditer(r"^func\s*\(\w+\s+\*?(\w+)\)\s*UnmarshalYAML\([^{]*\{", source, re.M):
            if found[1] in package.types:
                package.types[found[1]].unmarshal_body = source[found.end():go_blocks(source, found.end() - 1)]

    def resolve(self, name: str, within: GoPackage) -> GoType | None:
        if "." in name:
            alias, name = name.split(".", 1)
            if alias not in within.imports:
                return None
            return self.package(within.imports[alias]).types.get(name)
        return within.types.get(name)
