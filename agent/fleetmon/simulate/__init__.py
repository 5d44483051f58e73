"""`fleetmon simulate`: realistic fleet traffic through the real MQTT protocol, for demos, hub tests and
benchmarks.

N simulated servers and Jetsons publish what real agents publish (retained births, samples with the
catalogue's metrics, check results, edge alert transitions, wills), a few connections carrying them all.
With ``--faults`` a seeded plan (faults.py) makes hosts die, fall silent, fill a disk, spike their CPU and
fail together. Modules: fleet (who the hosts are), model (how their values move), faults (the plan),
templates (precomputed payloads), publisher (the MQTT pool), runner (the loop), progress (the display).

This module only builds the command line, so the agent's CLI (Python 3.8, no hub extras) can register it
without importing anything heavy.
"""

import argparse
import signal
import sys
import threading
from typing import List, Optional

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``simulate`` command to the ``fleetmon`` command's subparsers."""
    parser = subparsers.add_parser(
        "simulate", help="publish simulated fleet traffic (demos, hub tests, benchmarks)",
        description="Publish the traffic of N simulated servers and Jetsons through the real fleetmon MQTT "
                    "protocol: births, samples, checks, edge alerts and, with --faults, a seeded plan of "
                    "deaths, silences, a filling disk, a CPU spike and a cascading failure. The broker's ACL "
                    "must let this client write <prefix>/hosts/<host-prefix>-*/#.")
    add_arguments(parser)
    parser.set_defaults(handler=handle)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, required=True, metavar="N", help="simulated hosts")
    parser.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                        help="seconds between a host's samples (default 10)")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: "
                        "until Ctrl-C)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, metavar="URL",
                        help=f"mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://... (default {DEFAULT_BROKER})")
    parser.add_argument("--ca-file", metavar="FILE", help="CA bundle for mqtts:// (default: the system's)")
    parser.add_argument("--jetson-share", type=float, default=0.3, metavar="F",
                        help="share of Jetsons among the hosts, 0..1 (default 0.3)")
    parser.add_argument("--faults", action="store_true", help="inject the seeded fault plan (printed at start)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fleet, its values and its faults "
                        "(default 1)")
    parser.add_argument("--prefix", default="fleetmon/v1", help="topic prefix (default fleetmon/v1)")
    parser.add_argument("--host-prefix", default="sim", help="host ids are <host-prefix>-<kind>-NNNN "
                        "(default sim)")
    parser.add_argument("--groups", nargs="+", default=None, metavar="GROUP",
                        help="sites the hosts are spread over round-robin; each is a group and the hosts' "
                        "`site` label (default site-a site-b site-c)")
    parser.add_argument("--connections", type=int, metavar="N",
                        help="MQTT connections shared by the hosts (default one per 250 hosts)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1, help="QoS of every message (default 1, "
                        "as agents publish)")
    parser.add_argument("--leave-retained", action="store_true",
                        help="at the end leave the hosts' retained births as they are (default: publish a "
                        "clean offline status for each host still running)")


def handle(args: argparse.Namespace) -> int:
    from fleetmon.simulate.progress import progress_for
    from fleetmon.simulate.runner import SimOptions, Simulation

    options = SimOptions(
        hosts=args.hosts, interval_s=args.interval, duration_s=args.duration, broker_url=args.broker,
        jetson_share=args.jetson_share, faults=args.faults, seed=args.seed, prefix=args.prefix,
        host_prefix=args.host_prefix, connections=args.connections, qos=args.qos,
        leave_retained=args.leave_retained, ca_file=args.ca_file,
        **({"sites": tuple(args.groups)} if args.groups else {}))
    problems = options.problems()
    if problems:
        sys.stderr.write("fleetmon simulate: " + "\n  ".join(["invalid options:", *problems]) + "\n")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    simulation = Simulation(options, stop)
    print(f"simulating {options.hosts} hosts every {options.interval_s:g}s on {options.broker_url} "
          f"({options.pool_size} connections, target {options.hosts / options.interval_s:.0f} host-samples/s)")
    for line in simulation.plan.describe():
        print("fault " + line)
    sys.stdout.flush()
    simulation.progress = progress_for(sys.stdout, options.duration_s)
    try:
        report = simulation.run()
    except ConnectionError as exc:
        sys.stderr.write(f"fleetmon simulate: {exc}\n")
        return 1
    finally:
        simulation.progress.close()
    print(report.summary())
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m fleetmon.simulate``: the same command without the ``fleetmon`` front."""
    parser = argparse.ArgumentParser(prog="fleetmon simulate")
    add_arguments(parser)
    return handle(parser.parse_args(argv))
