"""Alertmanager's own routing test cases, run against fleetmon's routing tree.

Reads the cases from a local checkout of prometheus/alertmanager (nothing of it is copied here): the table
tests of dispatch/route_test.go (TestRouteMatch, TestRouteMatchers, TestRouteMatchersAndMatch: a routing tree,
then per case the alert's labels, the receivers with their group_by, and the route keys) and of
cli/test_routing_test.go (amtool's `config routes test` cases, on configs that carry `templates:`). Each
tree or config is loaded with fleetmon's loader; each case's labels are routed through it and compared.

Usage: python scripts/alertmanager_route_cases.py ALERTMANAGER_CHECKOUT
Prints one line per failing case and a summary; exits 1 when a case fails or none was found.
"""

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "agent"))

from fleetmon.hub.alerting.config import load_routing

TABLE_TESTS = ("TestRouteMatch", "TestRouteMatchers", "TestRouteMatchersAndMatch")
_PAIR = re.compile(r'"([^"]+)"\s*:\s*"([^"]*)"')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def go_function(source: str, name: str) -> str:
    start = source.index(f"func {name}(")
    following = source.find("\nfunc ", start + 1)
    return source[start:following if following > 0 else len(source)]


def balanced(text: str, opening: int) -> str:
    """The text between the brace at ``opening`` and its match."""
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[opening + 1:i]
    raise ValueError("unbalanced braces")


def route_cases(function: str) -> tuple[str, list[dict]]:
    """The tree (YAML) and the cases of one table test."""
    tree = function.split("in := `", 1)[1].split("`", 1)[0]
    table = function[function.index("tests := []struct"):]
    cases = []
    for found in re.finditer(r"input:\s*model\.LabelSet\{", table):
        labels = dict(_PAIR.findall(balanced(table, found.end() - 1)))
        rest = table[found.end():]
        result = balanced(rest, rest.index("[]*RouteOpts{") + len("[]*RouteOpts{") - 1)
        opts = []
        for item in re.finditer(r"\{\s*Receiver:", result):
            body = balanced(result, item.start())
            receiver = re.search(r'Receiver:\s*"([^"]*)"', body)[1]
            group_by = re.search(r"GroupBy:\s*lset\(([^)]*)\)", body)
            group_by_all = bool(re.search(r"GroupByAll:\s*true", body))
            # ``def.GroupBy``, the default options', is the empty set; with GroupByAll the set does not count
            listed = sorted(_STRING.findall(group_by[1])) if group_by else []
            opts.append({"receiver": receiver, "group_by_all": group_by_all,
                         "group_by": None if group_by_all else listed})
        keys_at = rest.index("keys:")
        keys = [s.encode().decode("unicode_escape") for s in
                _STRING.findall(balanced(rest, rest.index("{", keys_at)))]
        cases.append({"labels": labels, "opts": opts, "keys": keys})
    return tree, cases


def receivers_of(tree: dict) -> set[str]:
    names = {tree.get("receiver")}
    for child in tree.get("routes") or ():
        names |= receivers_of(child)
    return {name for name in names if name}


def check_table_test(function: str, name: str, workdir: Path) -> tuple[int, list[str]]:
    tree_text, cases = route_cases(function)
    tree = yaml.safe_load(tree_text)
    config = {"route": tree, "receivers": [{"name": n} for n in sorted(receivers_of(tree))]}
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    routing = load_routing(str(path))
    failures = []
    for number, case in enumerate(cases, 1):
        matched = routing.route.match(case["labels"])
        got = [{"receiver": r.receiver,
                "group_by": None if r.options.group_by_all else sorted(r.options.group_by),
                "group_by_all": r.options.group_by_all} for r in matched]
        want = case["opts"]
        keys = [r.key for r in matched]
        if got != want or keys != case["keys"]:
            failures.append(f"{name} case {number} {case['labels']}: want {want} keys {case['keys']}, "
                            f"got {got} keys {keys}")
    return len(cases), failures


def check_amtool_cases(checkout: Path) -> tuple[int, list[str]]:
    source = (checkout / "cli" / "test_routing_test.go").read_text()
    pattern = re.compile(r'\{configFile:\s*"([^"]+)",\s*alert:\s*models\.LabelSet\{([^}]*)\},\s*'
                         r'expectedReceivers:\s*\[\]string\{([^}]*)\}\}')
    failures, count = [], 0
    for config_file, labels, expected in pattern.findall(source):
        count += 1
        routing = load_routing(str(checkout / "cli" / config_file))
        got = [route.receiver for route in routing.route.match(dict(_PAIR.findall(labels)))]
        if got != _STRING.findall(expected):
            failures.append(f"cli {config_file} {labels}: want {_STRING.findall(expected)}, got {got}")
    return count, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of github.com/prometheus/alertmanager")
    args = parser.parse_args()
    source = (args.checkout / "dispatch" / "route_test.go").read_text()
    total, failures = 0, []
    with tempfile.TemporaryDirectory() as workdir:
        for name in TABLE_TESTS:
            count, failed = check_table_test(go_function(source, name), name, Path(workdir))
            print(f"{name}: {count - len(failed)}/{count}")
            total, failures = total + count, failures + failed
    count, failed = check_amtool_cases(args.checkout)
    print(f"cli/test_routing_test.go (configs with templates:): {count - len(failed)}/{count}")
    total, failures = total + count, failures + failed
    for line in failures:
        print("FAIL", line)
    print(f"{total - len(failures)} of {total} cases agree")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
