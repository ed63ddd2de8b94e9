"""Helpers for the classroom tests (reading a websocket is tests.support.live)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.websockets import WebSocketDisconnect

from mlp_playground.live import frames
from tests.support.live import recv, send, until

#: Small, cheap frames for the students' own streams.
LIGHT = {"grid_resolution": 16, "fps": 20}


def join(client, code: str, name: str):
    """Open a student's websocket (to be used as a context manager)."""
    query = urlencode({"class": code, "name": name})
    return client.websocket_connect(f"/ws?{query}")


def teacher(client, klass: dict, token: str | None = None):
    token = klass["teacher_token"] if token is None else token
    return client.websocket_connect(f"/ws/class/{klass['code']}?token={token}")


def refused(ws) -> tuple[dict[str, Any], int]:
    """The error sent before a close, and the close code."""
    err = recv(ws)
    assert isinstance(err, dict) and err["type"] == "error", err
    with pytest.raises(WebSocketDisconnect) as exc:
        for _ in range(10):
            recv(ws)
    return err, exc.value.code


def student_hello(ws) -> dict[str, Any]:
    hello = recv(ws)
    assert hello["type"] == "hello", hello
    until(ws, "data")
    send(ws, "subscribe", **LIGHT)
    return hello


def thumbnails(ws, wanted: dict[str, int | None], limit: int = 3000) -> dict[str, Any]:
    """Read the teacher's stream until a kind 5 frame per wanted session id (at the wanted
    step when not None); their decoded frames by id."""
    got: dict[str, frames.DecodedFrame] = {}
    for _ in range(limit):
        msg = recv(ws)
        if isinstance(msg, frames.DecodedFrame) and msg.header.kind == frames.KIND_THUMBNAIL:
            sid = msg.session_id
            assert sid is not None
            step = wanted.get(sid, -1)
            if sid in wanted and (step is None or msg.header.step == step):
                got[sid] = msg
            if len(got) == len(wanted):
                return got
    raise AssertionError(f"thumbnails for {sorted(got)} of {sorted(wanted)}")


def roster_until(ws, predicate, limit: int = 3000) -> dict[str, Any]:
    for _ in range(limit):
        msg = recv(ws)
        if isinstance(msg, dict) and msg["type"] == "roster" and predicate(msg["students"]):
            return msg
    raise AssertionError("no roster matching the condition")
