"""Many owner sessions on a ``--workers N`` server, and where each one lives: the placement
and worker-kill tests (tests/cluster/test_cluster_placement.py) and bench/worker_faults.py.

Each ``Owner`` reads its socket in the background and notes every decision frame's arrival
time and step. When its socket drops (its worker was killed, or it was asked to move) it
resumes by id and resume key, as the page does, and notes when, and at which step. ``processes`` reads the Redis
directory: which process (``<hex>-<pid>``) holds each session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

#: A small session: 2-8-8-2 tanh on spiral data, at the page's default pace.
NET: dict[str, Any] = {
    "dataset": {"name": "spiral", "n_points": 400},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "speed": 50,
}
FRAME_KIND = b"\x01"  # the decision grid (byte 5 of a frame header, docs/protocol.md)


class Owner:
    """One owner's session, its frames (monotonic time, step) and its resumes."""

    def __init__(self, ws_url: str, ws: ClientConnection, hello: dict[str, Any],
                 subscribe: dict[str, Any], origin: Origin | None = None) -> None:  # fmt: skip
        self.ws_url = ws_url
        self.origin = origin
        self.ws = ws
        self.id: str = hello["session_id"]
        self.key: str = hello["resume_key"]
        self.subscribe = subscribe
        self.frames: list[tuple[float, int]] = []
        self.drops: list[float] = []  # when its socket dropped
        self.resumes: list[tuple[float, int]] = []  # when it resumed, at which step
        self.closing = False
        self.task = asyncio.create_task(self._read_forever())

    async def _read_forever(self) -> None:
        while not self.closing:
            try:
                async for message in self.ws:
                    if isinstance(message, bytes) and message[5:6] == FRAME_KIND:
                        step = int.from_bytes(message[8:12], "little")
                        self.frames.append((time.monotonic(), step))
            except ConnectionClosed:
                pass
            if self.closing:
                return
            self.drops.append(time.monotonic())
            await self._resume()

    async def _resume(self, give_up: float = 60.0) -> None:
        """Reconnect with ``?session=&resume_key=`` until a hello says ``resumed``."""
        deadline = time.monotonic() + give_up
        query = f"/ws?session={self.id}&resume_key={self.key}"
        while time.monotonic() < deadline and not self.closing:
            try:
                ws = await connect(
                    self.ws_url + query, max_size=None, open_timeout=10, origin=self.origin
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except (OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError):
                await asyncio.sleep(0.05)
                continue
            if hello.get("type") == "hello" and hello.get("resumed"):
                self.ws = ws
                self.resumes.append((time.monotonic(), int(hello["step"])))
                await self._start()
                return
            await ws.close()
            await asyncio.sleep(0.05)

    async def _start(self) -> None:
        await self.ws.send(json.dumps({"type": "subscribe", **self.subscribe}))
        await self.ws.send(json.dumps({"type": "play"}))

    @property
    def dropped_at(self) -> float | None:
        """When its socket first dropped."""
        return self.drops[0] if self.drops else None

    @property
    def resumed_at(self) -> float | None:
        """When it first resumed."""
        return self.resumes[0][0] if self.resumes else None

    @property
    def resumed_step(self) -> int | None:
        """The step it first resumed at."""
        return self.resumes[0][1] if self.resumes else None

    def last_step_before(self, t: float) -> int:
        steps = [s for at, s in self.frames if at <= t]
        return steps[-1] if steps else 0

    def max_gap(self, start: float, end: float) -> float:
        """The longest time without a frame between ``start`` and ``end``."""
        times = [start, *(at for at, _ in self.frames if start < at < end), end]
        return max(b - a for a, b in itertools.pairwise(times))

    def rate(self, start: float, end: float) -> float:
        """Steps per second seen in the frames between ``start`` and ``end``."""
        seen = [(at, s) for at, s in self.frames if start <= at <= end]
        if len(seen) < 2 or seen[-1][0] <= seen[0][0]:
            return 0.0
        return (seen[-1][1] - seen[0][1]) / (seen[-1][0] - seen[0][0])

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def open_owner(ws_url: str, net: dict[str, Any] = NET, grid: int = 20,
                     fps: float = 10, page: bool = False) -> Owner:  # fmt: skip
    """A new session, configured, subscribed and playing; ``page``: its socket sends the
    server's own origin, as the page does (so the server may ask it to move)."""
    origin = Origin("http" + ws_url[2:]) if page else None
    ws = await connect(ws_url + "/ws", max_size=None, origin=origin)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello", hello
    await ws.send(json.dumps({"type": "configure", "config": net}))
    owner = Owner(ws_url, ws, hello, {"grid_resolution": grid, "fps": fps}, origin)
    await owner._start()
    return owner


def processes(redis_url: str, prefix: str, session_ids: list[str]) -> dict[str, str]:
    """Session id -> the process holding it (``<hex>-<pid>``), from the Redis directory;
    sessions no process holds are left out."""
    client = redis.Redis.from_url(redis_url)
    try:
        out = {}
        for sid in session_ids:
            process = client.hget(f"{prefix}:session:{sid}", "process")
            if process is not None:
                out[sid] = process.decode()
        return out
    finally:
        client.close()


def pid_of(process: str) -> int:
    return int(process.rsplit("-", 1)[1])


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's worker processes (multiprocessing's spawned children)."""
    path = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    kids = [int(p) for p in path.read_text().split()] if path.exists() else []
    out = []
    for pid in kids:
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
    return out
