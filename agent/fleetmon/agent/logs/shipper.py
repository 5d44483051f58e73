"""The log shipper: journal → filters → rate limit → redaction → batches → broker or log spool.

One thread owns the whole path, so nothing in it needs a lock: it reads what journalctl printed, keeps
what the filters keep, lets the rate limit drop what a chatty source sends too much of, redacts what is
left (nothing leaves the host, the spool included, before redaction), closes batches when they are due
and hands them to the delivery, which publishes them on ``<prefix>/hosts/<host>/logs`` through the
daemon's MQTT link or spools them. Its counters go into the agent's samples (``add_metrics``).

The daemon builds one when ``logs.enabled`` is on and replaces it on a reload that changes the logs
section, the host id or the broker: ``stop`` hands everything read to the delivery and saves the cursor,
so the next shipper resumes where this one stopped.
"""

import logging
import os
import shutil
import threading
import time
from typing import Any, Callable, Optional

from fleetmon.agent.logs.batch import MAX_PAYLOAD_BYTES, BatchBuilder, split_to_fit
from fleetmon.agent.logs.config import LogsConfig
from fleetmon.agent.logs.cursor import CursorFile
from fleetmon.agent.logs.delivery import LogDelivery
from fleetmon.agent.logs.filters import LogFilter
from fleetmon.agent.logs.journal import JournalEntry, JournalFollower, journalctl_command
from fleetmon.agent.logs.ratelimit import RateLimiter, source_of
from fleetmon.agent.logs.redact import Redactor
from fleetmon.agent.spool import Spool
from fleetmon.config_reader import ConfigError
from fleetmon.protocol import messages
from fleetmon.protocol.metricset import MetricSet

log = logging.getLogger("fleetmon.agent.logs")

#: The message schema's bound on one message (schemas/logs.json); longer ones are cut after redaction.
MAX_MESSAGE = 65536
#: Longest wait for journalctl's output, so acknowledgements and the spool are looked at this often.
POLL = 0.25
#: On stop: how long batches in flight may take to be acknowledged before they are spooled instead.
STOP_ACK_WAIT = 3.0
#: Bytes an entry costs in a batch besides its message (field names, cursor, numbers).
ENTRY_OVERHEAD = 200
#: After an unexpected error the shipper starts over (a new journalctl from the last cursor) this much later.
ERROR_PAUSE = 5.0


def find_journalctl() -> str:
    """journalctl's path; ConfigError when logs are enabled on a host without it."""
    path = shutil.which("journalctl")
    if not path:
        raise ConfigError(["logs.enabled: journalctl is not installed on this host"])
    return path


