"""`fleetmon simulate` against a real mosquitto: what it publishes, its fault plan as a subscriber sees it,
its pacing and its clean exit; and the pure parts (fleet, model, plan, templates) on their own."""

import io
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import jsonschema
import pytest

from fleetmon.protocol import catalog
from fleetmon.protocol.alerts import fingerprint
from fleetmon.protocol.metricset import MetricSet
from fleetmon.simulate import faults as F
from fleetmon.simulate.fleet import JETSON, SERVER, build_fleet, threshold_rules
from fleetmon.simulate.model import HostModel
from fleetmon.simulate.progress import PlainProgress, Snapshot
from fleetmon.simulate.runner import SimOptions, fleet_and_plan, run
from fleetmon.simulate.templates import SampleTemplate
from tests.conftest import AGENT_SRC, Recorder
from tests.polling import wait_until


def validate(payload, schema):
    jsonschema.validate(payload, schema, format_checker=jsonschema.FormatChecker())


def host_of(message) -> str:
    return message.topic.split("/")[-2]


def by_host(recorder, kind):
    out = {}
    for message in list(recorder.messages):
        if message.topic.endswith("/" + kind):
            out.setdefault(host_of(message), []).append(json.loads(message.payload))
    return out


def retained_statuses(broker, count):
    late = Recorder(broker, "fleetmon/v1/hosts/+/status")
    try:
        late.wait("status", count=count, timeout=10)
        return {p["host"]: p for p in late.payloads("status")}
    finally:
        late.close()


# --- the pure parts ---------------------------------------------------------------------------------


def test_fleet_mixes_servers_and_jetsons_spread_over_sites_and_is_seeded():
    fleet = build_fleet(100, seed=7, jetson_share=0.3, sites=("lab", "edge"))
    assert [h.kind for h in fleet].count(JETSON) == 30
    assert len({h.host for h in fleet}) == 100
    assert {h.site for h in fleet} == {"lab", "edge"}
    jetson = next(h for h in fleet if h.kind == JETSON)
    assert jetson.groups == ["jetsons", jetson.site] and jetson.labels["site"] == jetson.site
    assert jetson.facts(0.0)["jetson"]["model"].startswith("NVIDIA Jetson")
    assert build_fleet(100, seed=7, jetson_share=0.3, sites=("lab", "edge")) == fleet
    assert build_fleet(100, seed=8, jetson_share=0.3, sites=("lab", "edge")) != fleet
    assert all(h.kind == SERVER for h in build_fleet(10, seed=1, jetson_share=0.0))


def test_a_rendered_sample_is_a_valid_metrics_message_with_catalogue_names(schemas):
    rng = random.Random(1)
    for spec in build_fleet(6, seed=3, jetson_share=0.5):
        model = HostModel(spec, time.time(), 10.0, seed=3)
        template = SampleTemplate(spec.host, 42, 10.0, model.series())
        for seq in (1, 2):
            values = [*model.step(rng, seq * 10.0, time.time()), 0]
            payload = json.loads(template.render(seq, time.time(), 0.004, values))
            validate(payload, schemas["metrics"])
            assert (payload["host"], payload["session"], payload["seq"]) == (spec.host, 42, seq)
            metrics = MetricSet.from_json(payload["metrics"])
            assert set(metrics.names()) <= set(catalog.BY_NAME)
            jetson_metrics = {n for n in metrics.names() if n.startswith("fleetmon_jetson_")}
            if spec.kind == JETSON:
                assert {"fleetmon_jetson_gpu_load_ratio", "fleetmon_jetson_power_watts",
                        "fleetmon_jetson_temperature_celsius", "fleetmon_jetson_emc_load_ratio"} <= jetson_metrics
            else:
                assert not jetson_metrics
            assert 0 < metrics.get("fleetmon_cpu_usage_ratio") < 1
            assert metrics.get("fleetmon_filesystem_usage_ratio", mount="/", device=spec.mounts[0].device,
                               fstype=spec.mounts[0].fstype) == pytest.approx(spec.root_usage, abs=1e-3)


def test_normal_behaviour_never_crosses_a_threshold_level():
    """Why only faulted hosts are evaluated: without a fault no value reaches any edge level."""
    rng = random.Random(5)
    for spec in build_fleet(40, seed=5, jetson_share=0.5):
        model = HostModel(spec, 0.0, 1.0, seed=5)
        rules = threshold_rules(spec, 1.0)
        for step in range(300):
            model.step(rng, float(step), float(step))
            watched = model.watched(float(step))
            for rule in rules:
                for series in watched.series(rule.metric):
                    assert series.value < min(level for _, level in rule.levels()), (spec.host, rule.name)


