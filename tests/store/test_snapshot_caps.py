"""The snapshot caps, on every backend: one snapshot's size, a client's share, the total;
ownerless snapshots displaced oldest first (the client's own before anyone else's), one
whose owner is connected never; a refused snapshot takes the session's older one with it."""

from __future__ import annotations

import pytest

from mlp_playground.store.base import SnapshotRefused, StoreLimits

LIMITS = StoreLimits(
    max_snapshot_bytes=100, max_snapshot_bytes_per_client=250, max_snapshot_bytes_total=400
)


@pytest.fixture
def store(make_store, clock):
    return make_store(LIMITS, clock)


def put(store, clock, sid: str, size: int, client: str | None, owned: bool = False) -> list[str]:
    clock.advance(1.0)  # distinct write times: "oldest" is well defined
    return store.write_snapshot(sid, b"x" * size, {"step": 1}, client=client, owned=owned)


def test_one_snapshot_over_its_cap_is_refused_and_drops_the_older_one(store, clock):
    put(store, clock, "s", 60, "a")
    with pytest.raises(SnapshotRefused, match="max_snapshot_bytes"):
        put(store, clock, "s", 101, "a")
    assert store.read_snapshot("s") is None  # never a stale state to resume
    assert store.snapshot_bytes() == 0


def test_a_clients_share_displaces_its_own_ownerless_snapshots_oldest_first(store, clock):
    put(store, clock, "other", 90, "b")  # someone else's, older than all of a's
    put(store, clock, "a1", 80, "a")
    put(store, clock, "a2", 80, "a", owned=True)
    put(store, clock, "a3", 80, "a")
    assert put(store, clock, "a4", 80, "a") == ["a1"]  # 320 > 250: a's oldest ownerless
    assert set(store.snapshot_ids()) == {"other", "a2", "a3", "a4"}
    assert put(store, clock, "a5", 80, "a") == ["a3"]  # a2 is owned: never displaced
    assert store.read_snapshot("other") is not None  # b pays nothing for a's churn


def test_rewriting_a_session_counts_its_new_size_only(store, clock):
    put(store, clock, "a1", 100, "a")
    put(store, clock, "a2", 100, "a")
    assert put(store, clock, "a2", 100, "a") == []  # replaced, not added
    assert store.snapshot_bytes() == 200


def test_a_client_whose_share_is_all_owned_is_refused(store, clock):
    put(store, clock, "a1", 100, "a", owned=True)
    put(store, clock, "a2", 100, "a", owned=True)
    put(store, clock, "a3", 10, "a")
    with pytest.raises(SnapshotRefused, match="max_snapshot_bytes_per_client"):
        put(store, clock, "a3", 60, "a")
    assert store.read_snapshot("a3") is None
    assert {"a1", "a2"} <= set(store.snapshot_ids())


def test_the_total_displaces_anyones_ownerless_oldest_first(store, clock):
    put(store, clock, "b1", 100, "b")
    put(store, clock, "student1", 100, None)  # a class's student: only the total counts it
    put(store, clock, "c1", 100, "c", owned=True)
    put(store, clock, "d1", 100, "d")
    assert put(store, clock, "e1", 100, "e") == ["b1"]
    assert put(store, clock, "e2", 100, "e") == ["student1"]
    assert put(store, clock, "f1", 100, None) == ["d1"]
    assert store.snapshot_bytes() == 400
    assert put(store, clock, "c2", 100, "c", owned=True) == ["e1"]  # c1 stays
    put(store, clock, "e2", 100, "e", owned=True)  # their owners came back
    put(store, clock, "f1", 100, None, owned=True)
    with pytest.raises(SnapshotRefused, match="max_snapshot_bytes_total"):
        put(store, clock, "g1", 50, "g")  # nothing ownerless is left to displace
    assert store.snapshot_bytes() == 400 and store.read_snapshot("g1") is None


def test_students_have_no_client_share(store, clock):
    for i in range(4):
        assert put(store, clock, f"st{i}", 100, None) == []
    assert store.snapshot_bytes() == 400
