"""Which HTTP statuses a check expects: exact codes ("204") or classes ("2xx"), as the http check and each
journey step read them."""

import re
from typing import Sequence, Tuple

from fleetmon.config_reader import Node

_STATUS_PATTERN = re.compile(r"^[1-5](?:[0-9]{2}|xx)$")


def expect_status(node: Node) -> Tuple[str, ...]:
    """The ``expect_status`` list; default 2xx. A bad entry is an error at its index."""
    if node.missing:
        return ("2xx",)
    items = node.sequence()
    if isinstance(node.value, list) and not items:
        node.fail("must not be empty")
    expected = []
    for item in items:
        value = item.value
        text = str(value).lower() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
        if not _STATUS_PATTERN.match(text):
            item.fail("must be an HTTP status code (like 200) or a class (like 2xx)")
            continue
        expected.append(text)
    return tuple(expected)


def status_matches(status: int, expected: Sequence[str]) -> bool:
    code = str(status)
    return any(code == want or (want.endswith("xx") and code[0] == want[0]) for want in expected)
