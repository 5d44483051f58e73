"""What the console's live feed and the overview's trends cost the hub with a large fleet.

Builds the hub's real parts (fleetmon.hub.parts, no broker) with ``--hosts`` simulated hosts (the series and
values of ``fleetmon simulate``), fed through the real Intake, and ``--alerts`` firing alerts in the real
dispatcher. Then times, per second of a live console:

- the feed's look (fleetmon.hub.web.live.LiveFeed.look): the host summaries (FleetReader.hosts, which holds
  the state lock while it builds them), their diff, the alerts' digest (the dispatcher's alert views),
  the watched hosts' samples, and the events encoded, with ``--changed`` of the hosts sending a new sample
  between two looks (a 10 s interval: a tenth of the fleet each second);
- and the trend sample the rules loop takes once a minute (fleetmon.hub.trends): the layout resolved over
  every host, then the section means and maxima.

Usage: python benchmarks/console_feed.py [--hosts 5000] [--alerts 200] [--changed 0.1] [--rounds 20]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent"))

from fleetmon.hub.config import parse_config  # noqa: E402
from fleetmon.hub.layout import resolve  # noqa: E402
from fleetmon.hub.parts import build_parts  # noqa: E402
from fleetmon.hub.web.live import LiveFeed  # noqa: E402
from fleetmon.protocol import messages  # noqa: E402
from fleetmon.protocol.alerts import alert  # noqa: E402
from fleetmon.protocol.metricset import MetricSet  # noqa: E402
from fleetmon.protocol.topics import host_topics  # noqa: E402
from fleetmon.simulate.fleet import build_fleet  # noqa: E402
from fleetmon.simulate.model import HostModel  # noqa: E402

ALERTING = {"route": {"receiver": "team", "group_by": ["alertname"]}, "receivers": [{"name": "team"}]}


def wire(model: HostModel, rng: random.Random, now: float) -> dict:
    values = iter([*model.step(rng, now, now), 0.0])
    metrics = MetricSet()
    for decl in model.series():
        metrics.add(decl.name, next(values) if decl.fmt else decl.value, dict(decl.labels))
    return metrics.to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--changed", type=float, default=0.1, help="share of hosts with a new sample per look")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetmon-feed-") as tmp:
        config = parse_config({"db": str(Path(tmp) / "history.db"), "alerting": ALERTING})
        parts = build_parts(config)
        parts.history.start()  # as in the hub: the writer process takes the samples
        rng = random.Random(3)
        now = time.time()
        specs = build_fleet(args.hosts, 1)
        models = [HostModel(spec, now, 10.0, 1) for spec in specs]
        samples = [[wire(model, rng, now) for _ in range(4)] for model in models[:50]]  # cycled, for speed
        prefix = config.broker.topic_prefix
        seqs = dict.fromkeys((spec.host for spec in specs), 0)

        def take(host: str, kind: str, payload: dict) -> None:
            seqs[host] += 1
            parts.intake.take(getattr(host_topics(host, prefix), kind), messages.encode(payload), time.time())

        def sample(i: int, ts: float) -> None:
            host = specs[i].host
            take(host, "metrics", messages.metrics(host, 1, seqs[host] + 1, ts, 10, 0.01,
                                                   samples[i % 50][int(ts) % 4], {}))

        for i, spec in enumerate(specs):
            take(spec.host, "status", messages.status(spec.host, 1, 1, now, "online", interval_s=10,
                                                      facts={"os": spec.os}, groups=spec.groups))
            sample(i, now)
        parts.dispatcher.put([alert({"alertname": f"Alert{i % 20}", "host": specs[i % args.hosts].host,
                                     "severity": "warning"}, {}, now - 60) for i in range(args.alerts)],
                             source="fleet")
        parts.dispatcher.process(time.time())

        feed = LiveFeed(parts.fleet_reader, lambda: parts.dispatcher.alert_views(time.time()))
        watched = frozenset(spec.host for spec in specs[:3])
        _, seen = feed.look(None, watched)
        looks, summaries, digests, sizes = [], [], [], []
        for round_ in range(args.rounds):
            ts = now + 1 + round_
            for i in rng.sample(range(args.hosts), int(args.hosts * args.changed)):
                sample(i, ts)
            started = time.perf_counter()
            outgoing, seen = feed.look(seen, watched)
            looks.append(time.perf_counter() - started)
            sizes.append(sum(len(item.chunk) for item in outgoing if item.host is None))
            started = time.perf_counter()
            parts.fleet_reader.hosts()
            summaries.append(time.perf_counter() - started)
            started = time.perf_counter()
            parts.dispatcher.alert_views(time.time())
            digests.append(time.perf_counter() - started)

        trends = []
        for round_ in range(args.rounds):
            started = time.perf_counter()
            parts.trends.observe(resolve(config.dashboard, parts.fleet_reader.records()), now + 60 * round_)
            trends.append(time.perf_counter() - started)
        parts.deliverer.stop()
        parts.journal.close()
        parts.history.close()

    def ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values):.1f} ms (max {1000 * max(values):.1f})"

    print(f"\n### Live feed and trends: {args.hosts:,} hosts, {args.alerts} firing alerts, "
          f"{args.changed:.0%} of the hosts changed per look\n")
    print(f"- one look of the feed (every second while a console is open): {ms(looks)}, of which")
    print(f"  - the host summaries (FleetReader.hosts, under the state lock): {ms(summaries)}")
    print(f"  - the dispatcher's alert views (under its lock): {ms(digests)}")
    print(f"- sent to every client per look: {statistics.median(sizes) / 1024:,.0f} KiB")
    print(f"- one trend sample (once a minute, rules thread): {ms(trends)}")


if __name__ == "__main__":
    main()
