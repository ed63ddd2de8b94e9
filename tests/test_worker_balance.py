"""The rules of ``--workers N`` placement that need no server: which sockets are owners'
sessions, and how many sessions a worker over its share moves away
(server/mlp_playground/worker_pool.py, worker_feed.py; the real processes are in
tests/cluster/test_cluster_placement.py), and when the supervisor restarts a worker or
gives up."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from mlp_playground.worker_feed import READY, ROW, SESSIONS, surplus
from mlp_playground.worker_pool import Supervisor, is_owner_socket


def loads(*workers: tuple[int, bool]) -> list[int]:
    """Shared memory as the workers write it: (sessions, ready) per worker."""
    out = [0] * (ROW * len(workers))
    for i, (sessions, ready) in enumerate(workers):
        out[i * ROW + SESSIONS] = sessions
        out[i * ROW + READY] = 1000 + i if ready else 0
    return out


def test_only_an_owners_socket_is_placed_by_load():
    assert is_owner_socket(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    assert is_owner_socket(b"GET /ws?session=abc&resume_key=k HTTP/1.1\r\n")
    for other in (b"GET /ws/watch/tok HTTP/1.1", b"GET /wsx HTTP/1.1", b"GET / HTTP/1.1",
                  b"POST /ws HTTP/1.1", b"GET /healthz HTTP/1.1", b""):  # fmt: skip
        assert not is_owner_socket(other), other


def test_a_worker_well_over_its_share_moves_the_surplus():
    assert surplus(loads((60, True), (0, True)), 0) == 30
    assert surplus(loads((60, True), (0, True)), 1) == 0  # the empty one moves nothing
    assert surplus(loads((50, True), (5, True), (5, True)), 0) == 30


def test_a_small_imbalance_or_a_worker_not_ready_moves_nothing():
    assert surplus(loads((34, True), (26, True)), 0) == 0  # within 20 % of 30
    assert surplus(loads((3, True), (2, True)), 0) == 0
    assert surplus(loads((1, True), (0, True)), 0) == 0  # one session cannot be split
    assert surplus(loads((60, True), (0, False)), 0) == 0  # the other is still starting
    assert surplus(loads((60, False), (0, True)), 0) == 0  # this one is shutting down


class FakeProcess:
    def __init__(self, pid: int, alive: bool) -> None:
        self.pid, self.alive, self.exitcode = pid, alive, None if alive else 1

    def is_alive(self) -> bool:
        return self.alive


def _watched(processes: list[FakeProcess], ready: list[bool]) -> tuple[Supervisor, list[int]]:
    """One supervisor's watch over these workers for a few rounds: who it started again."""
    listener = socket.socket()
    supervisor = Supervisor(listener, len(processes), {}, "info")
    respawned: list[int] = []
    for slot, process, is_ready in zip(supervisor.slots, processes, ready, strict=True):
        slot.process = process  # type: ignore[assignment]
        if is_ready:
            supervisor.loads[slot.index * ROW + READY] = process.pid

    def spawn(slot) -> None:  # type: ignore[no-untyped-def]
        respawned.append(slot.index)
        slot.process = FakeProcess(1000 + slot.index, alive=True)

    supervisor.spawn = spawn  # type: ignore[method-assign]

    async def watch() -> None:
        done = asyncio.Event()
        task = asyncio.create_task(supervisor._watch_forever(done))
        await asyncio.sleep(0.35)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(watch())
    listener.close()
    return supervisor, respawned


def test_a_worker_dying_at_start_beside_a_ready_one_is_started_again():
    """Slot 0 died while starting; slot 1 is ready (and may have answered already): the
    supervisor starts slot 0 again instead of giving up, whatever the slots' order."""
    supervisor, respawned = _watched([FakeProcess(11, False), FakeProcess(12, True)], [False, True])
    assert respawned == [0] and not supervisor.failed


def test_every_worker_dead_before_any_was_ready_gives_up():
    supervisor, respawned = _watched(
        [FakeProcess(11, False), FakeProcess(12, False)], [False, False]
    )
    assert supervisor.failed and respawned == []