def test_the_fault_plan_is_seeded_and_puts_each_fault_on_its_own_host():
    fleet = build_fleet(40, seed=11)
    plan = F.plan_faults(fleet, 300.0, 10.0, seed=11)
    assert plan == F.plan_faults(fleet, 300.0, 10.0, seed=11)
    assert plan != F.plan_faults(fleet, 300.0, 10.0, seed=12)
    hosts = [fault.host for fault in plan.faults]
    assert len(hosts) == len(set(hosts))
    assert {F.DEATH, F.SILENCE, F.DISK_FILL, F.CPU_SPIKE} == {f.kind for f in plan.faults}
    assert all(0 < f.at < 300 and (f.until is None or f.at < f.until <= 300) for f in plan.faults)
    cascade = plan.cascade
    assert len(cascade) >= 3 and len({f.group for f in cascade}) == 1
    assert max(f.at for f in cascade) - min(f.at for f in cascade) < 60
    members = {h.host for h in fleet if cascade[0].group in h.groups}
    assert {f.host for f in cascade} <= members
    fill = plan.first(F.DISK_FILL)
    assert fill.at < fill.crossing(0.85) < fill.crossing(0.95) < fill.until
    assert fill.value_at(fill.crossing(0.85)) == pytest.approx(0.85)
    assert not F.plan_faults(build_fleet(5, seed=1), 60.0, 1.0, seed=1).cascade


