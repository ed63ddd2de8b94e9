"""Classes in the store (schema v4), the same on memory, SQLite and PostgreSQL: a class
and its members read back by any store on the same database (another process), the caps
counted over that database, closed classes purged, the teacher token kept only hashed."""

from __future__ import annotations

import threading

import pytest

from mlp_playground.store.base import hash_token
from mlp_playground.store.classes import ClassCapReached, ClassMember, ClassRow


def row(code: str, client: str = "c", *, now: float, life: float = 3600.0, claim: float = 600.0):
    return ClassRow(
        code, hash_token("tok-" + code), f"class {code}", client, now, now + life, now + claim
    )


def second(make_store, first, clock, backend):
    """Another store on the same database (a memory store is its own database)."""
    return first if backend == "memory" else make_store(clock=clock)


def test_a_class_and_its_members_read_back_from_another_store(make_store, clock, backend):
    a = make_store(clock=clock)
    b = second(make_store, a, clock, backend)
    assert a.create_class(row("AAAAAA", now=clock()), 10, 10)
    got = b.get_class("AAAAAA")
    assert got == row("AAAAAA", now=clock())
    assert got.token_hash == hash_token("tok-AAAAAA") and "tok-AAAAAA" not in repr(got)
    a.add_member(ClassMember("AAAAAA", "s2", "Bob", clock() + 2))
    a.add_member(ClassMember("AAAAAA", "s1", "Ada", clock() + 1))
    assert [m.name for m in b.class_members("AAAAAA")] == ["Ada", "Bob"]
    assert b.member_of("s2") == ClassMember("AAAAAA", "s2", "Bob", clock() + 2)
    assert b.member_of("nobody") is None
    b.claim_class("AAAAAA")
    assert a.get_class("AAAAAA").claimed


def test_a_code_taken_is_refused_without_changing_the_first(make_store, clock):
    store = make_store(clock=clock)
    assert store.create_class(row("BBBBBB", now=clock()), 10, 10)
    other = row("BBBBBB", client="d", now=clock())
    assert store.create_class(other, 10, 10) is False
    assert store.get_class("BBBBBB").client == "c"


def test_ending_forgets_the_members_and_the_class_stops_counting(make_store, clock):
    store = make_store(clock=clock)
    store.create_class(row("CCCCCC", now=clock()), 1, 1)
    store.add_member(ClassMember("CCCCCC", "s1", "Ada", clock()))
    with pytest.raises(ClassCapReached) as exc:
        store.create_class(row("DDDDDD", client="other", now=clock()), 1, 1)
    assert exc.value.scope == "server" and exc.value.retry_after >= 1
    store.end_class("CCCCCC")
    assert store.get_class("CCCCCC").ended and store.class_members("CCCCCC") == []
    assert store.member_of("s1") is None
    assert store.create_class(row("DDDDDD", client="other", now=clock()), 1, 1)


def test_per_client_cap_and_its_retry_after(make_store, clock):
    store = make_store(clock=clock)
    store.create_class(row("EEEEEE", now=clock(), claim=100.0), 10, 2)
    store.create_class(row("FFFFFF", now=clock(), claim=300.0), 10, 2)
    with pytest.raises(ClassCapReached) as exc:
        store.create_class(row("GGGGGG", now=clock()), 10, 2)
    assert exc.value.scope == "client" and 99 <= exc.value.retry_after <= 100
    assert store.create_class(row("GGGGGG", client="someone else", now=clock()), 10, 2)


def test_an_unclaimed_or_expired_class_is_purged_and_frees_its_place(make_store, clock):
    store = make_store(clock=clock)
    store.create_class(row("HHHHHH", now=clock(), claim=10.0), 1, 1)
    store.add_member(ClassMember("HHHHHH", "s1", "Ada", clock()))
    clock.advance(11)
    assert store.create_class(row("JJJJJJ", now=clock(), life=5.0), 1, 1)
    assert store.get_class("HHHHHH") is None and store.member_of("s1") is None
    store.claim_class("JJJJJJ")
    clock.advance(6)  # past its lifetime, claimed or not
    assert store.create_class(row("KKKKKK", now=clock()), 1, 1)


def test_the_caps_hold_when_two_stores_open_classes_at_once(make_store, clock, backend):
    first = make_store(clock=clock)
    stores = [first] + [second(make_store, first, clock, backend) for _ in range(3)]
    results: list[object] = []

    def open_some(i: int) -> None:
        for j in range(5):
            try:
                results.append(
                    stores[i].create_class(row(f"P{i}Q{j}RS", client=f"c{i}", now=clock()), 6, 10)
                )
            except ClassCapReached as exc:
                results.append(exc.scope)

    threads = [threading.Thread(target=open_some, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 6 and results.count("server") == 14
