"""The on-disk spool (order, bounds, restarts, interrupted writes) and the outbox of samples the hub has
not confirmed yet (memory window, acks, requests, back-fill order)."""

from fleetmon.agent.spool import MEMORY_WINDOW, RESEND_HOLDOFF, Outbox, Spool


def drain(spool):
    out = []
    while True:
        entry = spool.oldest()
        if entry is None:
            return out
        spool.remove(entry[0])
        out.append(entry[1])


def test_samples_come_back_oldest_first_across_sessions(tmp_path):
    spool = Spool(str(tmp_path), max_samples=100, max_bytes=10**6)
    for session, seq in ((1, 9), (1, 10), (2, 1), (2, 2)):
        assert spool.put(session, seq, f"{session}/{seq}".encode()) == 0
    assert drain(spool) == [b"1/9", b"1/10", b"2/1", b"2/2"]
    assert len(spool) == 0 and list(tmp_path.iterdir()) == []


def test_the_count_bound_drops_the_oldest_and_counts_them(tmp_path):
    spool = Spool(str(tmp_path), max_samples=3, max_bytes=10**6)
    dropped = [spool.put(1, seq, b"x") for seq in range(1, 7)]
    assert dropped == [0, 0, 0, 1, 1, 1] and spool.dropped_total == 3
    assert [name.split("-")[1] for name in spool.names()] == ["000000000004.json", "000000000005.json",
                                                               "000000000006.json"], "the newest survive"
    assert drain(spool) == [b"x"] * 3


def test_the_byte_bound_drops_the_oldest(tmp_path):
    spool = Spool(str(tmp_path), max_samples=100, max_bytes=250)
    for seq in range(1, 6):
        spool.put(1, seq, bytes([48 + seq]) * 100)
    assert spool.size_bytes <= 250 and spool.dropped_total == 3
    assert drain(spool) == [b"4" * 100, b"5" * 100]


def test_a_restarted_agent_finds_its_spool_and_discards_half_written_files(tmp_path):
    first = Spool(str(tmp_path), max_samples=10, max_bytes=10**6)
    first.put(3, 1, b"a")
    first.put(3, 2, b"b")
    (tmp_path / "0000000003-000000000003.json.tmp").write_bytes(b"half")
    again = Spool(str(tmp_path), max_samples=10, max_bytes=10**6)
    assert len(again) == 2 and again.size_bytes == 2
    assert drain(again) == [b"a", b"b"]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_file_removed_behind_the_spools_back_is_skipped(tmp_path):
    spool = Spool(str(tmp_path), max_samples=10, max_bytes=10**6)
    spool.put(1, 1, b"gone")
    spool.put(1, 2, b"kept")
    (tmp_path / spool.names()[0]).unlink()
    assert drain(spool) == [b"kept"]


# --- the outbox: what the hub has not confirmed yet -------------------------------------------------------

def outbox(tmp_path, max_samples=100, session=2, window=MEMORY_WINDOW):
    return Outbox(Spool(str(tmp_path), max_samples=max_samples, max_bytes=10**6), session, window)


def backfill_all(box, now):
    """Everything the drain would send now, marking each as taken by the broker."""
    sent = []
    while True:
        item = box.next_backfill(now)
        if item is None:
            return sent
        box.backfilled(item, now)
        sent.append((item.session, item.seq, item.payload))


def test_confirmed_samples_are_dropped_and_nothing_touches_the_disk(tmp_path):
    box = outbox(tmp_path)
    for seq in range(1, 6):
        box.published(seq, b"s%d" % seq, now=float(seq))
    box.confirmed(2, 3)
    assert box.in_memory == 2 and list(tmp_path.iterdir()) == [], "a prompt hub costs no flash writes"
    box.confirmed(2, 5)
    assert box.in_memory == 0


