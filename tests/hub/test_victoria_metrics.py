"""history.remote_write and remote_read against a real VictoriaMetrics (Debian's victoria-metrics): a
simulated fleet and a real agent whose broker is down for 30 s, so it back-fills. Every sample the hub
stored is in VictoriaMetrics at its own timestamp (none missing across the outage), and the console's host
chart reads from VictoriaMetrics, falling back to SQLite when it is away."""

import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import orjson
import pytest

from tests.conftest import AGENT_SRC, free_port
from tests.hub.conftest import HubProcess
from tests.polling import wait_until
from tests.test_delivery_e2e import HOST, assert_every_sample_stored_once, stored

VICTORIA_METRICS = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
#: The cache off and no latency offset: a test reads what was just written, back-filled or not.
FRESH_READS = ("-search.disableCache", "-search.latencyOffset=0s")


class VictoriaMetrics:
    def __init__(self, workdir, flags: tuple[str, ...] = FRESH_READS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "victoria-metrics.log", "ab")
        self.process = subprocess.Popen(
            [VICTORIA_METRICS, f"-storageDataPath={workdir / 'vm-data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y", *flags], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, timeout=30, message="VictoriaMetrics answering /health")

    def _healthy(self) -> bool:
        assert self.process.poll() is None, "victoria-metrics exited"
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def export(self, match: str) -> dict[tuple, list[tuple[int, float]]]:
        """Every raw sample of the series ``match`` selects: labels -> (timestamp ms, value). What was
        ingested is flushed first: VictoriaMetrics buffers new samples before they can be searched."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{urlencode({'match[]': match})}", timeout=10) as r:
            lines = r.read().splitlines()
        found = {}
        for line in lines:
            series = orjson.loads(line)
            found[tuple(sorted(series["metric"].items()))] = list(zip(series["timestamps"], series["values"],
                                                                      strict=True))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def victoria(tmp_path):
    if not shutil.which(VICTORIA_METRICS):
        pytest.fail("victoria-metrics is not installed: run `make deps`")
    instance = VictoriaMetrics(tmp_path)
    yield instance
    instance.stop()


def stored_by_host(hub) -> dict[str, tuple[set[int], int]]:
    """Per host in the hub's SQLite: the timestamps (ms) of its samples and how many series values they hold."""
    conn = sqlite3.connect(f"file:{hub.dir / 'history.db'}?mode=ro", uri=True, timeout=10)
    try:
        found: dict[str, tuple[set[int], int]] = {}
        for host, ts, size in conn.execute("SELECT h.name, r.ts, length(r.vals) FROM raw r JOIN hosts h "
                                           "ON h.id = r.host_id"):
            stamps, values = found.setdefault(host, (set(), 0))
            stamps.add(round(ts * 1000))
            found[host] = (stamps, values + size // 8)
        return found
    finally:
        conn.close()


def in_victoria(victoria, host: str) -> tuple[set[int], int]:
    series = victoria.export(f'{{host="{host}"}}')
    return {ts for samples in series.values() for ts, _ in samples}, sum(len(s) for s in series.values())


def test_the_fleet_and_a_back_fill_after_a_broker_outage_are_all_in_victoria_metrics(tmp_path, broker, start_agent,
                                                                                         victoria):
    hub = HubProcess(tmp_path, broker, {
        "broker": {"url": broker.url, "reconnect": {"min_delay": 3, "max_delay": 3}},
        "history": {"remote_write": {"url": f"{victoria.url}/api/v1/write", "batch_interval": "500ms",
                                     "min_backoff": "100ms", "max_backoff": "1s"},
                    "remote_read": {"url": victoria.url, "timeout": "5s"}}}).start()
    try:
        env = dict(PYTHONPATH=str(AGENT_SRC), PYTHONUNBUFFERED="1", PATH="/usr/bin:/bin")
        simulated = subprocess.run([sys.executable, "-m", "fleetmon.simulate", "--hosts", "3", "--interval", "1",
                                    "--duration", "5", "--broker", broker.url, "--host-prefix", "vm"],
                                   capture_output=True, text=True, env=env, timeout=60)
        assert simulated.returncode == 0, simulated.stdout + simulated.stderr

        agent = start_agent()
        wait_until(lambda: len(stored(hub)) >= 3, timeout=30, message="the agent's first samples in the history")
        broker.stop()
        outage_from = time.time()
        time.sleep(30)  # protocol pause: the outage the scenario is about; the agent spools what it samples
        broker.start()
        outage_to = time.time()
        assert_every_sample_stored_once(hub, broker, time.monotonic())
        assert agent.stop() == 0
        # Its last sample may still wait in the hub's history queue. A marker host's sample, published after the
        # agent's end, is written after it (the history is written in the order received): once the marker is
        # stored, the agent's samples are all in SQLite and can be compared whole.
        marker = subprocess.run([sys.executable, "-m", "fleetmon.simulate", "--hosts", "1", "--interval", "1",
                                 "--duration", "1", "--broker", broker.url, "--host-prefix", "marker"],
                                capture_output=True, text=True, env=env, timeout=60)
        assert marker.returncode == 0, marker.stdout + marker.stderr
        wait_until(lambda: any(host.startswith("marker") for host in stored_by_host(hub)), timeout=30,
                   message="the marker's sample in the history")

        def all_sent():
            local = stored_by_host(hub)
            total = sum(values for _, values in local.values())
            sent = hub.metric("fleetmon_hub_remote_write_samples_sent_total") or 0
            return local if sent >= total and hub.metric("fleetmon_hub_remote_write_queue_length") == 0 else None

        local = {host: stored for host, stored in wait_until(all_sent, timeout=60, interval=0.5,
                                                              message="every stored sample sent").items()
                 if not host.startswith("marker")}  # the marker's own later samples may still come
        simulated_hosts = {h for h in local if h.startswith("vm-")}
        assert len(simulated_hosts) == 3 and HOST in local
        for host, want in local.items():
            wait_until(lambda host=host, want=want: in_victoria(victoria, host) == want, timeout=30,
                       message=f"{host}'s samples in VictoriaMetrics at their timestamps")
        agent_stamps = local[HOST][0]
        spooled = [ts for ts in agent_stamps if outage_from * 1000 < ts < outage_to * 1000]
        assert len(spooled) >= 25, "the samples the agent took while the broker was down (back-filled) are there"
        assert hub.metric("fleetmon_hub_backfill_samples_total") >= len(spooled) - 2
        assert (hub.metric("fleetmon_hub_remote_write_samples_failed_total"),
                hub.metric("fleetmon_hub_remote_write_samples_dropped_total"),
                hub.metric("fleetmon_hub_remote_write_host_samples_pruned_total")) == (0, 0, 0)

        # The console's host chart of the agent, across the outage: read from VictoriaMetrics ...
        series = hub.get(f"/api/v1/hosts/{HOST}/series")["series"]
        metric = next((s["name"] for s in series if s["name"] == "fleetmon_cpu_usage_ratio"), series[0]["name"])
        # The window ends half a millisecond after the newest sample compared above: the agent's last sample,
        # in the hub's queue when it stopped, may be committed to SQLite only now, and sent to VictoriaMetrics
        # a moment later; it lies a whole interval later, outside.
        window = urlencode({"host": HOST, "metric": metric, "start": min(agent_stamps) / 1000 - 1,
                            "end": (max(agent_stamps) + 0.5) / 1000, "max_points": 10_000})
        from_victoria = hub.get(f"/api/v1/query_range?{window}")
        assert from_victoria["source"] == "long_term" and from_victoria["tier"] == "raw"
        assert hub.metric("fleetmon_hub_long_term_reads_total") == 1
        # ... and with VictoriaMetrics gone, the same chart from SQLite: the same points (timestamps to the
        # millisecond remote write keeps), the failure counted.
        victoria.stop()
        from_sqlite = hub.get(f"/api/v1/query_range?{window}")
        assert from_sqlite["source"] == "sqlite"
        assert hub.metric("fleetmon_hub_long_term_read_failures_total") == 1
        assert "long-term store failed a chart read" in hub.log

        def identities(answer):
            return [(s["name"], s["labels"], [round(ts * 1000) for ts, _ in s["points"]]) for s in answer["series"]]

        def values(answer):
            return [value for s in answer["series"] for _, value in s["points"]]

        assert identities(from_victoria) == identities(from_sqlite)
        # VictoriaMetrics' query API prints values to 12 significant digits (its export API, above, all 17).
        assert values(from_victoria) == pytest.approx(values(from_sqlite), rel=1e-11)
        assert len(from_sqlite["series"][0]["points"]) >= 30
    finally:
        hub.stop()
        print(f"--- hub log ---\n{hub.log}")
