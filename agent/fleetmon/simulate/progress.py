"""What a long simulation shows while it runs: a rich progress bar on a terminal, else a plain line every
few seconds (logs, CI, pipes)."""

import sys
import time
from typing import Any, Callable, NamedTuple, Optional, TextIO

PLAIN_EVERY_S = 5.0


class Snapshot(NamedTuple):
    elapsed_s: float
    duration_s: Optional[float]
    messages: int
    samples: int
    errors: int
    dead: int
    silent: int

    def line(self, rate: float) -> str:
        total = f"/{self.duration_s:.0f}s" if self.duration_s else "s"
        return (f"{self.elapsed_s:.0f}{total}  {self.messages} messages ({rate:.0f}/s)  {self.samples} samples  "
                f"errors {self.errors}  dead {self.dead}  silent {self.silent}")


class PlainProgress:
    """A line every ``every`` seconds, with the message rate since the previous line."""

    def __init__(self, out: TextIO = sys.stdout, every: float = PLAIN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.every, self.clock = out, every, clock
        self._last_at = clock()
        self._last_messages = 0

    def update(self, snapshot: Snapshot) -> None:
        now = self.clock()
        if now - self._last_at < self.every:
            return
        rate = (snapshot.messages - self._last_messages) / (now - self._last_at)
        self._last_at, self._last_messages = now, snapshot.messages
        self.out.write(snapshot.line(rate) + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class RichProgress:
    def __init__(self, duration_s: Optional[float]) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("simulate"), BarColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[status]}"))
        self._task = self._progress.add_task("simulate", total=duration_s, status="connecting")
        self._progress.start()
        self._last_at, self._last_messages = time.monotonic(), 0
        self._rate = 0.0

    def update(self, snapshot: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last_at >= 1.0:
            self._rate = (snapshot.messages - self._last_messages) / (now - self._last_at)
            self._last_at, self._last_messages = now, snapshot.messages
        status = (f"{self._rate:.0f} msg/s  {snapshot.samples} samples  errors {snapshot.errors}  "
                  f"dead {snapshot.dead}  silent {snapshot.silent}")
        self._progress.update(self._task, completed=snapshot.elapsed_s, status=status)

    def close(self) -> None:
        self._progress.stop()


def progress_for(out: Any, duration_s: Optional[float]):
    """The display that suits ``out``: rich on a terminal (when rich is installed), plain lines otherwise."""
    if out.isatty():
        try:
            return RichProgress(duration_s)
        except ImportError:
            pass  # the agent's minimal install has no rich; plain lines work everywhere
    return PlainProgress(out)
