"""The Jetson collector: board metrics from jtop, from tegrastats, or from a recorded tegrastats log.

Source choice (``collectors.jetson.source``):
  auto        jtop when jetson-stats is installed, its service socket exists and the client starts;
              else tegrastats when ``tegrastats_path`` exists; else CollectorUnavailable, which the
              agent reads as "not a Jetson" when the collector is enabled "auto".
  jtop        jetson-stats only; it keeps reconnecting if the service goes away later.
  tegrastats  the tegrastats program only.
  replay      ``replay_file``, one line per sample (labs and tests).
"""

import logging
import shutil
from typing import Dict, List, Set

from fleetmon.agent.collectors.base import Collector, CollectorUnavailable
from fleetmon.agent.collectors.jetson import JTOP_SOCKET, jtop_service_running, tegrastats_runnable
from fleetmon.agent.collectors.jetson.board import BoardInfo, read_board_info
from fleetmon.agent.collectors.jetson.jtop_source import JtopSource, jtop_importable, load_jtop
from fleetmon.agent.collectors.jetson.metrics import add_info, add_reading
from fleetmon.agent.collectors.jetson.nvpmodel import NvpmodelProbe
from fleetmon.agent.collectors.jetson.sources import JetsonSource, ReplaySource, TegrastatsProcess
from fleetmon.agent.config import JetsonCollectorConfig
from fleetmon.protocol.metricset import MetricSet

log = logging.getLogger("fleetmon.agent.jetson")

#: Distinct unknown tokens logged before going quiet; tokens that carry values could be endless.
MAX_LOGGED_UNKNOWN = 100


class JetsonCollector(Collector):
    name = "jetson"

    def __init__(self, config: JetsonCollectorConfig, interval: float) -> None:
        self._source = open_source(config, interval)
        # jtop may run in a container that cannot see the host's release files, and it may not have
        # answered yet: what the host files say fills the gaps. A replay describes another board.
        self._local_board = read_board_info() if self._source.name == "jtop" else BoardInfo()
        self._logged_unknown: Set[str] = set()

    @property
    def source(self) -> str:
        return self._source.name

    def collect(self, out: MetricSet) -> None:
        reading = self._source.read()
        add_reading(out, reading)
        if self._source.name != "jtop":
            out.add("fleetmon_jetson_unparsed_tokens", len(reading.unknown))
            self._log_unknown(reading.unknown)
        add_info(out, self._board(), self._source.name)

    def facts(self) -> Dict[str, object]:
        return {"jetson": dict(self._board().facts(), source=self._source.name)}

    def close(self) -> None:
        self._source.close()

    def _board(self) -> BoardInfo:
        board, local = self._source.board(), self._local_board
        return BoardInfo(board.model or local.model, board.l4t or local.l4t, board.jetpack or local.jetpack)

    def _log_unknown(self, tokens: List[str]) -> None:
        for token in tokens:
            if token in self._logged_unknown or len(self._logged_unknown) >= MAX_LOGGED_UNKNOWN:
                continue
            self._logged_unknown.add(token)
            if len(self._logged_unknown) == MAX_LOGGED_UNKNOWN:
                log.warning("tegrastats token not understood: %r; further unknown tokens are not logged, "
                            "fleetmon_jetson_unparsed_tokens still counts them", token)
            else:
                log.warning("tegrastats token not understood: %r (logged once; counted in "
                            "fleetmon_jetson_unparsed_tokens)", token)


def open_source(config: JetsonCollectorConfig, interval: float) -> JetsonSource:
    """The configured source, started; CollectorUnavailable when it does not exist on this host."""
    if config.source == "replay":
        return _replay(config)
    if config.source == "jtop":
        return _jtop(interval)
    if config.source == "tegrastats":
        return _tegrastats(config, interval)
    reasons = []
    try:
        source = _jtop(interval)
    except CollectorUnavailable as exc:
        reasons.append(str(exc))
    else:
        # start() waits up to three intervals for the service's first sample.
        if source.wait_connected(timeout=3 * interval + 5):
            return source
        reasons.append(f"the jtop client did not start: {source.problem}")
        source.close()
    try:
        return _tegrastats(config, interval)
    except CollectorUnavailable as exc:
        reasons.append(str(exc))
    raise CollectorUnavailable("no Jetson source: {}".format("; ".join(reasons)))


def _replay(config: JetsonCollectorConfig) -> ReplaySource:
    if not config.replay_file:
        raise CollectorUnavailable("source replay needs replay_file")
    try:
        return ReplaySource(config.replay_file, loop=config.replay_loop)
    except (OSError, ValueError) as exc:
        raise CollectorUnavailable(f"cannot replay {config.replay_file}: {exc}") from exc


def _jtop(interval: float) -> JtopSource:
    if not jtop_importable():
        raise CollectorUnavailable("jetson-stats (jtop) is not installed")
    if not jtop_service_running():
        raise CollectorUnavailable(f"the jtop service is not running ({JTOP_SOCKET} is missing)")
    client, errors = load_jtop()
    return JtopSource(interval, client, errors)


def _tegrastats(config: JetsonCollectorConfig, interval: float) -> TegrastatsProcess:
    path = config.tegrastats_path
    if not tegrastats_runnable(path):
        raise CollectorUnavailable(f"{path} is not an executable file")
    nvpmodel = shutil.which("nvpmodel")
    return TegrastatsProcess(path, interval, read_board_info(),
                             nvpmodel=NvpmodelProbe(nvpmodel) if nvpmodel else None)
