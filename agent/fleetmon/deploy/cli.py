"""``fleetmon thresholds explain`` and ``fleetmon render dashboards``: the inventory in, a table or files out."""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from fleetmon.deploy.grafana import render_dashboards
from fleetmon.deploy.grafana_provisioning import (
    DATASOURCE_FILE,
    DATASOURCE_NAME,
    DATASOURCE_UID,
    DEFAULT_DASHBOARDS_PATH,
    DEFAULT_SCRAPE_INTERVAL,
    PROVIDER_FILE,
    Provisioning,
    dashboard_provider,
    datasource,
)
from fleetmon.deploy.inventory import INLINE, Inventory, InventoryError, VaultedValue, load_inventory
from fleetmon.deploy.prometheus import DEFAULT_HUB_PORT, alert_rules, scrape_config
from fleetmon.deploy.thresholds import (
    DEFAULT_ROLES_DIR,
    HostThresholds,
    Layer,
    RoleDefaults,
    fleet_thresholds,
    host_thresholds,
    load_role_defaults,
)

EXIT_ERRORS = 1
EXIT_USAGE = 2
HUB_GROUP = "hub"
PROVISIONING_DIR = "grafana-provisioning"
# Prometheus's duration syntax (its config's scrape_interval), which Grafana's timeInterval reads too.
DURATION = re.compile(r"(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?")


def explain(args: argparse.Namespace) -> int:
    try:
        inventory, defaults = _load(args)
        result = host_thresholds(inventory, args.host, defaults)
    except InventoryError as exc:
        sys.stderr.write(f"fleetmon: {exc}\n")
        return EXIT_USAGE
    print(f"{result.host}: host id {result.host_id}, groups {', '.join(result.groups) or '-'}"
          f"{', Jetson' if result.is_jetson else ''}")
    print("layers, merged in this order (later fields win):")
    for layer in result.layers:
        print(f"  {layer.variable}: {layer.source} ({_where(layer)})")
    print()
    rows = [(o.rule, o.field or "-", _show(o.value), o.layer.source, _where(o.layer)) for o in result.origins]
    print(_table(("RULE", "FIELD", "VALUE", "SOURCE", "SET IN"), rows))
    for layer in result.layers:
        for lost in layer.shadowed:
            print(f"note: {layer.variable} of {lost.source} ({lost.file}) is replaced whole by {layer.source}'s "
                  f"({layer.file}): Ansible keeps one definition of a variable; stack layers with "
                  "fleetmon_agent_thresholds_group_<name> instead")
    for path in inventory.unread:
        print(f"note: {path} is vault-encrypted and was not read: thresholds set there are not shown")
    for error in result.errors:
        print(f"error: {error}")
    return EXIT_ERRORS if result.errors else 0


def render(args: argparse.Namespace) -> int:
    try:
        inventory, defaults = _load(args)
        hosts = fleet_thresholds(inventory, defaults)
        target = args.hub_target or _hub_target(inventory)
        provisioning = _provisioning(args)
    except InventoryError as exc:
        sys.stderr.write(f"fleetmon: {exc}\n")
        return EXIT_USAGE
    errors = [f"{host.host}: {error}" for host in hosts for error in host.errors]
    if errors:
        sys.stderr.write("fleetmon: the inventory's thresholds have errors; nothing rendered:\n")
        sys.stderr.write("".join(f"  {line}\n" for line in errors))
        return EXIT_ERRORS
    files, notes = render_files(inventory, hosts, target, args.hub_ca_file, provisioning)
    out = Path(args.out)
    changed = 0
    for name, text in files.items():
        path = out / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue  # untouched, so that a playbook's second run reports no change
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"changed: {name}")
        changed += 1
    for note in notes + [f"{p} is vault-encrypted and was not read" for p in inventory.unread]:
        sys.stderr.write(f"fleetmon: note: {note}\n")
    print(f"rendered {len(files)} files for {len(hosts)} hosts into {out}, {changed} changed")
    return 0


def render_files(inventory: Inventory, hosts: list[HostThresholds], hub_target: str,
                 hub_ca_file: str | None = None,
                 provisioning: Provisioning | None = None) -> tuple[dict[str, str], list[str]]:
    """Every rendered file by its path under the output directory, and notes on what was left out. With
    ``provisioning``, Grafana's provisioning files too, and the dashboards start on their data source."""
    groups_of = {host.host_id: list(host.groups) for host in hosts}
    default = (DATASOURCE_NAME, DATASOURCE_UID) if provisioning else None
    files = {f"grafana/{name}": json.dumps(dashboard, indent=2) + "\n"
             for name, dashboard in render_dashboards(hosts, groups_of, default).items()}
    rules, notes = alert_rules(hosts)
    header = f"# Rendered by `fleetmon render dashboards` from the inventory {inventory.root}: edit that, not this.\n"
    files["prometheus/rules.yml"] = header + _yaml(rules)
    files["prometheus/scrape.yml"] = header + _yaml(scrape_config(hub_target, hub_ca_file))
    if provisioning:
        files[f"{PROVISIONING_DIR}/{DATASOURCE_FILE}"] = header + _yaml(datasource(provisioning))
        files[f"{PROVISIONING_DIR}/{PROVIDER_FILE}"] = header + _yaml(dashboard_provider(provisioning))
    return files, notes


def _provisioning(args: argparse.Namespace) -> Provisioning | None:
    """Grafana's provisioning files are rendered when the command names the Prometheus Grafana queries."""
    if not args.grafana_prometheus_url:
        return None
    url = args.grafana_prometheus_url
    path = args.grafana_dashboards_path or DEFAULT_DASHBOARDS_PATH
    interval = args.grafana_scrape_interval or DEFAULT_SCRAPE_INTERVAL
    if not re.match(r"https?://[^/\s]+", url):
        raise InventoryError(f"--grafana-prometheus-url {url!r}: expected http(s)://HOST[:PORT]")
    if not DURATION.fullmatch(interval):
        raise InventoryError(f"--grafana-scrape-interval {interval!r}: expected a Prometheus duration such as 15s")
    if not path.startswith("/"):
        raise InventoryError(f"--grafana-dashboards-path {path!r}: expected an absolute path on the Grafana host")
    return Provisioning(url, path, interval)


def _load(args: argparse.Namespace) -> tuple[Inventory, RoleDefaults]:
    inventory = load_inventory(args.inventory, args.ansible_inventory)
    return inventory, load_role_defaults(Path(args.roles) if args.roles else DEFAULT_ROLES_DIR)


def _hub_target(inventory: Inventory) -> str:
    """HOST:PORT of the hub: the first host of the `hub` group (its ansible_host when set), default port."""
    hosts = inventory.members(HUB_GROUP) if HUB_GROUP in inventory.groups else []
    if not hosts:
        raise InventoryError(f"no host in group {HUB_GROUP!r}: pass --hub-target HOST:PORT")
    addresses = inventory.definitions(hosts[0], "ansible_host")
    return f"{addresses[-1].value if addresses else hosts[0]}:{DEFAULT_HUB_PORT}"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL with or-branches) as literal blocks, one PromQL line per line."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _where(layer: Layer) -> str:
    return "the inventory source" if layer.file == INLINE else layer.file


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, VaultedValue):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    return "\n".join(lines)
