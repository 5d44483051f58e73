"""The `fleetmon` command."""

import argparse
import json
import logging
import sys
import time
from typing import Any, Dict, List, Optional

from fleetmon import __version__, cli_alerting, cli_operations

EXIT_CONFIG = 2


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_CONFIG
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetmon", description="Fleet monitoring for Jetson devices and "
                                     "Linux servers.")
    parser.add_argument("--version", action="version", version="fleetmon " + __version__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    agent = commands.add_parser("agent", help="the host agent", description="The host agent: collects "
                                "metrics and health, evaluates the host's thresholds, publishes over MQTT.")
    agent.set_defaults(handler=lambda _args: (agent.print_help(), EXIT_CONFIG)[1])
    agent_commands = agent.add_subparsers(title="commands", metavar="COMMAND")

    run = agent_commands.add_parser("run", help="run the agent daemon",
                                    description="Run the agent. Flags override the config file; with no "
                                    "file every setting has a default (broker mqtt://127.0.0.1:1883).")
    run.add_argument("--config", metavar="FILE", help="agent config (YAML)")
    run.add_argument("--broker", metavar="URL", help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    run.add_argument("--host-id", metavar="ID", help="host id (default: the short hostname)")
    run.add_argument("--interval", metavar="SECONDS", type=float, help="seconds between samples")
    run.add_argument("--state-dir", metavar="DIR", help="session counter and spool directory")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    run.set_defaults(handler=_agent_run)

    collect = agent_commands.add_parser("collect", help="collect and print samples without a broker",
                                        description="Collect a sample and print it, without a broker.")
    collect.add_argument("--once", action="store_true", help="print one sample and exit (default: one "
                         "per interval until interrupted)")
    collect.add_argument("--config", metavar="FILE", help="agent config (YAML)")
    collect.add_argument("--tegrastats-replay", metavar="FILE",
                         help="read Jetson metrics from a recorded tegrastats log")
    collect.add_argument("--format", choices=("json", "prometheus"), default="json")
    collect.add_argument("--interval", metavar="SECONDS", type=float)
    collect.set_defaults(handler=_agent_collect)

    check = agent_commands.add_parser("check-config", help="validate an agent config file",
                                      description="Validate an agent config; print every error with its "
                                      "key path; exit 1 on any error.")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(handler=_agent_check_config)
    test_check = agent_commands.add_parser(
        "test-check", help="run one check once and print its result", description="Run check NAME of the config "
        "once in the foreground and print its result; a journey prints each step with its timings. Exit 0 when "
        "it passes, 1 when it fails, 2 on a config error.")
    test_check.add_argument("name", metavar="NAME")
    test_check.add_argument("--config", required=True, metavar="FILE", help="agent config (YAML)")
    test_check.set_defaults(handler=_agent_test_check)

    hub = commands.add_parser("hub", help="the central hub (Python 3.10+)",
                              description="The hub: subscribes to the fleet, keeps state and history, runs fleet "
                              "rules, serves /metrics, health probes and a JSON API.")
    hub.set_defaults(handler=lambda _args: (hub.print_help(), EXIT_CONFIG)[1])
    hub_commands = hub.add_subparsers(title="commands", metavar="COMMAND")
    hub_run = hub_commands.add_parser("run", help="run the hub", description="Run the hub. Flags override the "
                                      "config file.")
    hub_run.add_argument("--config", metavar="FILE", help="hub config (YAML)")
    hub_run.add_argument("--broker", metavar="URL", help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    hub_run.add_argument("--db", metavar="PATH", help="SQLite history file")
    hub_run.add_argument("--listen", metavar="HOST:PORT", help="HTTP address (default 127.0.0.1:9180)")
    hub_run.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    hub_run.set_defaults(handler=_hub_run)
    hub_check = hub_commands.add_parser("check-config", help="validate a hub config file",
                                        description="Validate a hub config; print every error with its key "
                                        "path; exit 1 on any error.")
    hub_check.add_argument("file", metavar="FILE")
    hub_check.set_defaults(handler=_hub_check_config)
    hub_commands.add_parser("hash-password", help="hash a console user's password for auth.users",
                            description="Read a password (twice from a terminal, else the first line of stdin) "
                            "and print its password_hash for the hub config's auth.users.").set_defaults(
        handler=_hub_auth("hash_password_command"))
    hub_commands.add_parser("new-token", help="make an API token and its hash for auth.users",
                            description="Print a new random API token (for the client) and its hash (for the "
                            "user's tokens in the hub config).").set_defaults(handler=_hub_auth("new_token_command"))

    status = commands.add_parser("status", help="the fleet as a terminal table",
                                 description="Show every host: groups, state, health, CPU, memory, disk, GPU, "
                                 "temperature, active alerts. Reads the hub's API, or the retained fleet view on "
                                 "the broker.")
    source = status.add_mutually_exclusive_group()
    source.add_argument("--hub", metavar="URL", help="hub base URL, e.g. http://127.0.0.1:9180")
    source.add_argument("--broker", metavar="URL", help="broker URL (default mqtt://127.0.0.1:1883)")
    _hub_client_options(status)
    status.add_argument("--prefix", default="fleetmon/v1", help="topic prefix")
    status.add_argument("--watch", metavar="SECONDS", type=float, nargs="?", const=2.0,
                        help="refresh every SECONDS (default 2) until Ctrl-C")
    status.set_defaults(handler=_status)

    _register_alerting(commands)
    cli_operations.register(commands, _api_options)
    _register_deploy(commands)
    from fleetmon import simulate

    simulate.register(commands)
    return parser


def _register_alerting(commands) -> None:
    """amtool-like commands; their handlers live with the hub (fleetmon.hub.alerting.cli)."""
    routes = commands.add_parser("routes", help="test an alert routing tree (like amtool config routes test)",
                                 description="Print the receivers an alert with these labels is routed to, in "
                                 "order, one per line. FILE is a hub config or a plain alertmanager.yml.")
    routes_commands = routes.add_subparsers(dest="routes_command", metavar="COMMAND", required=True)
    routes_test = routes_commands.add_parser("test", help="receivers for a label set")
    routes_test.add_argument("--config", required=True, metavar="FILE", help="hub config or alertmanager.yml")
    routes_test.add_argument("--tree", action="store_true", help="print the routing tree (matches marked *)")
    routes_test.add_argument("--expect", metavar="R1,R2", help="exit 1 unless exactly these receivers match")
    routes_test.add_argument("labels", nargs="*", metavar="label=value")
    routes_test.set_defaults(handler=_alerting("routes"))

    def api_parser(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, **kwargs)
        _api_options(parser)
        return parser

    alerts = api_parser("alerts", "list the hub's alerts", description="List alerts with their state: muted "
                        "(inhibited, silenced, flapping) or acknowledged.")
    alerts.add_argument("--filter", action="append", metavar="MATCHER", help='e.g. severity="critical" '
                        "(repeatable, ANDed)")
    alerts.add_argument("--json", action="store_true", help="print JSON")
    alerts.set_defaults(handler=_alerting("alerts"))

    ack = api_parser("ack", "acknowledge an alert or a group", description="Acknowledge a firing alert "
                     "(fingerprint) or every firing alert of a group (group id): the group stops repeating "
                     "and escalating until its alert set changes or the acknowledgement expires.")
    ack.add_argument("target", metavar="ALERT|GROUP")
    ack.add_argument("--comment", help="why, or what is being done")
    ack.add_argument("--expires", metavar="DURATION", help="e.g. 2h; default: until the alert resolves")
    ack.set_defaults(handler=_alerting("ack"))

    cli_alerting.register(commands, _alerting)
    silence = commands.add_parser("silence", help="add, list or expire silences")
    silence_commands = silence.add_subparsers(dest="silence_command", metavar="COMMAND", required=True)
    add = silence_commands.add_parser("add", help="silence alerts matching all MATCHERs")
    add.add_argument("matchers", nargs="+", metavar="MATCHER", help='e.g. alertname="HostDown" host=~"lab-.*"')
    add.add_argument("--duration", required=True, metavar="DURATION", help="e.g. 2h")
    add.add_argument("--comment", required=True, help="why")
    listing = silence_commands.add_parser("list", help="active and pending silences")
    listing.add_argument("--expired", action="store_true", help="include expired silences")
    expire = silence_commands.add_parser("expire", help="end silences now")
    expire.add_argument("ids", nargs="+", metavar="ID")
    for sub in (add, listing, expire):
        _api_options(sub)
        sub.set_defaults(handler=_alerting("silence"))


def _register_deploy(commands) -> None:
    """Controller-side commands over the Ansible inventory; their code lives in fleetmon.deploy (3.10+)."""
    thresholds = commands.add_parser("thresholds", help="the inventory's thresholds (on the controller)")
    thresholds_commands = thresholds.add_subparsers(dest="thresholds_command", metavar="COMMAND", required=True)
    explain = thresholds_commands.add_parser(
        "explain", help="a host's final thresholds and where each field came from",
        description="Print each threshold field of HOST as its agent config gets it, and the layer that set it: "
        "role default, group (which one), or host.")
    explain.add_argument("host", metavar="HOST", help="inventory hostname")
    _inventory_options(explain)
    explain.set_defaults(handler=_deploy("explain"))
    render = commands.add_parser("render", help="render artifacts from the inventory (on the controller)")
    render_commands = render.add_subparsers(dest="render_command", metavar="COMMAND", required=True)
    dashboards = render_commands.add_parser(
        "dashboards", help="Grafana dashboards, Prometheus alert rules and the hub's scrape config",
        description="Write OUT/grafana/*.json, OUT/prometheus/rules.yml and OUT/prometheus/scrape.yml from the "
        "inventory's hosts and thresholds (docs/dashboards.md).")
    _inventory_options(dashboards)
    dashboards.add_argument("--out", required=True, metavar="DIR", help="output directory")
    dashboards.add_argument("--hub-target", metavar="HOST:PORT",
                            help="the hub's /metrics address for Prometheus (default: first host of group hub, "
                            "port 9180)")
    dashboards.add_argument("--hub-ca-file", metavar="FILE",
                            help="the hub serves HTTPS: the CA certificate that signed it, as Prometheus reads it")
    dashboards.add_argument("--grafana-prometheus-url", metavar="URL", help="also write OUT/grafana-provisioning/: "
                            "a Grafana data source for the Prometheus at URL, a dashboard provider for the JSON")
    dashboards.add_argument("--grafana-dashboards-path", metavar="DIR", help="the JSON's directory on the Grafana "
                            "host (default /var/lib/grafana/dashboards/fleetmon)")
    dashboards.add_argument("--grafana-scrape-interval", metavar="DURATION", help="that Prometheus's scrape "
                            "interval, Grafana's timeInterval (default 15s)")
    dashboards.set_defaults(handler=_deploy("render"))


def _inventory_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inventory", "-i", required=True, metavar="DIR", help="Ansible inventory (directory "
                        "or file)")
    parser.add_argument("--roles", metavar="DIR", help="roles directory with the role defaults (default: this "
                        "checkout's roles/)")
    parser.add_argument("--ansible-inventory", metavar="PATH", help="the ansible-inventory program (default: on "
                        "PATH, or the checkout's .venv-deploy)")


def _deploy(name: str):
    def handler(args: argparse.Namespace) -> int:
        if sys.version_info < (3, 10):
            sys.stderr.write("fleetmon: this command runs on the Ansible controller and needs Python 3.10+\n")
            return EXIT_CONFIG
        from fleetmon.deploy import cli as commands

        return getattr(commands, name)(args)
    return handler


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", default="http://127.0.0.1:9180", metavar="URL", help="hub base URL")
    _hub_client_options(parser)
    parser.add_argument("--by", help="who is acting (default: $USER)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the hub")


def _hub_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="API token (default: $FLEETMON_API_TOKEN); changes need one, and reads "
                        "on a hub with users")
    parser.add_argument("--token-file", metavar="FILE", help="read the API token from FILE")
    parser.add_argument("--ca-file", metavar="FILE", help="an https hub's CA certificate (default: the system's)")


def _hub_auth(name: str):
    def handler(_args: argparse.Namespace) -> int:
        from fleetmon.hub.auth import commands

        return getattr(commands, name)()
    return handler


def _alerting(name: str):
    def handler(args: argparse.Namespace) -> int:
        from fleetmon.hub.alerting import cli as commands

        return getattr(commands, name)(args)
    return handler


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    return {"broker_url": getattr(args, "broker", None), "host_id": getattr(args, "host_id", None),
            "interval": getattr(args, "interval", None), "state_dir": getattr(args, "state_dir", None),
            "log_level": getattr(args, "log_level", None)}


def _load(path: Optional[str], overrides: Dict[str, Any]):
    from fleetmon.agent.config import load_config
    from fleetmon.config_reader import ConfigError

    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        sys.stderr.write("fleetmon: invalid configuration{}:\n".format(" in " + path if path else ""))
        for line in exc.errors:
            sys.stderr.write("  " + line + "\n")
        return None


def _setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stdout, level=level.upper(),
                        format="%(levelname)s %(name)s: %(message)s")


def _agent_run(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    config = _load(args.config, overrides)
    if config is None:
        return EXIT_CONFIG
    _setup_logging(config.log_level)
    from fleetmon.agent.daemon import Agent
    from fleetmon.config_reader import ConfigError

    try:
        agent = Agent(config, overrides)
    except ConfigError as exc:  # e.g. a collector forced on that cannot run here
        sys.stderr.write("fleetmon: cannot start:\n" + "".join("  " + e + "\n" for e in exc.errors))
        return EXIT_CONFIG
    except OSError as exc:
        sys.stderr.write(f"fleetmon: cannot start: {exc}\n")
        return EXIT_CONFIG
    return agent.run()


def _agent_collect(args: argparse.Namespace) -> int:
    overrides = {"interval": args.interval}
    config = _load(args.config, overrides)
    if config is None:
        return EXIT_CONFIG
    _setup_logging("warning")
    if args.tegrastats_replay:
        from fleetmon.agent.config import JetsonCollectorConfig

        config.collectors.jetson = JetsonCollectorConfig(enabled="true", source="replay",
                                                         replay_file=args.tegrastats_replay)
    from fleetmon.agent.collectors.runner import CollectorRunner, build_collectors
    from fleetmon.agent.exposition import render
    from fleetmon.config_reader import ConfigError

    try:
        runner = CollectorRunner(build_collectors(config.collectors, config.interval))
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"fleetmon: cannot collect: {exc}\n")
        return EXIT_CONFIG
    try:
        while True:
            started = time.monotonic()
            metrics, errors, duration = runner.collect()
            if args.format == "prometheus":
                sys.stdout.write(render(metrics))
            else:
                sys.stdout.write(json.dumps({"host": config.host_id, "ts": round(time.time(), 3),
                                             "duration_s": round(duration, 6), "metrics": metrics.to_json(),
                                             "errors": errors}, indent=None if not args.once else 2) + "\n")
            sys.stdout.flush()
            for name, message in errors.items():
                sys.stderr.write(f"fleetmon: collector {name} failed: {message}\n")
            if args.once:
                return 0
            time.sleep(max(0.0, config.interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return 0
    finally:
        runner.close()


def _load_hub(path: Optional[str], overrides: Dict[str, Any]):
    from fleetmon.config_reader import ConfigError
    from fleetmon.hub.config import load_config

    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        sys.stderr.write("fleetmon: invalid hub configuration{}:\n".format(" in " + path if path else ""))
        sys.stderr.write("".join("  " + line + "\n" for line in exc.errors))
        return None


def _hub_run(args: argparse.Namespace) -> int:
    config = _load_hub(args.config, {"broker_url": args.broker, "db": args.db, "listen": args.listen,
                                     "log_level": args.log_level})
    if config is None:
        return EXIT_CONFIG
    _setup_logging(config.log_level)
    from fleetmon.hub.service import Hub

    try:
        hub = Hub(config)
    except OSError as exc:
        sys.stderr.write(f"fleetmon: cannot start the hub: {exc}\n")
        return EXIT_CONFIG
    return hub.run()


def _hub_check_config(args: argparse.Namespace) -> int:
    config = _load_hub(args.file, {})
    if config is None:
        return 1
    print(f"{args.file}: ok ({len(config.expected_hosts)} expected hosts, {len(config.alerting.receivers)} alert "
          f"receivers, {len(config.alerting.inhibit_rules)} inhibit rules, listening on {config.listen})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from fleetmon.hub.client import HubClient, token_from
    from fleetmon.hub.console import run

    try:
        hub = HubClient(args.hub, token_from(args.token, args.token_file), args.ca_file, timeout=5.0) \
            if args.hub else None
    except OSError as exc:  # an unreadable --token-file or --ca-file
        sys.stderr.write(f"fleetmon status: {exc}\n")
        return EXIT_CONFIG
    return run(hub, args.broker, args.prefix, args.watch)


def _agent_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file, {})
    if config is None:
        return 1
    print(f"{args.file}: ok (host {config.host_id}, {len(config.thresholds)} thresholds, {len(config.checks)} checks)")
    return 0


def _agent_test_check(args: argparse.Namespace) -> int:
    from fleetmon.agent.checks.foreground import run_in_foreground

    return run_in_foreground(args.name, args.config)
