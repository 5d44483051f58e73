"""A failure episode (``retry``): when it starts and ends, what it says, and the backoff between attempts."""

import sqlite3
from typing import NamedTuple

import pytest

from fleetmon.hub.store import Counters
from fleetmon.hub.store.failures import REASONS
from fleetmon.hub.store.retry import RETRY_FIRST, RETRY_MAX, FailureEpisode, next_retry_delay


class DelayCase(NamedTuple):
    name: str
    delay: float
    then: float


DELAY_CASES = [
    # doubled, so a brief fault costs a few short waits and a long one few attempts
    DelayCase("after the first attempt", RETRY_FIRST, 2 * RETRY_FIRST),
    DelayCase("below the cap", 0.8, 1.6),
    # capped, so writing resumes within RETRY_MAX of the fault's end
    DelayCase("doubling would pass the cap", 1.5, RETRY_MAX),
    DelayCase("at the cap", RETRY_MAX, RETRY_MAX),
]


@pytest.mark.parametrize("case", DELAY_CASES, ids=[case.name for case in DELAY_CASES])
def test_the_backoff_doubles_up_to_its_cap(case):
    assert next_retry_delay(case.delay) == case.then


def failure(code: int, name: str, message: str) -> sqlite3.Error:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode, error.sqlite_errorname = code, name
    return error


STEPS = {
    "busy": failure(sqlite3.SQLITE_BUSY, "SQLITE_BUSY", "busy happened"),
    "full": failure(sqlite3.SQLITE_FULL, "SQLITE_FULL", "full happened"),
    "bug": ValueError("a bug"),
}


class EpisodeCase(NamedTuple):
    name: str
    steps: list[str]  # a key of STEPS (a failed attempt), "ok" (one that succeeded) or "back off"
    failing: bool
    reason: str  # the latest failure's REASONS name while failing, "" while writing
    failure: str
    write_errors: int
    retry_delay: float


EPISODE_CASES = [
    EpisodeCase("nothing failed", [], False, "", "", 0, RETRY_FIRST),
    # one failed attempt is enough: the hub says so at once
    EpisodeCase("one failure starts an episode", ["busy"], True, "locked", "busy happened (SQLITE_BUSY)", 1,
                RETRY_FIRST),
    # the episode names what fails now, not what failed first
    EpisodeCase("the latest failure names the episode", ["busy", "full"], True, "disk_full",
                "full happened (SQLITE_FULL)", 2, RETRY_FIRST),
    EpisodeCase("a bug is an unexpected failure", ["bug"], True, "unexpected", "ValueError: a bug", 1, RETRY_FIRST),
    # success ends it and clears what people are told; the failed attempts stay counted
    EpisodeCase("a success ends the episode", ["busy", "full", "ok"], False, "", "", 2, RETRY_FIRST),
    # backoff grows within an episode ...
    EpisodeCase("the backoff grows while failing", ["busy", "back off", "busy", "back off"], True, "locked",
                "busy happened (SQLITE_BUSY)", 2, 4 * RETRY_FIRST),
    # ... and a new episode starts from the short wait again
    EpisodeCase("a new episode starts with the short wait", ["busy", "back off", "back off", "ok", "full"], True,
                "disk_full", "full happened (SQLITE_FULL)", 2, RETRY_FIRST),
]


@pytest.mark.parametrize("case", EPISODE_CASES, ids=[case.name for case in EPISODE_CASES])
def test_an_episode_runs_from_the_first_failure_to_the_next_success(tmp_path, case):
    counters = Counters()
    episode = FailureEpisode(str(tmp_path / "hub.db"), counters)
    started = []
    for step in case.steps:
        if step == "ok":
            episode.succeeded()
        elif step == "back off":
            episode.back_off()
        else:
            episode.failed(STEPS[step])
            started.append(counters.failing_since)
    assert bool(counters.failing_since) == case.failing
    assert (REASONS[counters.failing_reason - 1] if counters.failing_reason else "") == case.reason
    assert counters.failure == case.failure
    assert counters.write_errors == case.write_errors == sum(counters.failures.values())
    assert episode.retry_delay == pytest.approx(case.retry_delay)
    if case.failing and "ok" not in case.steps:  # one episode: its start is the first failure's
        assert set(started) == {counters.failing_since}
