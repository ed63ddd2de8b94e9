"""Stopping background tasks: a lost cancellation must not hang a shutdown (tasks.py)."""

from __future__ import annotations

import asyncio
import time

from mlp_playground.tasks import cancel_and_wait
from tests.support.cluster import run


def test_a_task_that_loses_its_first_cancellation_is_still_stopped() -> None:
    async def scenario() -> None:
        lost = 0

        async def stubborn() -> None:
            nonlocal lost
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    lost += 1  # as a wait_for that raced its timeout swallows it (3.11)
                    if lost > 1:
                        raise

        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        t0 = time.monotonic()
        assert await cancel_and_wait([task])
        assert task.cancelled() and lost == 2
        assert time.monotonic() - t0 < 1.5

    run(scenario())


def test_a_task_that_never_stops_is_given_up_on_within_the_rounds() -> None:
    async def scenario() -> None:
        listening = False

        async def deaf() -> None:
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    if listening:
                        raise

        task = asyncio.create_task(deaf())
        await asyncio.sleep(0)
        t0 = time.monotonic()
        assert not await cancel_and_wait([task], rounds=3)  # a shutdown goes on without it
        assert 1.0 < time.monotonic() - t0 < 2.5
        assert not task.done()
        listening = True
        assert await cancel_and_wait([task])

    run(scenario())