def test_plain_progress_prints_a_line_every_few_seconds_with_the_rate():
    clock = iter([0.0, 1.0, 5.0, 6.0, 10.0]).__next__
    out = io.StringIO()
    progress = PlainProgress(out, every=5.0, clock=clock)
    for messages in (10, 500, 600, 1000):
        progress.update(Snapshot(1.0, 60.0, messages, messages // 2, 0, 1, 0))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "500 messages (100/s)" in lines[0] and "dead 1" in lines[0]
    assert "1000 messages (100/s)" in lines[1]


# --- against a real broker ------------------------------------------------------------------------


def options(broker, **overrides):
    base = {"hosts": 12, "interval_s": 0.25, "duration_s": 3.0, "broker_url": broker.url, "seed": 4,
            "jetson_share": 0.4}
    base.update(overrides)
    return SimOptions(**base)


def test_every_host_publishes_a_birth_and_every_message_matches_its_schema(broker, recorder, schemas):
    report = run(options(broker, faults=True, duration_s=6.0))
    recorder.wait("status", count=2 * 12)  # births, then the offline statuses at the end
    births = {host: [p for p in payloads if p["state"] == "online"]
              for host, payloads in by_host(recorder, "status").items()}
    assert set(births) == set(report.hosts) and len(report.hosts) == 12
    seen_kinds = set()
    for message in list(recorder.messages):
        kind = message.topic.split("/")[-1]
        payload = json.loads(message.payload)
        validate(payload, schemas[kind])
        assert payload["host"] == host_of(message)
        seen_kinds.add(kind)
    assert seen_kinds == {"status", "metrics", "checks", "alerts"}
    birth = births["sim-jetson-0002"][0]
    assert birth["groups"] == ["jetsons", birth["labels"]["site"]]
    assert {t["name"] for t in birth["thresholds"]} == {"cpu", "memory", "disk", "jetson_temperature"}
    assert birth["facts"]["arch"] == "aarch64" and birth["facts"]["jetson"]["l4t"]
    assert {c["name"] for c in birth["checks"]} == {"ssh", "inference"}
    assert report.errors == {} and report.samples > 0


def test_the_planned_faults_arrive_as_a_subscriber_sees_them(broker, recorder):
    opts = options(broker, faults=True, duration_s=8.0, hosts=16)
    _, plan = fleet_and_plan(opts)
    report = run(opts)
    assert report.plan == plan
    recorder.wait("status", count=16 + 16)
    statuses, samples = by_host(recorder, "status"), by_host(recorder, "metrics")

    death = plan.first(F.DEATH)
    born, will, reborn = statuses[death.host][:3]
    assert (will["state"], will["reason"], will["session"]) == ("offline", "will", born["session"])
    assert (reborn["state"], reborn["session"]) == ("online", born["session"] + 1)
    first_session = [s for s in samples[death.host] if s["session"] == born["session"]]
    assert all(s["ts"] <= will["ts"] for s in first_session)
    assert [s["seq"] for s in samples[death.host] if s["session"] == reborn["session"]][:1] == [1]

    silence = plan.first(F.SILENCE)
    silent = samples[silence.host]
    assert [s["seq"] for s in silent] == list(range(1, len(silent) + 1))  # a hang, not lost samples
    gap = max(b["ts"] - a["ts"] for a, b in itertools.pairwise(silent))
    assert gap >= (silence.until - silence.at) - 2 * opts.interval_s
    assert [s["state"] for s in statuses[silence.host]][:-1] == ["online"]  # no will while silent

    spike = plan.first(F.CPU_SPIKE)
    alerts = [a for p in by_host(recorder, "alerts")[spike.host] for a in p["alerts"]]
    cpu = [(a["labels"]["severity"], a["status"]) for a in alerts if a["labels"]["alertname"] == "HostCpuHigh"]
    assert cpu.count(("warning", "firing")) == cpu.count(("warning", "resolved")) == 1
    assert ("critical", "firing") in cpu
    assert all(a["fingerprint"] == fingerprint(a["labels"]) for a in alerts)

    fill = plan.first(F.DISK_FILL)
    disk = [a for p in by_host(recorder, "alerts")[fill.host] for a in p["alerts"]]
    assert {(a["labels"]["alertname"], a["labels"]["severity"], a["status"]) for a in disk} >= {
        ("HostDiskUsageHigh", "warning", "firing"), ("HostDiskUsageHigh", "critical", "firing")}

    wills = [statuses[f.host][1] for f in plan.cascade]
    assert len(wills) >= 3 and all(w["reason"] == "will" for w in wills)
    assert max(w["ts"] for w in wills) - min(w["ts"] for w in wills) < 60
    assert all(len(statuses[f.host]) == 2 for f in plan.cascade)  # they stay dead, no shutdown after


def test_samples_are_spread_over_the_interval_at_the_asked_rate(broker, recorder):
    report = run(options(broker, hosts=40, interval_s=0.5, duration_s=4.0))
    expected = 40 * 4.0 / 0.5
    assert 0.7 * expected <= report.samples <= expected
    wait_until(lambda: sum(len(p) for p in by_host(recorder, "metrics").values()) == report.samples)
    counts = {host: len(p) for host, p in by_host(recorder, "metrics").items()}
    assert len(counts) == 40 and max(counts.values()) - min(counts.values()) <= 2
    firsts = sorted(p[0]["ts"] for p in by_host(recorder, "metrics").values())
    assert firsts[-1] - firsts[0] >= 0.5 * 0.5  # one interval's first samples are spread, not one burst
    assert report.sample_rate == pytest.approx(40 / 0.5, rel=0.3)


def test_retained_statuses_end_clean_unless_told_to_leave_them(broker):
    report = run(options(broker, hosts=6, duration_s=1.0))
    assert {p["state"] + "/" + p.get("reason", "") for p in retained_statuses(broker, 6).values()} == {
        "offline/shutdown"}
    run(options(broker, hosts=6, duration_s=1.0, leave_retained=True))
    statuses = retained_statuses(broker, 6)
    assert set(statuses) == set(report.hosts) and {p["state"] for p in statuses.values()} == {"online"}


def test_births_are_republished_after_a_broker_restart(broker):
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(run(options(broker, hosts=5, duration_s=None),
                                                               stop)))
    thread.start()
    try:
        retained_statuses(broker, 5)
        broker.stop()  # mosquitto runs without persistence: retained births are gone with it
        broker.start()
        statuses = wait_until(lambda: _all_online(broker, 5), timeout=20, message="births again")
        assert len(statuses) == 5
    finally:
        stop.set()
        thread.join(15)
    assert result and result[0].reconnects >= 1


def _all_online(broker, count):
    try:
        statuses = retained_statuses(broker, count)
    except AssertionError:
        return None
    return statuses if all(p["state"] == "online" for p in statuses.values()) else None


def test_the_command_stops_cleanly_on_ctrl_c(broker, recorder):
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "fleetmon.simulate", "--hosts", "4", "--interval", "0.2",
                                "--broker", broker.url, "--host-prefix", "demo"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        recorder.wait("metrics", count=8)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "4 hosts" in output and "host-samples" in output
    offline = recorder.wait("status", count=4, where=lambda p: p["state"] == "offline")
    assert {p["host"] for p in offline} == {"demo-server-0001", "demo-jetson-0002", "demo-server-0003",
                                           "demo-server-0004"}
    assert {p["reason"] for p in offline} == {"shutdown"}


def test_bad_options_are_refused_with_a_message(broker):
    env = dict(os.environ, PYTHONPATH=str(AGENT_SRC))
    done = subprocess.run([sys.executable, "-m", "fleetmon.simulate", "--hosts", "0", "--jetson-share", "2",
                           "--broker", "http://x"], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 2
    assert "--hosts" in done.stderr and "--jetson-share" in done.stderr and "mqtt://" in done.stderr
    done = subprocess.run([sys.executable, "-m", "fleetmon.simulate", "--hosts", "1",
                           "--broker", f"mqtt://127.0.0.1:{broker.port + 1}"], capture_output=True, text=True,
                          env=env, timeout=30)
    assert done.returncode == 1 and "cannot connect" in done.stderr
