"""A class's thumbnail stream: what the teacher asked for, and the way frames reach them.

The thumbnails are made where a student's own frames are made (``live.frame_production``):
on the frame thread, from the weight replica that thread already owns, as one extra small
grid pass, rate-limited by a ``pacing.Throttle`` like the frames' other extras (sent at most
``fps`` times a second, only when the model changed since the last one). That keeps the
trainer on its own thread: nothing here, and nothing on the event loop, touches it.

The frame thread hands each finished kind 5 frame to the class's ``ThumbnailSink``, which
moves it to the loop; there every teacher connection keeps one newest-only slot per student,
so a slow teacher page gets each student's newest thumbnail, never a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlp_playground.live.connection import Connection

MIN_RESOLUTION, MAX_RESOLUTION, DEFAULT_RESOLUTION = 16, 64, 32
MIN_FPS, MAX_FPS, DEFAULT_FPS = 0.2, 5.0, 2.0


@dataclass(frozen=True)
class ThumbnailSubscription:
    """Replaced as a whole, so the worker reads a consistent pair."""

    resolution: int = DEFAULT_RESOLUTION
    fps: float = DEFAULT_FPS

    def to_dict(self) -> dict[str, float]:
        return {"thumbnail_resolution": self.resolution, "thumbnail_fps": self.fps}


class ThumbnailSink:
    """One per class. ``active`` and ``subscription`` are read by the worker thread,
    ``deliver`` is called by the frame thread; the rest runs on the loop."""

    def __init__(self) -> None:
        self.subscription = ThumbnailSubscription()
        #: Bumped when the teachers' wishes change: every student's thumbnail is due again.
        self.epoch = 0
        self.teachers: set[Connection] = set()
        self.sent = 0  # thumbnails handed to the loop (for benchmarks)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> bool:
        """Any teacher watching? Without one, no thumbnail is rendered at all."""
        return bool(self.teachers)

    def attach(self, conn: Connection) -> None:
        self._loop = asyncio.get_running_loop()
        self.teachers.add(conn)
        self.epoch += 1

    def detach(self, conn: Connection) -> None:
        self.teachers.discard(conn)

    def resubscribe(self, subscription: ThumbnailSubscription) -> None:
        self.subscription = subscription
        self.epoch += 1

    def deliver(self, session_id: str, frame: bytes) -> None:
        """Frame thread: pass one student's kind 5 frame to the loop."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.teachers:
            return
        self.sent += 1
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._fan_out, session_id, frame)

    def _fan_out(self, session_id: str, frame: bytes) -> None:
        slot = "thumbnail:" + session_id
        for conn in list(self.teachers):
            conn.push(frame, slot)