def test_unconfirmed_samples_move_to_the_spool_after_the_window(tmp_path):
    box = outbox(tmp_path, window=60)
    box.published(1, b"a", now=0.0)
    box.published(2, b"b", now=30.0)
    box.expire(61.0)
    assert box.in_memory == 1 and box.spool.names() == ["0000000002-000000000001.json"]
    assert backfill_all(box, 62.0) == [], "already sent once: only sent again when the hub asks"
    box.confirmed(2, 2)
    assert box.in_memory == 0 and len(box.spool) == 0, "the ack clears memory and disk alike"


def test_the_memory_window_is_bounded_by_the_spool_bound(tmp_path):
    box = outbox(tmp_path, max_samples=3)
    dropped = sum(box.published(seq, b"x", now=0.0) for seq in range(1, 8))
    assert box.in_memory == 3 and dropped == 1 and box.spool.dropped_total == 1
    assert [name.split("-")[1] for name in box.spool.names()] == ["000000000002.json", "000000000003.json",
                                                                   "000000000004.json"], "the oldest dropped"


def test_asked_for_samples_are_sent_again_first_in_order_once_per_holdoff(tmp_path):
    box = outbox(tmp_path, window=10)
    for seq in range(1, 4):
        box.published(seq, b"old%d" % seq, now=0.0)
    box.expire(20.0)  # 1-3 now on disk, already sent once
    for seq in range(4, 9):
        box.published(seq, b"new%d" % seq, now=20.0)
    box.spooled(9, b"unsent9")
    assert box.requested(2, [(2, 3), (5, 6), (100, 200)]) == 4, "only what is held; 100-200 is not"
    sent = backfill_all(box, now=20.0 + RESEND_HOLDOFF)
    assert [(seq, payload) for _, seq, payload in sent] == [
        (2, b"old2"), (3, b"old3"), (5, b"new5"), (6, b"new6"), (9, b"unsent9")], \
        "the requested ones oldest first, then the spool never sent"
    box.requested(2, [(2, 3), (5, 6)])
    assert backfill_all(box, now=21.0 + RESEND_HOLDOFF) == [], "sent again a second ago: not once more yet"
    box.requested(2, [(2, 3), (5, 5)])
    assert [seq for _, seq, _ in backfill_all(box, now=20.0 + 2 * RESEND_HOLDOFF)] == [2, 3, 5]


def test_a_live_sample_asked_for_is_sent_again_at_once(tmp_path):
    box = outbox(tmp_path)
    box.published(7, b"live", now=100.0)
    box.requested(2, [(7, 7)])
    assert backfill_all(box, now=100.5) == [(2, 7, b"live")], "the hub asks only once a later sample overtook it"


def test_a_request_for_an_other_session_is_ignored(tmp_path):
    box = outbox(tmp_path)
    box.published(1, b"a", now=0.0)
    assert box.requested(1, [(1, 1)]) == 0 and backfill_all(box, 100.0) == []


def test_an_earlier_runs_spool_is_back_filled_and_confirmed_by_its_sessions_ack(tmp_path):
    earlier = outbox(tmp_path, session=1)
    for seq in range(1, 5):
        earlier.spooled(seq, b"e%d" % seq)
    box = outbox(tmp_path, session=2)
    box.confirmed(1, 2)  # the retained ack of session 1 the broker hands over on connect
    sent = backfill_all(box, 0.0)
    assert [(session, seq) for session, seq, _ in sent] == [(1, 3), (1, 4)]
    assert len(box.spool) == 0, "an earlier session's samples go once the broker took them"


def test_the_window_is_spilled_to_disk_when_the_broker_goes_away_or_the_agent_stops(tmp_path):
    box = outbox(tmp_path, session=5)
    box.published(1, b"a", now=0.0)
    box.published(2, b"b", now=0.0)
    box.spill()
    assert box.in_memory == 0 and len(box.spool) == 2
    assert backfill_all(box, 1.0) == [], "already sent: only sent again when the hub asks"
    box.requested(5, [(2, 2)])
    assert backfill_all(box, 1.0) == [(5, 2, b"b")]
    again = outbox(tmp_path, session=6)
    assert [(s, q) for s, q, _ in backfill_all(again, 0.0)] == [(5, 1), (5, 2)], "the next run delivers them"
