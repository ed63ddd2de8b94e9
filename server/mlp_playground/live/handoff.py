"""Worker-thread payloads to the event loop: many deliveries, one wake-up.

Why not ``call_soon_threadsafe`` for each frame: each call writes a byte to the loop's
self-pipe, a system call that wakes the loop's thread, which then wants the GIL the worker
holds. With 100 sessions at 10-15 frames/s that was over a thousand wake-ups a second; a
worker process pinned to one core spent a quarter of its worker thread's samples in that
write (py-spy, ``bench/workers.py --workers 2`` at 200 sessions), the woken loop taking
the core and the GIL for one frame each time. So a payload put with ``wake=False`` (the
training thread, during a turn) waits for ``wake()`` (the end of the turn): a frame scan
wakes the loop once, not once per session. Any other payload wakes it at once, unless a
flush is already pending, which takes it along.

Order is kept: the queue is FIFO, and the loop hands payloads on in the order the worker
produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("mlp_playground.live")


class LoopHandoff(Generic[T]):
    """Items put from any thread reach ``consume`` on the event loop, in order, in batches."""

    def __init__(self, consume: Callable[[T], None]) -> None:
        self._consume = consume
        self._queue: deque[T] = deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that consumes (called from it, once it runs)."""
        self._loop = loop

    def put(self, item: T, wake: bool = True) -> None:
        """Any thread: queue ``item``; with ``wake``, make sure a flush is pending.

        The flag is cleared by the loop *before* it drains, so an item queued while a
        flush runs is either drained by it or schedules the next one; none is stranded.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._queue.append(item)
        if wake:
            self.wake()

    def wake(self) -> None:
        """Any thread: have the loop flush what is queued (one wake-up, if none pending)."""
        loop = self._loop
        if self._scheduled or not self._queue or loop is None or loop.is_closed():
            return
        self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        """Loop: hand on everything queued so far."""
        self._scheduled = False
        queue, consume = self._queue, self._consume
        while queue:
            try:
                consume(queue.popleft())
            except Exception:  # one bad payload must not strand the ones behind it
                log.exception("hand-off to the event loop failed")
