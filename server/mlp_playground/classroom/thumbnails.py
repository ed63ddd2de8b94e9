"""A class's thumbnail stream: what the teacher asked for, and the way frames reach them.

The thumbnails are made where a student's own frames are made (``live.frame_production``):
on the frame thread, from the weight replica that thread already owns, as one extra small
grid pass, rate-limited by a ``pacing.Throttle`` like the frames' other extras (sent at most
``fps`` times a second, only when the model changed since the last one). That keeps the
trainer on its own thread: nothing here, and nothing on the event loop, touches it.

The frame thread hands each finished kind 5 frame to the class's ``ThumbnailSink``, which
moves it to the loop; there every teacher connection keeps one newest-only slot per student,
so a slow teacher page gets each student's newest thumbnail, never a backlog. A teacher
connected to another process (``classroom.class_link``) keeps ``remote_until`` in the
future; while it is, each thumbnail also goes to ``remote``, which publishes it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
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
        #: time.monotonic() until which a teacher elsewhere wants thumbnails, and the
        #: function (on the loop) that sends one there: (session id, frame).
        self.remote_until = 0.0
        self.remote: Callable[[str, bytes], None] | None = None

    @property
    def active(self) -> bool:
        """Any teacher watching, here or elsewhere? Without one, no thumbnail is rendered."""
        return bool(self.teachers) or self.remote_wanted()

    def remote_wanted(self) -> bool:
        return self.remote is not None and time.monotonic() < self.remote_until

    def want_remote(self, seconds: float) -> None:
        """Loop: a teacher elsewhere wants thumbnails for the next ``seconds``."""
        self._loop = asyncio.get_running_loop()
        self.remote_until = time.monotonic() + seconds

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
        if loop is None or loop.is_closed() or not self.active:
            return
        self.sent += 1
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._fan_out, session_id, frame)

    def _fan_out(self, session_id: str, frame: bytes) -> None:
        self.show(session_id, frame)
        if self.remote is not None and self.remote_wanted():
            self.remote(session_id, frame)

    def show(self, session_id: str, frame: bytes) -> None:
        """Loop: one student's thumbnail (made here or elsewhere) to every local teacher."""
        slot = "thumbnail:" + session_id
        for conn in list(self.teachers):
            conn.push(frame, slot)
