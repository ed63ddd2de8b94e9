"""One websocket connection's outgoing side: a bounded queue, "latest" slots and a sender task.

Why slots: frames, metrics and statistics are snapshots, and only the newest one matters.
Each has one slot per connection; a new snapshot overwrites an unsent one, so a client
that reads slowly (or not at all) gets the newest frame when it next can, never a backlog,
and the server's memory for it is bounded by one snapshot per slot. Training never waits:
the producer only assigns a slot and sets an event.

Messages that are not snapshots (hello, config, data, error, event, model) go through a
FIFO so none is lost; everything goes out in the order it was produced; it is bounded too (``MAX_PENDING``): a client that lets it fill is
not reading at all and is closed with 1008 rather than allowed to grow the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket

log = logging.getLogger("mlp_playground.live")

#: Slot names: the pictures, then the numbers of that step (produced in this order).
SLOTS = ("frame", "units", "metrics", "stats")
MAX_PENDING = 512
READY = "@ready"

# Close codes (RFC 6455 and the IANA registry).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013


class RateLimiter:
    """Token bucket: ``rate`` messages a second on average, bursts up to ``rate``.

    ``allow()`` says whether a message may be processed; ``should_report()`` limits the
    ``rate_limited`` errors themselves to one a second, so a flooding client cannot turn
    the limiter into an amplifier.
    """

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.tokens = float(rate)
        self.updated = time.monotonic()
        self.reported = -1e9

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def should_report(self) -> bool:
        now = time.monotonic()
        if now - self.reported >= 1.0:
            self.reported = now
            return True
        return False


class Connection:
    """The outgoing half of one websocket (owner or watcher). Loop-thread only."""

    def __init__(self, websocket: WebSocket, role: str) -> None:
        self.websocket = websocket
        self.role = role
        # Every payload carries a sequence number and the sender always sends the oldest
        # one, so messages go out in the order they were produced (a config change is
        # never followed by an older metrics), while a slot still keeps only the newest.
        self.fifo: deque[tuple[int, str | bytes]] = deque()
        self.slots: dict[str, tuple[int, str | bytes]] = {}
        self._seq = 0
        self.wake = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.sent_frames = 0
        #: Snapshots wait for this connection's first ``data``, so frames never precede it.
        self.ready = False
        #: A close that waits for the messages already queued (``close_after_pending``).
        self._close_after: tuple[int, str] | None = None
        #: This watcher's id in the cluster's watcher leases (live.cluster_link), if any.
        self.cluster_id: str | None = None

    def push(self, payload: str | bytes, slot: str | None = None) -> None:
        """Queue a message; with ``slot`` it replaces the unsent one of that slot.

        ``slot == READY`` queues the connection's first ``data`` and lets snapshots through.
        """
        if self.close_code is not None or self._close_after is not None:
            return
        if slot == READY:
            self.ready = True
            slot = None
        elif slot is not None and not self.ready:
            return
        self._seq += 1
        if slot is None:
            if len(self.fifo) >= MAX_PENDING:
                self.request_close(CLOSE_POLICY, "client is not reading its messages")
                return
            self.fifo.append((self._seq, payload))
        else:
            self.slots[slot] = (self._seq, payload)
        self.wake.set()

    def request_close(self, code: int, reason: str = "") -> None:
        """Ask the sender to close the socket after nothing else (pending data is dropped)."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            self.fifo.clear()
            self.slots.clear()
        self.wake.set()

    def close_after_pending(self, code: int, reason: str = "") -> None:
        """Close once the messages already queued are sent (an ``error`` explaining the
        close goes out first); nothing queued later is sent, and no more snapshots."""
        if self.close_code is None and self._close_after is None:
            self._close_after = (code, reason)
            self.slots.clear()
            self.wake.set()

    def _next(self) -> str | bytes | None:
        """The oldest pending payload (FIFO head or a slot), or None."""
        best: str | None = None
        seq = self.fifo[0][0] if self.fifo else None
        for name, (slot_seq, _) in self.slots.items():
            if seq is None or slot_seq < seq:
                best, seq = name, slot_seq
        if best is not None:
            return self.slots.pop(best)[1]
        if self.fifo:
            return self.fifo.popleft()[1]
        return None

    async def run_sender(self) -> None:
        """Send until a close is requested or the socket fails; then close it."""
        ws = self.websocket
        try:
            while self.close_code is None:
                await self.wake.wait()
                self.wake.clear()
                while self.close_code is None:
                    payload = self._next()
                    if payload is None:
                        if self._close_after is not None:
                            self.close_code, self.close_reason = self._close_after
                        break
                    if isinstance(payload, bytes):
                        await ws.send_bytes(payload)
                        self.sent_frames += 1
                    else:
                        await ws.send_text(payload)
        except Exception as exc:  # the peer went away mid-send: nothing left to do here
            log.debug("sender stopped: %s", type(exc).__name__)
            return
        with contextlib.suppress(Exception):
            await ws.close(self.close_code, self.close_reason)


async def run_connection(conn: Connection, receive: Coroutine[Any, Any, None]) -> None:
    """Run a connection's sender and receiver (``receive``) until either ends.

    When the receiver asked for a close, the sender gets a moment to send it; then both
    tasks are cancelled and awaited, whatever happened.
    """
    sender = asyncio.create_task(conn.run_sender())
    receiver = asyncio.create_task(receive)
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done() and conn.close_code is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), 1.0)
    finally:
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
