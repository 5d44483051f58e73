"""Running an external program under a time limit, for the command, systemd and ping probes and recovery."""

import contextlib
import os
import signal
import subprocess
from typing import Mapping, NamedTuple, Optional, Sequence

#: Output kept in messages; a check's message is a hint for a person, not a log.
EXCERPT_CHARS = 200

#: After the time limit kills the process group, how long to wait for the pipe to close.
_DRAIN_SECONDS = 1.0


class CommandOutcome(NamedTuple):
    exit_code: Optional[int]  # None when the program did not run or did not finish in time
    output: str  # stdout and stderr interleaved
    error: Optional[str] = None  # why there is no exit code

    @property
    def excerpt(self) -> str:
        return self.output.strip()[:EXCERPT_CHARS]

    @property
    def summary(self) -> str:
        """For a person: the output excerpt, prefixed with why the program did not finish."""
        if self.error is not None:
            return f"{self.error}: {self.excerpt}" if self.excerpt else self.error
        return self.excerpt or f"exit {self.exit_code}"


def run_argv(argv: Sequence[str], timeout: float, env: Optional[Mapping[str, str]] = None) -> CommandOutcome:
    """Run ``argv``; on timeout kill its whole process group so children of ``sh -c`` die with it."""
    try:
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=None if env is None else dict(env))
    except FileNotFoundError:
        return CommandOutcome(None, "", f"{argv[0]}: command not found")
    except PermissionError:
        return CommandOutcome(None, "", f"{argv[0]}: permission denied")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            output, _ = process.communicate(timeout=_DRAIN_SECONDS)
        except subprocess.TimeoutExpired:
            # A grandchild that started its own session still holds the pipe; give up on its output.
            output = b""
            if process.stdout is not None:
                process.stdout.close()
            process.wait()
        return CommandOutcome(None, _decode(output), f"timed out after {timeout:g}s")
    return CommandOutcome(process.returncode, _decode(output))


def _kill_group(process: "subprocess.Popen[bytes]") -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended between the timeout and the kill
        os.killpg(process.pid, signal.SIGKILL)


def _decode(output: bytes) -> str:
    return output.decode("utf-8", errors="replace")
