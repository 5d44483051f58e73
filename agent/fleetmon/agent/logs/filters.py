"""Which journal entries the agent keeps: the decision, without I/O.

Priority and the message regexes (``include``, ``exclude``) apply to every entry. Where an entry comes
from is chosen by ``units`` and ``identifiers`` (an entry from either list is selected; with both empty
every source is) and narrowed by ``exclude_units``. Kernel messages skip the source selection when
``kernel`` is on: on a Jetson the NVRM, thermal-throttle and OOM lines are the ones that matter, and no
unit list should hide them; with ``kernel`` off they are never kept.
"""

import re
from fnmatch import fnmatchcase
from typing import Sequence

from fleetmon.agent.logs.config import LogsConfig
from fleetmon.agent.logs.journal import JournalEntry


class LogFilter:
    def __init__(self, config: LogsConfig) -> None:
        self.priority = config.priority
        self.units = tuple(config.units)
        self.exclude_units = tuple(config.exclude_units)
        self.identifiers = tuple(config.identifiers)
        self.kernel = config.kernel
        self._include = [re.compile(pattern) for pattern in config.include]
        self._exclude = [re.compile(pattern) for pattern in config.exclude]

    def keeps(self, entry: JournalEntry) -> bool:
        if entry.priority > self.priority:
            return False
        if entry.is_kernel:
            if not self.kernel:
                return False
        elif not self._selected_source(entry):
            return False
        if self._include and not any(pattern.search(entry.message) for pattern in self._include):
            return False
        return not any(pattern.search(entry.message) for pattern in self._exclude)

    def _selected_source(self, entry: JournalEntry) -> bool:
        chosen = not (self.units or self.identifiers) or _matches(entry.unit, self.units) \
            or _matches(entry.identifier, self.identifiers)
        return chosen and not _matches(entry.unit, self.exclude_units)


def _matches(value: str, globs: Sequence[str]) -> bool:
    return bool(value) and any(fnmatchcase(value, glob) for glob in globs)