class LogShipper:
    def __init__(self, config: LogsConfig, host: str, session: int, state_dir: str,
                 publish: Callable[[bytes], Any], can_deliver: Callable[[], bool],
                 next_seq: Callable[[], int], journalctl: Optional[str] = None) -> None:
        """``publish``: a payload to the logs topic at QoS 1, returning paho's MQTTMessageInfo or None when
        the broker is away; ``can_deliver``: whether a batch sent now would reach the hub (connected, and
        the hub online once one has been seen); ``next_seq``: the envelope's seq for the next logs message."""
        journalctl = journalctl or find_journalctl()
        self.host = host
        self.session = session
        self._next_seq = next_seq
        directory = os.path.join(state_dir, "logs")
        os.makedirs(directory, mode=0o750, exist_ok=True)
        cursor_file = CursorFile(os.path.join(directory, "cursor"), config.journal_directory)
        cursor = cursor_file.load()
        self.spool = Spool(os.path.join(directory, "spool"), config.spool.max_batches, config.spool.max_bytes)
        self.delivery = LogDelivery(self.spool, session, publish, can_deliver, cursor_file, saved_cursor=cursor)
        self.follower = JournalFollower(
            lambda after: journalctl_command(journalctl, config.priority, after, config.journal_directory), cursor)
        self.filter = LogFilter(config)
        self.limiter = RateLimiter(config.rate_limit)
        self.redactor = Redactor(config.redactions())
        self.batch = BatchBuilder(config.batch_lines, config.batch_interval)
        self.lines_read = 0
        self.errors = 0
        self._processed_cursor = cursor  # of the last entry taken through the filters
        self._handed_cursor = cursor  # of the last entry in a batch handed to the delivery
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def add_metrics(self, metrics: MetricSet) -> None:
        """The shipper's counters, for the agent's next sample (read from the main loop's thread)."""
        metrics.add("fleetmon_agent_log_lines_read_total", self.lines_read)
        metrics.add("fleetmon_agent_log_lines_published_total", self.delivery.published_lines)
        for source, count in dict(self.limiter.dropped_total).items():
            metrics.add("fleetmon_agent_log_lines_dropped_total", count, {"unit": source})
        metrics.add("fleetmon_agent_log_spool_batches", len(self.spool))
        metrics.add("fleetmon_agent_log_spool_dropped_total",
                    self.spool.dropped_total + self.delivery.spool_write_failures)
        metrics.add("fleetmon_agent_log_journal_restarts_total", max(0, self.follower.starts - 1))
        metrics.add("fleetmon_agent_log_shipper_errors_total", self.errors)

    # --- the shipper's thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # a bug must not end log shipping for good: say so, count it, start over
                    self.errors += 1
                    log.exception("log shipping failed; starting over after the entry it failed on")
                    self.follower.close()
                    self.follower.cursor = self._processed_cursor  # entries read after it were not taken
                    self._stop.wait(ERROR_PAUSE)
        finally:
            self._finish()

    def _step(self) -> None:
        now = time.monotonic()
        entries = self.follower.read(min(POLL, self.batch.seconds_left(now)))
        now = time.monotonic()
        for entry in entries:
            self._take(entry, now)
            if self.batch.is_due(now):
                self._close_batch(now)
        if self.batch.is_due(now, pending=self._news_waiting()):
            self._close_batch(now)
        self.delivery.tick()

    def _take(self, entry: JournalEntry, now: float) -> None:
        """Filters, then the rate limit, then redaction: only kept entries spend a source's allowance."""
        self.lines_read += 1
        self._processed_cursor = entry.cursor
        if not self.filter.keeps(entry) or not self.limiter.take(source_of(entry), now):
            return
        message = self.redactor.redact(entry.message[:2 * MAX_MESSAGE])[:MAX_MESSAGE]
        self.batch.add({"ts": round(entry.ts, 6), "cursor": entry.cursor, "priority": entry.priority,
                        "unit": entry.unit, "identifier": entry.identifier, "pid": entry.pid,
                        "transport": entry.transport, "message": message},
                       len(message) + ENTRY_OVERHEAD, now)

    def _news_waiting(self) -> bool:
        """Something to hand over without entries: drops to report, or a cursor past entries not kept."""
        return self.limiter.has_dropped or self._processed_cursor != self._handed_cursor

    def _close_batch(self, now: float) -> None:
        entries = self.batch.take(now)
        dropped = self.limiter.take_dropped()
        if not (entries or dropped):
            self.delivery.hand_over(0, None, 0, self._processed_cursor)
            self._handed_cursor = self._processed_cursor
            return
        sent_at = time.time()

        def encode(part, part_dropped, seq):
            return messages.encode(messages.logs(self.host, self.session, seq, sent_at, part, part_dropped))

        seq = self._next_seq()
        payload = encode(entries, dropped, seq)
        if len(payload) <= MAX_PAYLOAD_BYTES:  # nearly always: the batch closed by its estimated size
            self.delivery.hand_over(seq, payload, len(entries), self._processed_cursor)
        else:
            # Sizes judged with the widest sequence number, so the real one cannot push a part over.
            parts = split_to_fit(entries, dropped, lambda part, part_dropped: encode(part, part_dropped, 2 ** 53))
            for number, (part, part_dropped) in enumerate(parts, 1):
                # Each part settles the cursor of its own last entry; the last part, the batch's.
                cursor = self._processed_cursor if number == len(parts) else part[-1]["cursor"]
                seq = seq if number == 1 else self._next_seq()
                self.delivery.hand_over(seq, encode(part, part_dropped, seq), len(part), cursor)
        self._handed_cursor = self._processed_cursor

    def _finish(self) -> None:
        """Stop journalctl, hand over what was read, give the broker a moment, spool the rest, save the cursor."""
        self.follower.close()
        if len(self.batch) or self._news_waiting():
            self._close_batch(time.monotonic())
        self.delivery.tick()
        self.delivery.close(STOP_ACK_WAIT)
