"""file_configs (fleetmon): one JSON line per notification (the webhook payload), appended to a file or
written to the console.

For a hub on a desk or in a lab, and for logs a collector picks up. The file is opened for each line,
so rotating it needs no signal.
"""

import os
import sys
from dataclasses import dataclass
from typing import ClassVar

from fleetmon.config_reader import Node
from fleetmon.hub.alerting.notification import Notification
from fleetmon.hub.alerting.receivers.base import DeliveryError, Integration
from fleetmon.hub.alerting.receivers.settings import IntegrationSetup, integration_fields
from fleetmon.hub.alerting.receivers.webhook import encode

KEYS = ("path", "send_resolved")
CONSOLE = ("-", "stdout")


@dataclass(eq=False, kw_only=True)
class FileSink(Integration):
    kind: ClassVar[str] = "file"
    path: str  # a file, or "-" / "stdout" for the console

    def send(self, notification: Notification) -> None:
        line = encode(notification.webhook_payload()).decode("utf-8") + "\n"
        if self.path in CONSOLE:
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
        except PermissionError as exc:
            raise DeliveryError(f"cannot write {self.path}: {exc.strerror}", retryable=False) from exc
        except OSError as exc:  # a full disk or a vanished directory may come back
            raise DeliveryError(f"cannot write {self.path}: {exc.strerror}", retryable=True) from exc


def parse(node: Node, setup: IntegrationSetup) -> FileSink:
    node = node.mapping(KEYS)
    path_node = node.child("path")
    path = path_node.string()
    if not path:
        path_node.fail("required: a file, or - for the console")
    elif path not in CONSOLE and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        path_node.fail(f"directory {os.path.dirname(os.path.abspath(path))} does not exist")
    fields = integration_fields(node, setup, send_resolved=True)
    return FileSink(**fields, path=path)
