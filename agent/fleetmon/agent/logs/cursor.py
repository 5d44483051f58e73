"""Where the journal was read up to, kept in the state directory across agent restarts.

The delivery saves a cursor only once every entry up to it has been handed to the broker or the log spool,
so a restarted agent resumes right after it: nothing is sent twice, nothing is skipped. The cursor is
saved with the journal it belongs to (the system journal, or ``journal_directory``): a cursor of another
journal means nothing there, and the agent then starts from now.
"""

import json
import logging
import os
from typing import Optional

log = logging.getLogger("fleetmon.agent.logs")

SYSTEM_JOURNAL = "system"


class CursorFile:
    def __init__(self, path: str, journal: Optional[str]) -> None:
        self.path = path
        self.journal = journal or SYSTEM_JOURNAL

    def load(self) -> Optional[str]:
        """The saved cursor of this journal, or None (never saved, another journal's, unreadable)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                saved = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cannot read the journal cursor %s (%s): following from now", self.path, exc)
            return None
        if not isinstance(saved, dict) or not isinstance(saved.get("cursor"), str):
            log.warning("%s holds no cursor: following from now", self.path)
            return None
        if saved.get("journal") != self.journal:
            log.info("the saved cursor belongs to journal %r, not %r: following from now",
                     saved.get("journal"), self.journal)
            return None
        return saved["cursor"]

    def save(self, cursor: str) -> None:
        """Written aside and renamed, so a crash leaves the old cursor or the new one, never half of one.
        No fsync: a cursor lost with the page cache costs duplicates, which the hub drops by cursor, and
        the Jetsons' eMMC is spared a flush per batch."""
        with open(self.path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump({"journal": self.journal, "cursor": cursor}, handle)
        os.replace(self.path + ".tmp", self.path)
