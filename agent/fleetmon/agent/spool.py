"""The store-and-forward spool: samples taken while the broker is away, kept on disk in order.

One file per sample, named ``<session>-<seq>.json`` with zero padding, so the directory listing *is* the
order and a restart picks up where the last run stopped. Files are written to a temporary name and renamed,
so a crash never leaves half a sample. At the bound (count or bytes) the oldest samples are deleted and
counted; the agent publishes that count as an event, so data is never lost silently.
"""

import contextlib
import logging
import os
import threading
from collections import deque
from typing import Deque, List, Optional, Tuple

log = logging.getLogger("fleetmon.agent.spool")

SUFFIX = ".json"


class Spool:
    def __init__(self, directory: str, max_samples: int, max_bytes: int) -> None:
        self.directory = directory
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._lock = threading.Lock()
        os.makedirs(directory, mode=0o750, exist_ok=True)
        self._entries: Deque[Tuple[str, int]] = deque()
        self._bytes = 0
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name.endswith(".tmp"):
                os.unlink(path)  # an interrupted write: never renamed, never counted
            elif name.endswith(SUFFIX):
                size = os.path.getsize(path)
                self._entries.append((name, size))
                self._bytes += size
        if self._entries:
            log.info("spool holds %d samples from an earlier run", len(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def put(self, session: int, seq: int, payload: bytes) -> int:
        """Store one sample; returns how many of the oldest were dropped to stay within the bound."""
        name = f"{session:010d}-{seq:012d}{SUFFIX}"
        path = os.path.join(self.directory, name)
        with open(path + ".tmp", "wb") as handle:
            handle.write(payload)
        os.replace(path + ".tmp", path)
        with self._lock:
            self._entries.append((name, len(payload)))
            self._bytes += len(payload)
            dropped = 0
            while len(self._entries) > 1 and (len(self._entries) > self.max_samples
                                              or self._bytes > self.max_bytes):
                self._remove_locked(self._entries[0][0])
                dropped += 1
            self.dropped_total += dropped
        return dropped

    def oldest(self) -> Optional[Tuple[str, bytes]]:
        """The oldest sample as (name, payload), or None; it stays until ``remove(name)``."""
        with self._lock:
            while self._entries:
                name = self._entries[0][0]
                try:
                    with open(os.path.join(self.directory, name), "rb") as handle:
                        return name, handle.read()
                except FileNotFoundError:
                    log.warning("spooled sample %s vanished from disk", name)
                    self._remove_locked(name)
            return None

    def remove(self, name: str) -> None:
        with self._lock:
            self._remove_locked(name)

    def _remove_locked(self, name: str) -> None:
        for index, (entry, size) in enumerate(self._entries):
            if entry == name:
                del self._entries[index]
                self._bytes -= size
                break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.directory, name))

    def names(self) -> List[str]:
        with self._lock:
            return [name for name, _ in self._entries]
