"""The nvpmodel power mode, asked of `nvpmodel -q` now and then.

tegrastats does not print the power mode. Running nvpmodel every sample would cost a process start per
second on a small board, and the mode changes only when someone changes it, so the answer is cached.
"""

import logging
import re
import subprocess
import time
from typing import List, Optional

log = logging.getLogger("fleetmon.agent.jetson")

# nvpmodel -q prints "NV Power Mode: MAXN" and then the mode number on its own line.
_MODE = re.compile(r"^NV Power Mode:\s*(\S.*?)\s*$", re.MULTILINE)


def parse_nvpmodel_query(output: str) -> Optional[str]:
    match = _MODE.search(output)
    return match.group(1) if match else None


class NvpmodelProbe:
    def __init__(self, path: str, refresh: float = 60.0, timeout: float = 2.0) -> None:
        self._command: List[str] = [path, "-q"]
        self._refresh = refresh
        self._timeout = timeout
        self._mode: Optional[str] = None
        self._asked_at: Optional[float] = None
        self._last_problem: Optional[str] = None

    def mode(self) -> Optional[str]:
        """The current mode, at most ``refresh`` seconds old; None while nvpmodel cannot tell."""
        now = time.monotonic()
        if self._asked_at is None or now - self._asked_at >= self._refresh:
            self._asked_at = now
            self._mode = self._ask()
        return self._mode

    def _ask(self) -> Optional[str]:
        try:
            done = subprocess.run(self._command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=self._timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._report("{} failed: {}".format(" ".join(self._command), exc))
            return None
        output = done.stdout.decode("utf-8", "replace")
        mode = parse_nvpmodel_query(output) if done.returncode == 0 else None
        if mode is None:
            self._report("{} exited {} without a power mode: {}".format(
                " ".join(self._command), done.returncode, output.strip()[:200]))
        return mode

    def _report(self, problem: str) -> None:
        # Logged when it changes, not every refresh: a board without permission would repeat it forever.
        if problem != self._last_problem:
            log.warning("nvpmodel: %s", problem)
            self._last_problem = problem
