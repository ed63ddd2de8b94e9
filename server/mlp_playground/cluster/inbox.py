"""``LatestWinsInbox``: a ready-made ``StreamSink`` with an awaitable ``get``.

The live layer passes its own ``Connection`` adapter as the sink; this class is for
everything else that consumes a remote stream (tests, the benchmark, a future REST
long-poll): the same rule as a websocket connection, at most one pending message per slot
(a slow reader gets the newest frame, never a backlog) and a FIFO for slot-less messages,
everything taken in the order it was produced.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque


class StreamEnded(Exception):
    """``get`` after the stream ended; ``code`` and ``reason`` are the close's."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class LatestWinsInbox:
    """A sink: ``deliver``/``end`` from the subscriber loop, ``get`` from a reader task."""

    def __init__(self, max_fifo: int = 512) -> None:
        self._seq = itertools.count()
        self._fifo: deque[tuple[int, str | bytes]] = deque(maxlen=max_fifo)
        self._slots: dict[str, tuple[int, str | bytes]] = {}
        self._wake = asyncio.Event()
        self.ended: tuple[int, str] | None = None
        self.received = 0
        self.replaced = 0

    def deliver(self, payload: str | bytes, slot: str | None) -> None:
        self.received += 1
        item = (next(self._seq), payload)
        if slot is None:
            self._fifo.append(item)
        else:
            if slot in self._slots:
                self.replaced += 1
            self._slots[slot] = item
        self._wake.set()

    def end(self, code: int, reason: str) -> None:
        self.ended = (code, reason)
        self._wake.set()

    def pending(self) -> int:
        return len(self._fifo) + len(self._slots)

    def get_nowait(self) -> str | bytes | None:
        """The oldest pending message, or None."""
        best: str | None = None
        seq = self._fifo[0][0] if self._fifo else None
        for name, (slot_seq, _) in self._slots.items():
            if seq is None or slot_seq < seq:
                best, seq = name, slot_seq
        if best is not None:
            return self._slots.pop(best)[1]
        return self._fifo.popleft()[1] if self._fifo else None

    async def get(self) -> str | bytes:
        """Wait for the oldest pending message; ``StreamEnded`` once ended and drained."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self.ended is not None:
                raise StreamEnded(*self.ended)
            self._wake.clear()
            await self._wake.wait()
