"""deploy/nginx.conf for real: Debian's nginx on loopback in front of two app processes that
share one Redis and one SQLite file (docs/deploy.md, several machines behind a proxy).

Round-robin, no sticky sessions: REST answers from both processes; an owner's websocket
passes the upgrade and the Origin check (nginx forwards ``Host`` with its port); watchers
and ``POST /predict {"session": id}`` work on whichever process nginx picks, because
sessions are found through Redis. The backend of each answer is read from the
``X-Upstream`` header the test's copy of the config adds (tests.support.deploy.loopback_config).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.deploy import PROXY_NAME, Stack

pytestmark = pytest.mark.timeout(90)


def proxy_options(stack: Stack) -> dict[str, Any]:
    """REST through nginx, by the proxy's name (nginx must pass ``Host`` on)."""
    return {
        "base_url": stack.nginx.url,
        "headers": {"Host": f"{PROXY_NAME}:{stack.nginx.port}"},
        "timeout": 10,
        "trust_env": False,
    }


def proxy_client(stack: Stack) -> httpx.Client:
    return httpx.Client(**proxy_options(stack))


def async_proxy_client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(**proxy_options(stack))


async def open_ws(stack: Stack, path: str) -> ClientConnection:
    """A websocket through nginx, as a page served by the proxy opens it (same Origin)."""
    name = f"{PROXY_NAME}:{stack.nginx.port}"
    return await connect(
        f"ws://{name}{path}",
        host="127.0.0.1",
        port=stack.nginx.port,
        origin=f"http://{name}",  # type: ignore[arg-type]
        proxy=None,
        max_size=None,
        open_timeout=10,
    )


def upstream(ws: ClientConnection) -> str:
    assert ws.response is not None
    return ws.response.headers["X-Upstream"]


async def until_json(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if isinstance(message, str) and (msg := json.loads(message))["type"] == kind:
            return msg


async def until_binary(ws: ClientConnection, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            return message


def test_rest_answers_from_both_processes(stack: Stack) -> None:
    seen: dict[str, set[str]] = {"/": set(), "/api/options": set()}
    with proxy_client(stack) as client:
        for path, backends in seen.items():
            for _ in range(4):  # round-robin: consecutive requests alternate
                response = client.get(path)
                assert response.status_code == 200, (path, response.text[:200])
                backends.add(response.headers["X-Upstream"])
        assert "limits" in client.get("/api/options").json()
        assert seen == {"/": stack.backends, "/api/options": stack.backends}
        # The app sees the client's Host, not nginx's upstream name: others are refused.
        assert client.get("/api/options", headers={"Host": "elsewhere.example"}).status_code == 400
        # A body over nginx's default 1 MiB reaches the app (which answers it), not a 413.
        body = {"session": "no-such-session", "points": [[0.5, 0.5]] * 150_000}
        response = client.post("/predict", json=body)
        assert response.status_code in (404, 422), response.status_code


def test_owner_websocket_through_nginx(stack: Stack) -> None:
    async def scenario() -> None:
        ws = await open_ws(stack, "/ws")
        async with ws:
            assert upstream(ws) in stack.backends
            hello = await until_json(ws, "hello")
            assert hello["role"] == "owner" and hello["watch_token"]
            await ws.send(json.dumps({"type": "play"}))
            frame = await until_binary(ws)
            assert len(frame) > 16

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_watchers_and_predict_on_either_process(stack: Stack) -> None:
    """Needs the cross-process wiring (issue 12): a watcher nginx sends to the process
    that does not hold the session gets its frames through Redis."""

    async def scenario() -> None:
        owner = await open_ws(stack, "/ws")
        async with owner:
            home = upstream(owner)
            hello = await until_json(owner, "hello")
            await owner.send(json.dumps({"type": "play"}))
            await until_binary(owner)
            watched: set[str] = set()
            for _ in range(4):  # round-robin: the next ones alternate between the apps
                watcher = await open_ws(stack, f"/ws/watch/{hello['watch_token']}")
                async with watcher:
                    whello = await until_json(watcher, "hello")
                    assert whello["role"] == "watcher"
                    await until_binary(watcher)
                    watched.add(upstream(watcher))
                if watched == stack.backends:
                    break
            assert watched == stack.backends, (home, watched)
            answered: set[str] = set()
            body = {"session": hello["session_id"], "points": [[0.0, 0.0], [1.0, -1.0]]}
            async with async_proxy_client(stack) as client:
                for _ in range(4):
                    response = await client.post("/predict", json=body)
                    assert response.status_code == 200, response.text[:300]
                    assert len(response.json()["probabilities"]) == 2
                    answered.add(response.headers["X-Upstream"])
            assert answered == stack.backends

    asyncio.run(asyncio.wait_for(scenario(), 45))


def test_nginx_access_log_keeps_no_secret(stack: Stack) -> None:
    """The shipped log format writes method and path: no teacher token, resume key or
    watch token reaches nginx's access log (the app's own log masks them too)."""
    with proxy_client(stack) as client:
        klass = client.post("/classes", json={}).json()
        code, token = klass["code"], klass["teacher_token"]
        client.get(f"/c/{code}?token={token}&resume_key=key-{token}")
        client.get(f"/ws/watch/watch-{token}")
    log_file = stack.nginx.workdir / "access.log"
    deadline = time.monotonic() + 5
    while f"/c/{code}" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # nginx writes each line when its request ends
    text = log_file.read_text()
    assert f'"GET /c/{code}"' in text and '"GET /ws/watch/***"' in text
    assert token not in text, text[-500:]
