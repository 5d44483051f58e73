"""Real systemd journal files for the log tests, written by systemd-journal-remote.

``systemd-journal-remote --output=FILE -`` reads the Journal Export Format on stdin and appends real journal
entries to FILE (it creates the file on the first run, and appends on later ones); ``journalctl -D DIR``
reads them as it reads the system journal, and ``journalctl --follow`` sees what later runs append. So the
agent follows a journal that the test writes to, with no mock of journalctl anywhere.

This file runs under the agent's Python 3.8 as well.
"""

import os
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, Iterable, Optional, Union

import pytest

CANDIDATES = ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
FieldValue = Union[str, bytes, int]


def journal_remote() -> str:
    found = shutil.which("systemd-journal-remote") or next((p for p in CANDIDATES if os.path.exists(p)), None)
    if found is None:
        pytest.fail("systemd-journal-remote is not installed: run `make deps`")
    return found


def boot_id() -> str:
    """This machine's boot id, as journald would write it (no dashes)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    except OSError:
        return "0123456789abcdef0123456789abcdef"


def entry(message: FieldValue, priority: int = 3, unit: Optional[str] = "app.service",
          identifier: Optional[str] = "app", pid: Optional[int] = 4242, transport: str = "journal",
          **fields: FieldValue) -> Dict[str, FieldValue]:
    """The fields of one journal entry; ``unit=None`` leaves _SYSTEMD_UNIT out."""
    out: Dict[str, FieldValue] = {"MESSAGE": message, "PRIORITY": priority, "_TRANSPORT": transport}
    if unit is not None:
        out["_SYSTEMD_UNIT"] = unit
    if identifier is not None:
        out["SYSLOG_IDENTIFIER"] = identifier
    if pid is not None:
        out["_PID"] = pid
    out.update(fields)
    return out


def kernel(message: str, priority: int = 3) -> Dict[str, FieldValue]:
    """A kernel message as journald stores one: no unit, no pid, identifier 'kernel'."""
    return entry(message, priority=priority, unit=None, identifier="kernel", pid=None, transport="kernel")


class JournalFiles:
    """A journal directory the test appends entries to; timestamps are now, strictly increasing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "test.journal"
        self._tool = journal_remote()
        self._boot = boot_id()
        self._last_us = 0
        self._lock = threading.Lock()  # one writer at a time: the appender thread and the test may both write

    def append(self, entries: Iterable[Dict[str, FieldValue]]) -> None:
        with self._lock:
            export = b"".join(self._export(fields) for fields in entries)
            if not export:
                return
            done = subprocess.run([self._tool, f"--output={self.path}", "-"], input=export,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            assert done.returncode == 0, done.stdout.decode(errors="replace")

    def _export(self, fields: Dict[str, FieldValue]) -> bytes:
        now_us = max(int(time.time() * 1e6), self._last_us + 1)
        self._last_us = now_us
        head = {"__REALTIME_TIMESTAMP": now_us, "__MONOTONIC_TIMESTAMP": int(time.monotonic() * 1e6),
                "_BOOT_ID": self._boot}
        out = []
        for name, value in list(head.items()) + list(fields.items()):
            data = value if isinstance(value, bytes) else str(value).encode()
            if b"\n" in data or isinstance(value, bytes):
                # the binary form: name, newline, little-endian 64-bit length, the bytes, newline
                out.append(name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
            else:
                out.append(name.encode() + b"=" + data + b"\n")
        return b"".join(out) + b"\n"


class Appender:
    """Appends numbered lines in a thread until stopped: the journal keeps growing across agent restarts."""

    def __init__(self, journal: JournalFiles, unit: str = "steady.service", every: float = 0.05,
                 per_append: int = 3) -> None:
        self.journal, self.unit, self.every, self.per_append = journal, unit, every, per_append
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Appender":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self.written + 1
            self.journal.append(entry(f"line {n}", unit=self.unit) for n in range(first, first + self.per_append))
            self.written += self.per_append
            self._stop.wait(self.every)

    def stop(self) -> int:
        """Stop appending; returns how many lines were written (numbered 1..that)."""
        self._stop.set()
        self._thread.join(timeout=30)
        return self.written
