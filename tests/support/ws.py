"""Async websocket clients against a real server (the reliability, durable-kill and
cluster-server tests): open an owner, send, read until a message, wait for the close."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import connect


def run(coro):
    return asyncio.run(coro)


async def recv_json(ws, timeout: float = 20.0) -> dict[str, Any]:
    """The next text message (binary frames are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if isinstance(message, str):
            return json.loads(message)


async def until(ws, kind: str, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv_json(ws, max(0.01, deadline - time.monotonic()))
        if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
            return msg


async def owner(ws_url: str, query: str = ""):
    ws = await connect(ws_url + "/ws" + query, max_size=None)
    hello = await recv_json(ws)
    assert hello["type"] in ("hello", "error"), hello
    return ws, hello


async def send(ws, kind: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


async def closed_with(ws, timeout: float = 20.0) -> int | None:
    """Wait for the server to close ``ws``; its close code."""
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    except asyncio.TimeoutError:
        return None
    return ws.close_code


async def step_advances(ws, timeout: float = 30.0, by: int = 10) -> int:
    """Play and wait until a metrics message shows ``by`` more steps; then pause."""
    await send(ws, "subscribe", grid_resolution=20, fps=10)
    await send(ws, "play")
    first = None
    deadline = time.monotonic() + timeout
    while True:
        msg = await until(ws, "metrics", max(0.01, deadline - time.monotonic()))
        first = msg["step"] if first is None else first
        if msg["step"] >= first + by:
            await send(ws, "pause")
            return msg["step"]
