"""No teacher token, key or watch link reaches the log at any level: the access log and
uvicorn's websocket lines print ``?token=***``."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import websockets

from mlp_playground.log_redaction import RedactSecrets, redact
from tests.support.attack import running_server


def test_a_teachers_token_is_masked_in_the_servers_log() -> None:
    with running_server(None, "--log-level", "debug") as server:
        klass = httpx.post(server.url + "/classes", json={}).json()
        code, token = klass["code"], klass["teacher_token"]

        async def teacher() -> str:
            url = f"ws://127.0.0.1:{server.port}/ws/class/{code}?token={token}"
            async with websockets.connect(url) as ws:
                return str(await asyncio.wait_for(ws.recv(), 10))

        assert asyncio.run(teacher())  # the token works: the roster came
        httpx.get(server.url + f"/c/{code}?token={token}&resume_key=abc123secret")
        httpx.post(server.url + f"/train?delete_token={token}", json={"epochs": "x"})
        deadline_log = server.output()
    assert token not in deadline_log
    assert "abc123secret" not in deadline_log
    assert f"/ws/class/{code}?token=*** [accepted]" in deadline_log.replace('"', "")
    assert f"/c/{code}?token=***&resume_key=***" in deadline_log


def test_the_filter_keeps_the_access_formatters_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "x",
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/ws/watch/abc?key=k&session=s1", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.args == ("127.0.0.1:5", "GET", "/ws/watch/***?key=***&session=s1", "1.1", 200)
    assert (
        record.getMessage() == '127.0.0.1:5 - "GET /ws/watch/***?key=***&session=s1 HTTP/1.1" 200'
    )
    assert redact("/ws?session=s1&monkey=1") == "/ws?session=s1&monkey=1"  # public values stay


def test_message_bodies_keep_their_secrets_out_of_a_debug_log() -> None:
    """At debug level the websockets library logs each frame: an owner's ``hello`` (its
    resume key) and a teacher's roster must not reach the log."""
    with running_server(None, "--log-level", "debug") as server:
        klass = httpx.post(server.url + "/classes", json={}).json()
        token = klass["teacher_token"]

        async def owner_and_teacher() -> str:
            async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
                await ws.send(json.dumps({"type": "noop", "resume_key": hello["resume_key"]}))
                await asyncio.wait_for(ws.recv(), 10)  # its error: the message was read
            url = f"ws://127.0.0.1:{server.port}/ws/class/{klass['code']}?token={token}"
            async with websockets.connect(url) as ws:
                await asyncio.wait_for(ws.recv(), 10)
            return str(hello["resume_key"])

        resume_key = asyncio.run(owner_and_teacher())
        log_text = server.output()
    assert "connection open" in log_text  # the debug level was on
    assert resume_key not in log_text and token not in log_text
    assert redact('{"resume_key": "k1", "session_id": "s1"}') == (
        '{"resume_key": "***", "session_id": "s1"}'
    )
