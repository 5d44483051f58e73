"""The journal as the agent reads it: journalctl's JSON lines mapped to entries, and the follower running the
real journalctl over real journal files (tests/agent/journal_files.py) — appended to while it follows,
killed under it, missing."""

import json
import os
import signal
import subprocess
from typing import List, NamedTuple, Optional

import pytest

from fleetmon.agent.logs.journal import DEFAULT_PRIORITY, JournalEntry, JournalFollower, journalctl_command, parse_entry
from fleetmon.mqtt.link import Backoff
from tests.agent.journal_files import JournalFiles, entry, kernel
from tests.polling import wait_until

CURSOR = "s=1;i=2;b=3;m=4;t=5;x=6"


class Parsed(NamedTuple):
    name: str
    line: dict
    want: Optional[JournalEntry]


PARSED = [
    Parsed("a service line", {"__CURSOR": CURSOR, "__REALTIME_TIMESTAMP": "1763741300910000", "PRIORITY": "3",
                              "_SYSTEMD_UNIT": "app.service", "SYSLOG_IDENTIFIER": "app", "_PID": "42",
                              "_TRANSPORT": "stdout", "MESSAGE": "failed"},
           JournalEntry(1763741300.91, CURSOR, 3, "app.service", "app", 42, "stdout", "failed")),
    Parsed("a kernel line: no unit, no pid", {"__CURSOR": CURSOR, "__REALTIME_TIMESTAMP": "1000000",
                                              "PRIORITY": "4", "SYSLOG_IDENTIFIER": "kernel",
                                              "_TRANSPORT": "kernel", "MESSAGE": "NVRM: Xid 79"},
           JournalEntry(1.0, CURSOR, 4, "", "kernel", None, "kernel", "NVRM: Xid 79")),
    Parsed("binary message: bytes decoded leniently", {"__CURSOR": CURSOR, "MESSAGE": [104, 105, 255, 0, 33]},
           JournalEntry(0.0, CURSOR, DEFAULT_PRIORITY, "", "", None, "", "hi\ufffd\x00!")),
    Parsed("a field given twice", {"__CURSOR": CURSOR, "MESSAGE": ["first", "second"], "PRIORITY": "9"},
           JournalEntry(0.0, CURSOR, DEFAULT_PRIORITY, "", "", None, "", "first\nsecond")),
    Parsed("no cursor: not an entry", {"MESSAGE": "x"}, None),
    Parsed("not an object", [1, 2], None),
]


@pytest.mark.parametrize("case", PARSED, ids=lambda c: c.name)
def test_parse_entry(case):
    assert parse_entry(json.dumps(case.line).encode()) == case.want


def test_lines_that_are_not_json_are_no_entries():
    assert parse_entry(b"-- cursor: s=abc") is None and parse_entry(b"{truncated") is None


class Command(NamedTuple):
    name: str
    priority: int
    cursor: Optional[str]
    directory: Optional[str]
    present: tuple
    absent: tuple


COMMANDS = [
    Command("first start", 4, None, None, ("--since=now", "--priority=4", "--follow", "--merge", "--all"),
            ("--directory",)),
    Command("resume", 3, CURSOR, "/j", (f"--after-cursor={CURSOR}", "--directory=/j"), ("--since=now",)),
    Command("debug: no priority match, or entries without PRIORITY would go", 7, None, None, (),
            ("--priority=7",)),
]


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.name)
def test_journalctl_command(case):
    command = journalctl_command("journalctl", case.priority, case.cursor, case.directory)
    assert all(arg in command for arg in case.present), command
    assert not any(arg.startswith(absent) for arg in command for absent in case.absent), command


# --- the follower against real journal files ----------------------------------------------------------------


@pytest.fixture
def journal(tmp_path):
    return JournalFiles(tmp_path / "journal")


def cursors_in(journal: JournalFiles) -> List[str]:
    out = subprocess.run(["journalctl", f"--directory={journal.directory}", "--output=json", "--merge"],
                         stdout=subprocess.PIPE, check=True).stdout
    return [json.loads(line)["__CURSOR"] for line in out.splitlines() if line.strip()]


