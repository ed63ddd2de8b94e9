"""The worker's payloads reach the event loop in order, one wake-up per batch (live.handoff)."""

from __future__ import annotations

import asyncio
import threading

from mlp_playground.live.handoff import LoopHandoff


class CountingLoop:
    """The loop's ``call_soon_threadsafe`` counted: each call is a wake-up (a self-pipe write)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wakeups = 0

    def call_soon_threadsafe(self, callback, *args):
        self.wakeups += 1
        return self.loop.call_soon_threadsafe(callback, *args)

    def is_closed(self) -> bool:
        return self.loop.is_closed()


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def test_deferred_payloads_wait_for_the_wake_and_go_out_in_order_with_one_wakeup():
    async def main() -> tuple[list[int], list[int], int]:
        got: list[int] = []
        handoff: LoopHandoff[int] = LoopHandoff(got.append)
        loop = CountingLoop(asyncio.get_running_loop())
        handoff.bind(loop)  # type: ignore[arg-type]
        worker = threading.Thread(target=lambda: [handoff.put(i, wake=False) for i in range(100)])
        worker.start()
        worker.join()
        await _settle()
        before_wake = list(got)
        handoff.wake()
        handoff.wake()  # a second one while a flush is pending adds nothing
        await _settle()
        return before_wake, got, loop.wakeups

    before_wake, got, wakeups = asyncio.run(main())
    assert before_wake == []
    assert got == list(range(100))
    assert wakeups == 1


def test_a_payload_put_while_a_flush_is_pending_rides_along_and_none_is_stranded():
    async def main() -> tuple[list[int], int]:
        got: list[int] = []
        handoff: LoopHandoff[int] = LoopHandoff(got.append)
        loop = CountingLoop(asyncio.get_running_loop())
        handoff.bind(loop)  # type: ignore[arg-type]
        for i in range(10):  # the loop does not run between these: one flush takes all
            handoff.put(i)
        await _settle()
        handoff.put(10)  # after that flush: a new one
        await _settle()
        return got, loop.wakeups

    got, wakeups = asyncio.run(main())
    assert got == list(range(11))
    assert wakeups == 2


def test_a_failing_payload_does_not_hold_back_the_ones_behind_it():
    async def main() -> list[int]:
        got: list[int] = []

        def consume(i: int) -> None:
            if i == 1:
                raise RuntimeError("bad payload")
            got.append(i)

        handoff: LoopHandoff[int] = LoopHandoff(consume)
        handoff.bind(asyncio.get_running_loop())
        for i in range(3):
            handoff.put(i)
        await _settle()
        return got

    assert asyncio.run(main()) == [0, 2]
