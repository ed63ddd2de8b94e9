"""Helpers shared by the live tests: read a TestClient websocket until a given message."""

from __future__ import annotations

import json
from typing import Any

from starlette.websockets import WebSocketDisconnect

from mlp_playground.live import frames


def recv(ws) -> dict[str, Any] | frames.DecodedFrame:
    """The next message: a dict for JSON text, a DecodedFrame for binary."""
    message = ws.receive()
    if message.get("type") == "websocket.close":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    if message.get("bytes") is not None:
        return frames.decode_frame(message["bytes"])
    return json.loads(message["text"])


def until(ws, kind: str, limit: int = 2000, **match: Any) -> dict[str, Any]:
    """Skip messages until one of ``type == kind`` (and the given field values) arrives."""
    for _ in range(limit):
        msg = recv(ws)
        if (
            isinstance(msg, dict)
            and msg["type"] == kind
            and all(msg.get(k) == v for k, v in match.items())
        ):
            return msg
    raise AssertionError(f"no {kind} message with {match} in {limit} messages")


def until_frame(
    ws, kind: int = 1, step: int | None = None, limit: int = 2000
) -> frames.DecodedFrame:
    """The next binary frame of ``kind`` (taken at ``step`` if given)."""
    for _ in range(limit):
        msg = recv(ws)
        if (
            isinstance(msg, frames.DecodedFrame)
            and msg.header.kind == kind
            and (step is None or msg.header.step == step)
        ):
            return msg
    raise AssertionError(f"no kind {kind} frame (step {step}) in {limit} messages")


def send(ws, kind: str, **fields: Any) -> None:
    ws.send_text(json.dumps({"type": kind, **fields}))


def open_session(ws) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read hello and the first data message."""
    hello = recv(ws)
    assert hello["type"] == "hello", hello
    data = until(ws, "data")
    return hello, data