def follower_for(journal: JournalFiles, cursor: Optional[str], priority: int = 7, **kwargs) -> JournalFollower:
    return JournalFollower(lambda after: journalctl_command("journalctl", priority, after, str(journal.directory)),
                           cursor, backoff=Backoff(0.05, 0.2), **kwargs)


class Reader:
    """Collects what a follower reads until enough has come."""

    def __init__(self, follower: JournalFollower) -> None:
        self.follower = follower
        self.entries: List[JournalEntry] = []

    def until(self, count: int, timeout: float = 15.0) -> List[str]:
        def enough():
            self.entries.extend(self.follower.read(0.1))
            return len(self.entries) >= count

        wait_until(enough, timeout, message=f"{count} entries from journalctl")
        return [e.message for e in self.entries]


@pytest.fixture
def followers():
    made: List[JournalFollower] = []
    yield made
    for follower in made:
        follower.close()


def test_reads_what_is_appended_after_the_cursor_while_it_follows(journal, followers):
    journal.append([entry("before")])
    follower = follower_for(journal, cursors_in(journal)[-1])
    followers.append(follower)
    reader = Reader(follower)
    journal.append([entry("one"), kernel("NVRM: Xid 79")])
    assert reader.until(2) == ["one", "NVRM: Xid 79"], "after the cursor: the entry it names is not read again"
    journal.append([entry("two")])
    assert reader.until(3)[-1] == "two"
    assert follower.cursor == cursors_in(journal)[-1]
    nvrm = reader.entries[1]
    assert (nvrm.is_kernel, nvrm.unit, nvrm.identifier, nvrm.pid) == (True, "", "kernel", None)


def test_without_a_cursor_it_starts_from_now(journal, followers):
    journal.append([entry("old news")])
    follower = follower_for(journal, None)
    followers.append(follower)
    reader = Reader(follower)
    # journalctl takes "now" when it starts, a moment after the follower does: write until a line comes.
    def fresh_line_read():
        journal.append([entry("fresh")])
        reader.entries.extend(follower.read(0.3))
        return reader.entries

    wait_until(fresh_line_read, 15, message="a fresh line")
    assert {e.message for e in reader.entries} == {"fresh"}, "what was there before the start is not read"


def test_binary_and_long_messages_come_whole(journal, followers):
    journal.append([entry("start")])
    follower = follower_for(journal, cursors_in(journal)[-1])
    followers.append(follower)
    long_message = "x" * 10000  # JSON output makes fields over 4,096 bytes null unless --all
    journal.append([entry(b"raw \xff\xfe bytes"), entry(long_message), entry("two\nlines")])
    assert Reader(follower).until(3) == ["raw \ufffd\ufffd bytes", long_message, "two\nlines"]


def test_journalctl_killed_is_restarted_after_the_last_entry_read(journal, followers):
    journal.append([entry("start")])
    follower = follower_for(journal, cursors_in(journal)[-1])
    followers.append(follower)
    reader = Reader(follower)
    journal.append([entry("a"), entry("b")])
    reader.until(2)
    first_pid = follower.pid
    os.kill(first_pid, signal.SIGKILL)
    journal.append([entry("c"), entry("d")])
    assert reader.until(4) == ["a", "b", "c", "d"], "no line twice, none skipped"
    assert follower.starts == 2 and follower.pid != first_pid


def test_priority_is_filtered_by_journalctl(journal, followers):
    journal.append([entry("start")])
    follower = follower_for(journal, cursors_in(journal)[-1], priority=4)
    followers.append(follower)
    journal.append([entry("info", priority=6), entry("err", priority=3), entry("warning", priority=4)])
    assert Reader(follower).until(2) == ["err", "warning"]


def test_a_missing_journalctl_is_retried_without_failing(tmp_path):
    follower = JournalFollower(lambda after: [str(tmp_path / "no-journalctl")], None, backoff=Backoff(0.05, 0.1))
    assert follower.read(0.1) == [] and follower.read(0.1) == []
    assert follower.starts == 0 and follower.pid is None
