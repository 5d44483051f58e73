"""The on-disk spool: order, bounds, restarts, interrupted writes."""

from fleetmon.agent.spool import Spool


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
