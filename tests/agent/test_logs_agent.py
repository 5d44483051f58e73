"""The agent following a real journal end to end: `fleetmon agent run` with ``logs.journal_directory`` on
journal files the test appends to (tests/agent/journal_files.py), publishing to a real mosquitto. What the
broker carries is checked there: filtered, rate-limited, redacted, valid against schemas/logs.json, across
agent restarts and broker outages."""

import signal
from collections import Counter
from typing import Dict, List

import jsonschema
import pytest

from tests.agent.journal_files import Appender, JournalFiles, entry, kernel
from tests.conftest import Recorder
from tests.polling import wait_until

SECRET = "hunter2-do-not-leak"


@pytest.fixture
def journal(tmp_path):
    return JournalFiles(tmp_path / "journal")


def logs_config(journal: JournalFiles, **settings) -> Dict:
    return {"logs": dict({"enabled": True, "journal_directory": str(journal.directory), "batch_interval": 0.2},
                         **settings)}


def shipped(recorder: Recorder) -> List[Dict]:
    """Every entry the broker carried, in the order it carried them."""
    return [e for payload in recorder.payloads("logs") for e in payload["entries"]]


def messages_of(recorder: Recorder) -> List[str]:
    return [e["message"] for e in shipped(recorder)]


def wait_following(journal: JournalFiles, recorder: Recorder, unit: str = "app.service") -> None:
    """A first start follows from now, and "now" is when journalctl started: write a probe until one arrives."""
    def probe_arrived():
        journal.append([entry("probe", unit=unit)])
        return "probe" in messages_of(recorder)

    wait_until(probe_arrived, 30, interval=0.3, message="the agent to follow the journal")


def after_probes(recorder: Recorder) -> List[str]:
    """The messages after the probes (several may arrive: the probing goes on until the first one does)."""
    messages = messages_of(recorder)
    return messages[len(messages) - messages[::-1].index("probe"):]


def wait_message(recorder: Recorder, message: str, timeout: float = 20) -> None:
    wait_until(lambda: message in messages_of(recorder), timeout, message=f"{message!r} at the broker")


def numbered(recorder: Recorder, prefix: str) -> List[int]:
    return [int(m[len(prefix):]) for m in messages_of(recorder) if m.startswith(prefix)]


def test_kept_entries_are_published_redacted_and_valid(start_agent, recorder, journal, schemas):
    start_agent(logs_config(journal, units=["app.service"], exclude=["^health"], redact=[r"card=(\d+)"]))
    wait_following(journal, recorder)
    journal.append([
        entry(f"login failed for bob password={SECRET} card=4111111111111111"),
        entry("request served", priority=6),  # below warning
        entry("disk is full", unit="other.service"),  # not in units
        kernel("NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus."),  # kernel: whatever units say
        entry("health check ok"),  # excluded by regex
        entry(b"binary \xff payload"),
        entry("last"),
    ])
    wait_message(recorder, "last")
    assert after_probes(recorder) == [
        "login failed for bob password=*** card=***",
        "NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.",
        "binary \ufffd payload",
        "last",
    ]
    assert not any(SECRET.encode() in m.payload or b"4111111111111111" in m.payload for m in recorder.messages), \
        "the secret never reaches the broker"
    for payload in recorder.payloads("logs"):
        jsonschema.validate(payload, schemas["logs"])
    nvrm = next(e for e in shipped(recorder) if e["message"].startswith("NVRM"))
    assert (nvrm["unit"], nvrm["identifier"], nvrm["transport"], nvrm["pid"]) == ("", "kernel", "kernel", None)
    login = shipped(recorder)[messages_of(recorder).index("last") - 3]
    assert (login["unit"], login["identifier"], login["pid"], login["priority"]) == ("app.service", "app", 4242, 3)


