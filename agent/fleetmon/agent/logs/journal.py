"""The systemd journal, read through ``journalctl --output=json --follow`` as a child process.

journalctl rather than libsystemd bindings: it is on every systemd host, needs no compiled module on the
Jetsons, and filtering by priority happens in C before a line reaches Python (the agent's CPU at 1,000
lines a second is mostly JSON parsing). ``--output-fields`` keeps the lines short for the same reason.

``--merge`` is there for journalctl 250 and later, where ``--follow`` implies ``--boot``: resuming after a
reboot from a cursor of the previous boot would then skip the rest of that boot, and with a cursor it also
skips the first entry of the current one (systemd issues 24565, 38912). ``--merge`` turns the implied boot
filter off; on older journalctl it changes nothing for the local journal. ``--all`` keeps long messages,
which JSON output otherwise turns into null above 4,096 bytes.

The follower restarts journalctl with a jittered backoff when it exits, resuming after the cursor of the
last entry it read, so a restart neither repeats nor skips.
"""

import json
import logging
import os
import selectors
import subprocess
import time
from typing import Any, Callable, List, NamedTuple, Optional

from fleetmon.mqtt.link import Backoff

log = logging.getLogger("fleetmon.agent.logs")

#: The journal fields an entry is made of (the cursor and the realtime timestamp always come along).
FIELDS = ("MESSAGE", "PRIORITY", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_TRANSPORT")
#: journald's priority for a line that carries none (stdout of a service): info.
DEFAULT_PRIORITY = 6
#: After running this long, journalctl counts as healthy: its next exit restarts it after the shortest wait.
HEALTHY_RUN = 30.0
#: stderr lines logged per journalctl run: its hints are worth a look, a loop of them is not.
STDERR_LINES_LOGGED = 20
_READ_SIZE = 256 * 1024


class JournalEntry(NamedTuple):
    ts: float  # __REALTIME_TIMESTAMP, Unix seconds
    cursor: str
    priority: int  # 0 emerg .. 7 debug
    unit: str  # _SYSTEMD_UNIT, "" when none (kernel messages)
    identifier: str  # SYSLOG_IDENTIFIER
    pid: Optional[int]
    transport: str  # _TRANSPORT: journal, syslog, stdout, kernel, audit, driver
    message: str

    @property
    def is_kernel(self) -> bool:
        return self.transport == "kernel"


def parse_entry(line: bytes) -> Optional[JournalEntry]:
    """One line of ``journalctl --output=json``, or None for anything that is not an entry with a cursor."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    cursor = record.get("__CURSOR")
    if not isinstance(cursor, str) or not cursor:
        return None
    return JournalEntry(
        ts=_integer(record.get("__REALTIME_TIMESTAMP"), 0) / 1e6,
        cursor=cursor,
        priority=_priority(record.get("PRIORITY")),
        unit=_text(record.get("_SYSTEMD_UNIT")),
        identifier=_text(record.get("SYSLOG_IDENTIFIER")),
        pid=_integer(record.get("_PID"), None),
        transport=_text(record.get("_TRANSPORT")),
        message=_text(record.get("MESSAGE")),
    )


def _text(value: Any) -> str:
    """A field as text: a string, a list of byte values (binary data, decoded leniently), or a list of those
    (a field the entry carries more than once, joined by newlines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if value and all(isinstance(item, int) and 0 <= item <= 255 for item in value):
            return bytes(value).decode("utf-8", "replace")
        return "\n".join(_text(item) for item in value)
    return "" if value is None else str(value)


def _integer(value: Any, default: Any) -> Any:
    try:
        return int(_text(value).split("\n")[0])
    except ValueError:
        return default


def _priority(value: Any) -> int:
    priority = _integer(value, DEFAULT_PRIORITY)
    return priority if 0 <= priority <= 7 else DEFAULT_PRIORITY


def journalctl_command(journalctl: str, priority: int, cursor: Optional[str],
                       directory: Optional[str] = None) -> List[str]:
    """The journalctl invocation: after ``cursor``, or from now when there is none."""
    command = [journalctl, "--output=json", "--follow", "--merge", "--all", "--no-pager",
               "--output-fields=" + ",".join(FIELDS)]
    if priority < 7:
        command.append(f"--priority={priority}")  # 7 would drop entries without PRIORITY
    if directory:
        command.append(f"--directory={directory}")
    command.append(f"--after-cursor={cursor}" if cursor else "--since=now")
    return command


class JournalFollower:
    """journalctl --follow as a child process, kept running; ``read`` hands out the entries it printed.

    Used by one thread (the shipper's).
    """

    def __init__(self, command_for: Callable[[Optional[str]], List[str]], cursor: Optional[str],
                 backoff: Optional[Backoff] = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._command_for = command_for  # cursor -> argv, called on every (re)start
        self.cursor = cursor  # of the last entry read: where a restarted journalctl resumes
        self._backoff = backoff or Backoff(1.0, 60.0)
        self._clock = clock
        self._process: Optional[subprocess.Popen] = None
        self._selector: Optional[selectors.BaseSelector] = None
        self._started_at = 0.0
        self._start_after = float("-inf")
        self._partial = b""
        self._stderr_logged = 0
        self.starts = 0
        self.unparsable = 0

    @property
    def pid(self) -> Optional[int]:
        """The running journalctl's process id; None between runs."""
        return self._process.pid if self._process is not None else None

    def read(self, timeout: float) -> List[JournalEntry]:
        """Entries journalctl printed, waiting up to ``timeout`` seconds for the first; starts (or restarts,
        once its backoff has passed) journalctl as needed."""
        if self._process is None and not self._start():
            time.sleep(max(0.0, min(timeout, self._start_after - self._clock())))
            return []
        entries: List[JournalEntry] = []
        for key, _ in self._selector.select(timeout):
            chunk = os.read(key.fd, _READ_SIZE)
            if key.data == "stderr":
                if not chunk:
                    self._selector.unregister(key.fileobj)  # closed: select would report it for ever
                self._log_stderr(chunk)
            elif chunk:
                entries.extend(self._lines(chunk))
            else:
                self._ended()
                break
        return entries

    def _lines(self, chunk: bytes) -> List[JournalEntry]:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        entries = []
        for line in lines:
            if not line.strip():
                continue
            entry = parse_entry(line)
            if entry is None:
                self.unparsable += 1
                log.debug("journalctl printed a line that is not an entry: %.200r", line)
                continue
            entries.append(entry)
            self.cursor = entry.cursor
        return entries

    def _start(self) -> bool:
        if self._clock() < self._start_after:
            return False
        command = self._command_for(self.cursor)
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, close_fds=True, bufsize=0)
        except OSError as exc:
            log.warning("cannot run %s: %s", command[0], exc)
            self._start_after = self._clock() + self._backoff.next()
            return False
        self.starts += 1
        self._started_at = self._clock()
        self._partial = b""
        self._stderr_logged = 0
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._process.stdout, selectors.EVENT_READ, "stdout")
        self._selector.register(self._process.stderr, selectors.EVENT_READ, "stderr")
        log.info("following the journal%s", f" after cursor {self.cursor}" if self.cursor else " from now")
        return True

    def _ended(self) -> None:
        """stdout closed: journalctl exited (or is about to). Plan the restart."""
        process = self._process
        self._release()
        try:
            code = process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if self._clock() - self._started_at >= HEALTHY_RUN:
            self._backoff.reset()
        delay = self._backoff.next()
        self._start_after = self._clock() + delay
        log.warning("journalctl exited with status %s; restarting in %.1f s", code, delay)

    def _log_stderr(self, chunk: bytes) -> None:
        for line in chunk.decode("utf-8", "replace").splitlines():
            if line.strip() and self._stderr_logged < STDERR_LINES_LOGGED:
                self._stderr_logged += 1
                log.warning("journalctl: %s", line.strip())

    def _release(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._process is not None:
            for stream in (self._process.stdout, self._process.stderr):
                stream.close()
        self._process = None

    def close(self) -> None:
        """Stop journalctl; what it printed and nobody read is read again by the next follower (its cursor)."""
        process = self._process
        self._release()
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
