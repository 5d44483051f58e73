"""Smoke test of the NVML collector against a real GPU and driver (no stand-ins).

    PYTHONPATH=agent python benchmarks/nvml_smoke.py

Prints the facts, then the series of two samples one second apart, and the CPU time one collect
took. Exits 2 where NVML is absent, 1 when a collect fails.
"""

import json
import sys
import time

from fleetmon.agent.collectors.base import CollectorUnavailable
from fleetmon.agent.collectors.nvml import NvmlCollector
from fleetmon.agent.config import NvmlCollectorConfig
from fleetmon.agent.exposition import render
from fleetmon.protocol.metricset import MetricSet


def main() -> int:
    try:
        collector = NvmlCollector(NvmlCollectorConfig(enabled="true"))
    except CollectorUnavailable as exc:
        print("unavailable:", exc)
        return 2
    try:
        print(json.dumps(collector.facts(), indent=2))
        for round_number in (1, 2):
            out = MetricSet()
            started = time.process_time()
            collector.collect(out)
            cpu_ms = (time.process_time() - started) * 1000
            print(f"# sample {round_number}: {len(out)} series, {cpu_ms:.2f} ms CPU")
            sys.stdout.write(render(out))
            time.sleep(1)
    except RuntimeError as exc:
        print("collect failed:", exc)
        return 1
    finally:
        collector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
