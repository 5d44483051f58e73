"""Jetson boards: the collector (collector.py), its sources and parsers, and here the light test of
whether this host has a source at all.

With the default ``enabled: auto`` and ``source: auto``, a host with neither the jtop service's socket
nor a runnable tegrastats cannot start any source; the runner asks ``no_source_here`` first, so such a
host (a server, not a Jetson) never imports the parsers and jtop code (about 0.45 MiB of the agent's
memory; docs/benchmarks.md).
"""

import os
from typing import Optional

JTOP_SOCKET = "/run/jtop.sock"


def jtop_service_running(socket_path: str = JTOP_SOCKET) -> bool:
    return os.path.exists(socket_path)


def tegrastats_runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def no_source_here(source: str, tegrastats_path: str) -> Optional[str]:
    """Why source ``auto`` cannot start on this host, or None when one of its sources might."""
    if source != "auto" or jtop_service_running() or tegrastats_runnable(tegrastats_path):
        return None
    return (f"no Jetson source: the jtop service is not running ({JTOP_SOCKET} is missing); "
            f"{tegrastats_path} is not an executable file")
