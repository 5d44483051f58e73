"""The shape of the package, read from the source: the import graph of every module under agent/fleetmon
and the size of each module.

Every import counts as an edge, wherever it is written: at module level, under ``if TYPE_CHECKING:``
(a cycle there is still a circle a reader has to untangle, and a type checker follows it) and inside
functions (imported late is imported all the same). ``from package import name`` is an edge to the
submodule when ``name`` is one, else to the package.
"""

import ast
import textwrap
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Set

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "agent" / "fleetmon"
#: The programs' entry points: `fleetmon <command>` dispatches to every program (agent, hub, deploy,
#: simulate), so these two alone may import the agent's package and the hub's composition root.
ENTRY_POINTS = {"fleetmon.cli", "fleetmon.__main__"}
AGENT = "fleetmon.agent"
HUB_SERVICE = "fleetmon.hub.service"
MAX_LINES = 400


class Module(NamedTuple):
    name: str
    path: Path
    is_package: bool


def modules() -> Dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        if name in found and found[name].is_package:
            continue  # a package and a module of one name (a split under way): Python imports the package
        found[name] = Module(name, path, is_package)
    return found


def _absolute(module: Module, level: int, target: Optional[str]) -> str:
    """The absolute name a relative import (``from ..x import y``) in ``module`` refers to."""
    if level == 0:
        return target or ""
    package = module.name.split(".")
    if not module.is_package:
        package.pop()
    base = package[:len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(module: Module, known: Set[str]) -> Set[str]:
    """The modules of the package that ``module`` imports, anywhere in its source."""
    edges = set()
    for node in ast.walk(ast.parse(module.path.read_text(), str(module.path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node.level, node.module)
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                     for alias in node.names]
        else:
            continue
        for name in names:
            # ``import a.b.c`` where only a.b is a module of ours (c a name) still depends on a.b
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module.name:
                edges.add(name)
    return edges


@pytest.fixture(scope="module")
def graph() -> Dict[str, Set[str]]:
    found = modules()
    return {name: imports_of(module, set(found)) for name, module in found.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, set(component), component[0]) for component in components]


def _cycle_in(graph: Dict[str, Set[str]], component: Set[str], start: str) -> List[str]:
    """The shortest way from ``start`` back to itself inside its component (breadth first)."""
    previous: Dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & component):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in no cycle of its component")


def test_the_cycle_finder_names_the_way_round():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]  # a self-import is no cycle between modules
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in found)


def test_nothing_outside_the_agent_imports_the_agent(graph):
    offenders = sorted(f"{name} imports {target}" for name, targets in graph.items()
                       if name not in ENTRY_POINTS and not _inside(name, AGENT)
                       for target in targets if _inside(target, AGENT))
    assert not offenders, "\n".join(offenders)


def test_no_module_imports_the_hub_composition_root(graph):
    offenders = sorted(name for name, targets in graph.items() if HUB_SERVICE in targets and name not in ENTRY_POINTS)
    assert not offenders, f"{HUB_SERVICE} is imported by: {', '.join(offenders)}"


def test_no_module_is_longer_than_400_lines():
    lengths = {path.relative_to(PACKAGE_ROOT.parent): len(path.read_text().splitlines())
               for path in PACKAGE_ROOT.rglob("*.py")}
    offenders = sorted(f"{path}: {lines} lines" for path, lines in lengths.items() if lines > MAX_LINES)
    assert not offenders, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(offenders)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING
        import fleetmon.protocol.topics
        from fleetmon.hub import state
        from fleetmon.hub.store import Store
        from . import sibling
        if TYPE_CHECKING:
            from fleetmon.hub.service import Hub
        def run():
            from fleetmon.agent.daemon import Agent
    """))
    known = {"fleetmon.protocol.topics", "fleetmon.hub", "fleetmon.hub.state", "fleetmon.hub.store",
             "fleetmon.hub.service", "fleetmon.agent.daemon", "fleetmon.hub.sibling", "fleetmon.hub.mod"}
    assert imports_of(Module("fleetmon.hub.mod", source, False), known) == {
        "fleetmon.protocol.topics",  # import a.b.c
        "fleetmon.hub.state",  # from a package, a submodule
        "fleetmon.hub.store",  # from a package, a name it exports
        "fleetmon.hub.sibling",  # relative
        "fleetmon.hub.service",  # under TYPE_CHECKING
        "fleetmon.agent.daemon",  # inside a function
    }


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")
