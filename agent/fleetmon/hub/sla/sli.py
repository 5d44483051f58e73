"""What each second of one member was: good, bad or unknown, for each kind of SLI (pure; docs/sla.md,
"What counts", is the contract).

A member's time in ``[start, until)`` that is none of the three is time before it was a member (before the
host's first sample, the check's first result); exclusions (schedule, maintenance) are applied later, by
fleetmon.hub.sla.report, over all three.

host_up reads the presence ledger's spans (fleetmon.hub.sla.ledger). A sample vouches for the host for
one interval, so a span ``[start_ts, end_ts]`` is good up to ``end_ts + interval``; what lies between two
spans depends on why they are two (``between``), what lies after the last one on what the hub sees now
(``after_last``).
"""

import itertools
import statistics
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from fleetmon.hub.model import ONLINE
from fleetmon.hub.sla.ledger import Span
from fleetmon.hub.sla.spans import Spans

GOOD, BAD, UNKNOWN = "good", "bad", "unknown"
#: A check whose results are too few to show their spacing is taken to run every minute.
DEFAULT_CHECK_SPACING = 60.0
STALE_SPACINGS = 3  # results missed in a row before the last one no longer says anything


class MemberTime(NamedTuple):
    good: Spans
    bad: Spans
    unknown: Spans

    @property
    def member(self) -> Spans:
        """The time the member was one."""
        return self.good | self.bad | self.unknown


NOT_A_MEMBER = MemberTime(Spans(), Spans(), Spans())


def between(before: Span, after: Span) -> str:
    """The stretch between two spans of a host, from the end of what ``before`` vouches for to ``after``."""
    if before.session != after.session:
        return BAD  # the agent or the host restarted
    if after.first_seq == before.last_seq + 1:
        return BAD  # the agent ran but did not sample: no seq is missing
    return UNKNOWN  # a seq hole: samples the hub does not hold (yet), or seqs out of time order


def after_last(state: str, seeing: bool) -> str:
    """The stretch after a host's last span, up to now, by what the hub knows of the host now."""
    if not seeing:
        return UNKNOWN  # a blind hub cannot tell a silent host from its own deafness
    if state == ONLINE:
        return GOOD  # samples arrive; the latest is not in the history yet
    return BAD  # silent or offline, and the hub can see


def host_up_time(spans: Sequence[Span], start: float, until: float, state: str, seeing: bool) -> MemberTime:
    """``spans`` (by start, with the neighbours just outside the range) classified into ``[start, until)``;
    the time before the host's first span is no member's."""
    if not spans:
        return NOT_A_MEMBER
    found: dict[str, list[tuple[float, float]]] = {GOOD: [], BAD: [], UNKNOWN: []}
    reach, last = None, None  # how far the spans so far vouch, and the span that vouches furthest
    for span in spans:
        if last is not None and span.start_ts > reach:
            found[between(last, span)].append((reach, span.start_ts))
        vouched = span.end_ts + span.interval
        found[GOOD].append((span.start_ts, vouched))
        if last is None or vouched >= reach:
            reach, last = vouched, span
    if reach < until:
        found[after_last(state, seeing)].append((reach, until))
    good = Spans(found[GOOD]).clip(start, until)
    bad = Spans(found[BAD]).clip(start, until) - good
    return MemberTime(good, bad, Spans(found[UNKNOWN]).clip(start, until) - good - bad)


def default_stale_after(timestamps: Sequence[float]) -> float:
    """How long a check result holds without a configured ``stale_after``: three times the median spacing
    of the results, or of DEFAULT_CHECK_SPACING when there are too few to tell."""
    spacings = [b - a for a, b in itertools.pairwise(timestamps) if b > a]
    return STALE_SPACINGS * (statistics.median(spacings) if spacings else DEFAULT_CHECK_SPACING)


def check_time(results: Sequence[tuple[float, bool]], start: float, until: float, stale_after: float) -> MemberTime:
    """Check results ``(ts, ok)`` by time, the last one before ``start`` included: each holds until the next
    one, for ``stale_after`` at most, then the time is unknown until the next; before the first the check
    was no member."""
    good, bad, unknown = [], [], []
    for index, (ts, ok) in enumerate(results):
        following = results[index + 1][0] if index + 1 < len(results) else until
        held = min(following, ts + stale_after)
        (good if ok else bad).append((ts, held))
        unknown.append((held, following))
    good_spans = Spans(good).clip(start, until)
    bad_spans = Spans(bad).clip(start, until) - good_spans
    return MemberTime(good_spans, bad_spans, Spans(unknown).clip(start, until) - good_spans - bad_spans)


def metric_time(minutes: Iterable[tuple[float, bool]], member_from: float | None, start: float, until: float,
                width: float = 60.0) -> MemberTime:
    """Minutes ``(bucket_start, good)`` of the minute tier; a member's minute without data is unknown."""
    if member_from is None:
        return NOT_A_MEMBER
    good = Spans((t, t + width) for t, ok in minutes if ok).clip(start, until)
    bad = Spans((t, t + width) for t, ok in minutes if not ok).clip(start, until) - good
    return MemberTime(good, bad, Spans.between(max(start, member_from), until) - good - bad)


def down_counts_bad(check: MemberTime, host: MemberTime) -> MemberTime:
    """A check's time with ``host_up_required``: while the host is down, the check's member time is bad."""
    down = host.bad & check.member
    return MemberTime(check.good - down, check.bad | down, check.unknown - down)
