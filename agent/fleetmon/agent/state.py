"""The agent's state directory: the session counter and the spool live there."""

import logging
import os
import time

log = logging.getLogger("fleetmon.agent")


def prepare_state_dir(preferred: str) -> str:
    """Create the state directory; a user without rights to the system one gets a private one."""
    try:
        os.makedirs(preferred, mode=0o750, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    except PermissionError:
        pass
    fallback = os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"),
                            "fleetmon-agent")
    os.makedirs(fallback, mode=0o750, exist_ok=True)
    log.warning("cannot write %s; keeping state in %s", preferred, fallback)
    return fallback


def next_session(state_dir: str) -> int:
    """Increment and return the persistent session number (1 on a fresh host).

    Consumers use it to tell a late Last Will of an earlier run from the death of the current one.
    """
    path = os.path.join(state_dir, "session")
    try:
        with open(path, encoding="ascii") as handle:
            previous = int(handle.read().strip() or 0)
    except FileNotFoundError:
        previous = 0
    except ValueError:
        log.warning("%s is corrupt; restarting the session count from the clock", path)
        previous = int(time.time())
    session = previous + 1
    with open(path + ".tmp", "w", encoding="ascii") as handle:
        handle.write(f"{session}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(path + ".tmp", path)
    return session
