"""Redaction of journal messages before anything leaves the host (the spool included).

Each pattern's matches become ``***``; when the pattern has groups, only what the groups matched is
replaced, so ``password=hunter2`` reads ``password=***`` and the reader still sees what was hidden. The
built-in patterns (config.DEFAULT_REDACTIONS) cover passwords, tokens, API keys, Authorization headers,
AWS access key ids and credentials in URLs; configured ones come on top.
"""

import re
from typing import List, Sequence, Tuple

MASK = "***"


class Redactor:
    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = [re.compile(pattern) for pattern in patterns]

    def redact(self, text: str) -> str:
        for pattern in self._patterns:
            text = _mask(pattern, text)
        return text


def _mask(pattern: "re.Pattern", text: str) -> str:
    spans: List[Tuple[int, int]] = []
    for match in pattern.finditer(text):
        if pattern.groups:
            spans.extend(match.span(group) for group in range(1, pattern.groups + 1)
                         if match.start(group) >= 0 and match.end(group) > match.start(group))
        elif match.end() > match.start():
            spans.append(match.span())
    if not spans:
        return text
    pieces = []
    position = 0
    for start, end in _merged(spans):
        pieces += [text[position:start], MASK]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _merged(spans: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Overlapping or nested spans (groups inside groups) as one."""
    out: List[Tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