def test_a_chatty_unit_is_rate_limited_and_its_drops_are_counted(start_agent, recorder, journal, schemas):
    start_agent(logs_config(journal, rate_limit={"lines": 5, "per": "1h", "burst": 5}))
    wait_following(journal, recorder)
    journal.append([entry(f"spam {n}", unit="chatty.service") for n in range(30)] + [entry("after the spam")])
    wait_message(recorder, "after the spam")
    assert numbered(recorder, "spam ") == [0, 1, 2, 3, 4], "the burst passes, the rest is dropped"
    dropped = sum(p.get("dropped", {}).get("chatty.service", 0) for p in recorder.payloads("logs"))
    assert dropped == 25
    for payload in recorder.payloads("logs"):
        jsonschema.validate(payload, schemas["logs"])

    def counted(sample) -> bool:
        """A sample taken once the batches were acknowledged: 5 spam lines, the last line, the probes."""
        metrics = sample["metrics"]
        return metrics.get("fleetmon_agent_log_lines_dropped_total") == [[{"unit": "chatty.service"}, 25]] \
            and metrics["fleetmon_agent_log_lines_published_total"] >= 7

    sample = recorder.wait("metrics", where=counted, timeout=20)[0]
    assert sample["metrics"]["fleetmon_agent_log_lines_read_total"] >= 32
    assert sample["metrics"]["fleetmon_agent_log_spool_batches"] == 0


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_the_cursor_survives_an_agent_restart_while_lines_keep_coming(start_agent, recorder, journal, stop):
    config = logs_config(journal)
    agent = start_agent(config)
    wait_following(journal, recorder)
    appender = Appender(journal).start()
    try:
        wait_until(lambda: len(numbered(recorder, "line ")) >= 30, 30, message="lines before the restart")
        agent.stop(kill=stop == "sigkill")
        seen_before = len(numbered(recorder, "line "))
        agent.start()
        wait_until(lambda: len(numbered(recorder, "line ")) >= seen_before + 30, 30,
                   message="lines after the restart")
    finally:
        written = appender.stop()
    wait_until(lambda: set(numbered(recorder, "line ")) >= set(range(1, written + 1)), 30,
               message=f"all {written} lines")
    counts = Counter(numbered(recorder, "line "))
    assert set(counts) == set(range(1, written + 1)), "no gap across the restart"
    if stop == "sigterm":
        assert max(counts.values()) == 1, "a clean stop saved the cursor: nothing is sent twice"
    else:
        # Killed, the agent resumes from the cursor it saved last (at most a few seconds old): lines after it
        # come again, with the same cursor, which is what the hub keeps one copy by.
        by_cursor = {}
        for item in shipped(recorder):
            assert by_cursor.setdefault(item["cursor"], item["message"]) == item["message"]
    sessions = {p["session"] for p in recorder.payloads("logs")}
    assert len(sessions) == 2, "the restarted agent is a new session"


def test_batches_spooled_while_the_broker_is_away_arrive_in_order(start_agent, recorder, journal, broker):
    agent = start_agent(logs_config(journal))
    wait_following(journal, recorder)
    broker.stop()
    recorder.close()
    wait_until(lambda: "lost; retrying" in agent.log, 20, message="the agent to notice the outage")
    spool = agent.dir / "state" / "logs" / "spool"
    for batches in range(1, 6):
        journal.append([entry(f"outage {(batches - 1) * 10 + n}") for n in range(10)])
        wait_until(lambda wanted=batches: len(list(spool.glob("*.json"))) >= wanted, 20,
                   message=f"{batches} batches in the log spool")
    # Paused while the broker comes back and the new subscriber subscribes, so that it cannot send before
    # anyone listens.
    agent.signal(signal.SIGSTOP)
    try:
        broker.start()
        late = Recorder(broker)
        late.sync()
    finally:
        agent.signal(signal.SIGCONT)
    try:
        wait_until(lambda: len(numbered(late, "outage ")) >= 50, 30, message="the spooled batches")
        assert numbered(late, "outage ") == list(range(50)), "every line once, in the order it was logged"
        seqs = [p["seq"] for p in late.payloads("logs")]
        assert seqs == sorted(seqs)
        wait_until(lambda: not list(spool.glob("*.json")), 20, message="the log spool to empty")
    finally:
        late.close()


def test_a_reload_that_changes_the_logs_section_resumes_after_the_cursor(start_agent, recorder, journal):
    agent = start_agent(logs_config(journal))
    wait_following(journal, recorder)
    journal.append([entry("before 1"), entry("before 2")])
    wait_message(recorder, "before 2")
    agent.write_config(dict(agent.config, **logs_config(journal, exclude=["^noise"])))
    agent.signal(signal.SIGHUP)
    recorder.wait("events", where=lambda p: p["event"]["kind"] == "config_reloaded")
    journal.append([entry("noise"), entry("after")])
    wait_message(recorder, "after")
    assert after_probes(recorder) == ["before 1", "before 2", "after"]


def test_a_bad_logs_section_stops_the_agent_naming_the_key(start_agent, tmp_path):
    agent = start_agent({"logs": {"enabled": True, "priority": "loud", "rate_limit": {"per": "often"},
                                  "journal_directory": str(tmp_path / "missing")}})
    assert agent.process.wait(timeout=20) == 2
    for path in ("logs.priority", "logs.rate_limit.per", "logs.journal_directory"):
        assert path in agent.log
