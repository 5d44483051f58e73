"""Where tegrastats lines come from: the tegrastats program, or a recorded log replayed line by line.

Every source offers the same small interface (``JetsonSource``): ``read()`` returns the current
reading or raises ``SourceError`` saying why there is none, ``board()`` names the board, ``close()``
releases what the source holds. jtop, the third source, lives in ``jtop_source``.
"""

import logging
import subprocess
import threading
import time
from typing import List, Optional, Protocol, Tuple

from fleetmon.agent.collectors.jetson.board import BoardInfo, board_info
from fleetmon.agent.collectors.jetson.nvpmodel import NvpmodelProbe
from fleetmon.agent.collectors.jetson.reading import JetsonReading
from fleetmon.agent.collectors.jetson.tegrastats import parse_line

log = logging.getLogger("fleetmon.agent.jetson")


class SourceError(Exception):
    """The source has no current reading; the message says why (not started, stale, finished...)."""


class JetsonSource(Protocol):
    name: str

    def read(self) -> JetsonReading: ...

    def board(self) -> BoardInfo: ...

    def close(self) -> None: ...


class ReplaySource:
    """A recorded tegrastats log, one line per ``read()``, for labs and tests without a board.

    Blank lines and ``#`` comments are skipped. Comments of the form ``# model: ...`` and
    ``# l4t: 36.4.4`` describe the board the log was taken on, so a replayed host reports it.
    """

    name = "replay"

    def __init__(self, path: str, loop: bool = True) -> None:
        self._path = path
        self._loop = loop
        self._lines, self._board = load_replay(path)
        if not self._lines:
            raise ValueError(f"{path} has no tegrastats lines")
        self._next = 0

    def read(self) -> JetsonReading:
        if self._next == len(self._lines):
            if not self._loop:
                raise SourceError(
                    f"replay finished: all {len(self._lines)} lines of {self._path} were played")
            self._next = 0
        line = self._lines[self._next]
        self._next += 1
        return parse_line(line)

    def board(self) -> BoardInfo:
        return self._board

    def close(self) -> None:
        """Nothing to release: the log was read whole at start."""


def load_replay(path: str) -> Tuple[List[str], BoardInfo]:
    lines: List[str] = []
    header = {"model": "", "l4t": ""}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            line = raw.strip()
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                if key.strip() in header and value.strip():
                    header[key.strip()] = value.strip()
            elif line:
                lines.append(line)
    return lines, board_info(header["l4t"], header["model"])


class TegrastatsProcess:
    """tegrastats running for as long as the agent does; ``read()`` parses its latest line.

    A reader thread keeps the newest line, so a sample costs no process start and no waiting (the first
    line only comes after one interval). If tegrastats exits it is started again, waiting twice as long
    after each failure up to ``max_restart_delay``.
    """

    name = "tegrastats"

    def __init__(self, path: str, interval: float, board: BoardInfo,
                 nvpmodel: Optional[NvpmodelProbe] = None, restart_delay: float = 1.0,
                 max_restart_delay: float = 60.0) -> None:
        self._command = [path, "--interval", str(max(1, round(interval * 1000)))]
        # A line is due every interval; one a few intervals old means tegrastats is stuck. The extra
        # second absorbs scheduling delays on a loaded board.
        self._stale_after = 3 * interval + 1.0
        self._board = board
        self._nvpmodel = nvpmodel
        self._restart_delay = restart_delay
        self._max_restart_delay = max_restart_delay
        # The newest line and when it arrived, replaced whole by the reader thread.
        self._latest: Optional[Tuple[str, float]] = None
        self._problem = "tegrastats has printed no line yet"
        self._stop = threading.Event()
        self._lock = threading.Lock()  # orders close() against the thread starting a process
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._thread = threading.Thread(target=self._supervise, name="fleetmon-tegrastats", daemon=True)
        self._thread.start()

    def read(self) -> JetsonReading:
        latest = self._latest
        if latest is None:
            raise SourceError(self._problem)
        line, arrived = latest
        age = time.monotonic() - arrived
        if age > self._stale_after:
            raise SourceError(f"the last tegrastats line is {age:.1f}s old ({self._problem})")
        reading = parse_line(line)
        if self._nvpmodel is not None:
            reading.nvpmodel = self._nvpmodel.mode()
        return reading

    def board(self) -> BoardInfo:
        return self._board

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=5)

    def _supervise(self) -> None:
        delay = self._restart_delay
        while not self._stop.is_set():
            started = time.monotonic()
            ended = self._run_once()
            if self._stop.is_set():
                break
            if time.monotonic() - started >= self._max_restart_delay:
                delay = self._restart_delay  # it ran a good while: this is a new failure, not a loop
            self._problem = f"{ended}; starting it again in {delay:g}s"
            log.warning("%s", self._problem)
            self._stop.wait(delay)
            delay = min(delay * 2, self._max_restart_delay)

    def _run_once(self) -> str:
        """Run tegrastats until it exits; returns why it ended."""
        with self._lock:
            if self._stop.is_set():
                return "stopped"
            try:
                process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT)
            except OSError as exc:
                return f"cannot run {self._command[0]}: {exc.strerror or exc}"
            self._process = process
        last = ""
        with process.stdout:
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    self._latest = (line, time.monotonic())
                    last = line
        status = process.wait()
        return "{} exited with status {}{}".format(
            self._command[0], status, ": " + last[:200] if last else " without printing anything")
