"""Stopping background tasks without hanging a shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task], rounds: int = 10) -> bool:
    """Cancel the tasks and wait for them to end; True if they all did.

    A cancellation can be lost when it races an ``asyncio.wait_for`` whose inner wait
    finishes at the same moment (CPython 3.11's wait_for), and the task then goes on. So
    each round cancels what is still running again and waits at most half a second:
    a shutdown never waits forever on a background loop.
    """
    pending = [t for t in tasks if not t.done()]
    for _ in range(rounds):
        if not pending:
            return True
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
        pending = [t for t in pending if not t.done()]
    return not pending
