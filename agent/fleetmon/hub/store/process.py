"""The writer's own process.

Python's sqlite3 releases the GIL around every statement step. A writer thread beside the hub's busy ingest
thread therefore waits for the GIL after every row (measured: 5,000 inserts take 12 ms alone and 46 s beside
a busy thread), so the store runs its writer in a separate process: the hub process only appends items to a
list and ships them in batches through a pipe; the child feeds them to the same ``Writer`` thread as before.
Counters travel back through shared memory (numbers, and the latest failure as text); control requests
(flush, prune, stop) and their outcome through a second queue.
"""

import dataclasses
import os
import queue
from typing import Any

from fleetmon.hub.store.config import StoreConfig
from fleetmon.hub.store.counters import Counters
from fleetmon.hub.store.failures import REASONS
from fleetmon.hub.store.writer import Control, Writer

#: The numeric counter fields in the order of the shared array; then ``consumed`` (items the writer has
#: taken), then the failed attempts by reason, in the order of REASONS.
FIELDS = tuple(field.name for field in dataclasses.fields(Counters) if field.type in (int, float))
CONSUMED = len(FIELDS)
SHARED_SIZE = CONSUMED + 1 + len(REASONS)
TEXT_SIZE = 400  # bytes of the failure text shared, at most
#: How long the child waits for work before checking that its parent is still alive.
_IDLE = 0.5


def serve(path: str, config: StoreConfig, items: Any, results: Any, shared: Any, text: Any) -> None:
    """The child process: runs the Writer, feeds it what arrives, answers control requests."""
    local: queue.Queue = queue.Queue()
    counters = Counters()
    writer = Writer(path, config, local, counters)
    writer.start()
    writer.ready.wait()
    if writer.startup_error is not None:
        results.put(("ready", f"{type(writer.startup_error).__name__}: {writer.startup_error}"))
        return
    _publish(counters, 0, shared, text)  # what startup found (a corrupt file replaced) is known at once
    results.put(("ready", None))
    parent, received = os.getppid(), 0
    while True:
        try:
            message = items.get(timeout=_IDLE)
        except queue.Empty:
            message = None
        if isinstance(message, list):
            for item in message:
                local.put(item)
            received += len(message)
        elif message is not None:
            action, now, seq = message
            control = Control(action, now)
            if action == "stop":
                writer.stopping.set()  # a batch that cannot be written now is given up, not retried for ever
            local.put(control)
            while not control.done.wait(_IDLE) and writer.is_alive():
                pass
            _publish(counters, received - local.qsize(), shared, text)
            error = control.error if writer.is_alive() or control.done.is_set() else RuntimeError("writer died")
            results.put((seq, None if error is None else f"{type(error).__name__}: {error}"))
            if action == "stop":
                writer.join()
                return
        _publish(counters, received - local.qsize(), shared, text)
        if os.getppid() != parent or not writer.is_alive():  # orphaned, or the writer crashed: nothing to serve
            return


def _publish(counters: Counters, consumed: int, shared: Any, text: Any) -> None:
    # The failure's text first: a reader that sees failing_since set finds the failure it belongs to.
    encoded = counters.failure.encode(errors="replace")[:TEXT_SIZE - 1]
    if encoded != text.value:
        text.value = encoded
    for index, name in enumerate(FIELDS):
        shared[index] = getattr(counters, name)
    shared[CONSUMED] = consumed
    for index, reason in enumerate(REASONS, start=CONSUMED + 1):
        shared[index] = counters.failures[reason]


class CounterView:
    """The writer process's counters as the hub reads them; the drop counters are the hub process's own."""

    def __init__(self, shared: Any, text: Any) -> None:
        self._shared = shared
        self._text = text
        self.samples_dropped = 0
        self.records_dropped = 0
        self.dropped: dict[tuple[str, str], int] = {}  # ("sample" or "record", why) -> count
        self.remote_write: Any = None  # the RemoteWriteProcess, with history.remote_write
        self.long_term: Any = None  # the LongTermReader, with history.remote_read

    @property
    def failures(self) -> dict[str, int]:
        """Failed write attempts by reason (REASONS)."""
        return {reason: int(self._shared[index]) for index, reason in enumerate(REASONS, start=CONSUMED + 1)}

    @property
    def failure(self) -> str:
        """While writes fail: the latest failure, for people ("" while writing)."""
        return self._text.value.decode(errors="replace")

    @property
    def failing_reason_name(self) -> str:
        """The REASONS name of the latest failure while writes fail, "" while writing."""
        index = int(self._shared[FIELDS.index("failing_reason")])
        return REASONS[index - 1] if index else ""

    def __getattr__(self, name: str) -> float:
        try:
            value = self._shared[FIELDS.index(name)]
        except ValueError:
            raise AttributeError(name) from None
        return value if name.endswith("seconds") or name.endswith("_total") else int(value)

    @property
    def consumed(self) -> int:
        return int(self._shared[CONSUMED])
