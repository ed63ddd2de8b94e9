"""Every live limit holds, against a real server started with a small value for it; and every
limit is published in ``/api/options``, in ``hello`` and in the README's table."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from websockets.asyncio.client import connect

from mlp_playground.config import Settings
from tests.support.servers import ROOT
from tests.support.ws import closed_with, owner, recv_json, run, send, step_advances, until

pytestmark = pytest.mark.timeout(120)


def test_max_sessions_gives_too_many_sessions_and_1013(server_factory):
    server = server_factory({"MLPG_MAX_SESSIONS": "2", "MLPG_SESSION_GRACE_SECONDS": "0"})

    async def main():
        a, _ = await owner(server.ws_url)
        b, _ = await owner(server.ws_url)
        c, err = await owner(server.ws_url)
        assert err["type"] == "error" and err["code"] == "too_many_sessions", err
        assert "2 sessions" in err["message"]
        assert await closed_with(c) == 1013
        # The two sessions that got in are unaffected and train.
        assert await step_advances(b) > 0
        # A session that ends frees its place (grace 0: at once).
        await a.close()
        for _ in range(100):
            d, hello = await owner(server.ws_url)
            if hello["type"] == "hello":
                break
            await closed_with(d)
            await asyncio.sleep(0.1)
        assert hello["type"] == "hello"
        await d.close()
        await b.close()

    run(main())


def test_orphaned_sessions_count_toward_the_cap_during_their_grace(server_factory):
    server = server_factory({"MLPG_MAX_SESSIONS": "1", "MLPG_SESSION_GRACE_SECONDS": "60"})

    async def main():
        a, hello = await owner(server.ws_url)
        await a.close()
        b, err = await owner(server.ws_url)
        assert err["code"] == "too_many_sessions"
        assert await closed_with(b) == 1013
        # Its owner can still come back to it.
        c, again = await owner(
            server.ws_url, f"?session={hello['session_id']}&resume_key={hello['resume_key']}"
        )
        assert again["type"] == "hello" and again["resumed"] is True
        await c.close()

    run(main())


def test_max_watchers(server_factory):
    server = server_factory({"MLPG_MAX_WATCHERS": "1"})

    async def main():
        ws, hello = await owner(server.ws_url)
        url = f"{server.ws_url}/ws/watch/{hello['watch_token']}"
        w1 = await connect(url, max_size=None)
        assert (await recv_json(w1))["role"] == "watcher"
        w2 = await connect(url, max_size=None)
        err = await recv_json(w2)
        assert err["type"] == "error" and err["code"] == "too_many_watchers", err
        assert await closed_with(w2) == 1013
        await w1.close()
        await ws.close()

    run(main())


def test_message_rate_limit(server_factory):
    server = server_factory({"MLPG_MAX_MESSAGES_PER_SECOND": "5"})

    async def main():
        ws, _ = await owner(server.ws_url)
        async with ws:
            for _ in range(60):
                await send(ws, "step", steps=1)
            err = await until(ws, "error", code="rate_limited")
            assert "5 messages a second" in err["message"]
            await asyncio.sleep(1.5)  # the bucket refills; the connection is still open
            await send(ws, "get_model")
            assert (await until(ws, "model"))["model"]["classes"] == 2

    run(main())


def test_message_size_limit(server_factory):
    server = server_factory({"MLPG_MAX_MESSAGE_BYTES": "2000"})

    async def main():
        ws, _ = await owner(server.ws_url)
        small = {"type": "configure", "config": {"optimizer": {"learning_rate": 0.1}}}
        await ws.send(json.dumps(small) + " " * (1900 - len(json.dumps(small))))
        assert (await until(ws, "config"))["changed"] == ["optimizer.learning_rate"]
        await ws.send(json.dumps(small) + " " * 2000)
        assert await closed_with(ws) == 1009

    run(main())


def test_idle_sessions_are_dropped(server_factory):
    server = server_factory({"MLPG_IDLE_TIMEOUT_SECONDS": "1"})

    async def main():
        ws, hello = await owner(server.ws_url)
        # Nothing sent: the server ends the session and closes the connection (1000).
        assert await closed_with(ws, 30) == 1000
        assert "idle" in (ws.close_reason or "")
        again, hello2 = await owner(
            server.ws_url, f"?session={hello['session_id']}&resume_key={hello['resume_key']}"
        )
        assert hello2["resumed"] is False and hello2["session_id"] != hello["session_id"]
        await again.close()

    run(main())


def test_every_limit_is_in_options_hello_and_readme(live_server):
    # The shared server raises the per-client share (every test connects from 127.0.0.1).
    limits = Settings(max_sessions_per_client=64).limits()
    options = httpx.get(live_server.url + "/api/options", timeout=20).json()["limits"]
    assert options == limits

    async def main():
        ws, hello = await owner(live_server.ws_url)
        await ws.close()
        return hello["limits"]

    assert run(main()) == limits
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Limits") :]
    for name in limits:
        assert re.search(rf"`MLPG_{name.upper()}`", table), f"MLPG_{name.upper()} not in README"
