"""Two real server processes sharing one Redis and one database are one server
(docs/design.md, "Several processes"): watch tokens, ``/predict`` by session, the session and watcher caps,
resuming on the other process (after a SIGKILL, or from a live one), a Redis outage, and
``mlp-playground --workers 2``."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.cluster import RedisServer
from tests.support.servers import ServerProcess, free_port
from tests.support.ws import closed_with, owner, recv_json, run, send, until

pytestmark = pytest.mark.timeout(120)

Pair = tuple[ServerProcess, ServerProcess]


def _env(redis: RedisServer, db: Path, **extra: str) -> dict[str, str]:
    return {
        "MLPG_REDIS_URL": redis.url,
        "MLPG_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "MLPG_DATABASE_URL": f"sqlite:///{db}",
        "MLPG_SNAPSHOT_INTERVAL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture
def servers(redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Pair]]:
    """Start two processes on separate ports with one Redis, one SQLite file and ``env``."""
    started: list[ServerProcess] = []

    def make(redis: RedisServer = redis_server, **env: str) -> Pair:
        shared = _env(redis, tmp_path / "db.sqlite", **env)
        pair = []
        for _ in range(2):
            server = ServerProcess(free_port(), shared)
            server.start()
            started.append(server)
            pair.append(server)
        return pair[0], pair[1]

    yield make
    for server in started:
        server.stop()


async def _watcher(server: ServerProcess, token: str):
    return await connect(f"{server.ws_url}/ws/watch/{token}", max_size=None)


async def _frame(ws, timeout: float = 15.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            return message


async def _frames(ws, seconds: float) -> list[bytes]:
    out: list[bytes] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        if isinstance(message, bytes):
            out.append(message)
    return out


async def _playing(server: ServerProcess):
    ws, hello = await owner(server.ws_url)
    await send(ws, "subscribe", grid_resolution=20, fps=20)
    await send(ws, "play")
    return ws, hello


def _kill(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server.proc = None


def test_a_watch_token_made_on_one_process_streams_the_same_bytes_on_the_other(servers):
    a, b = servers()

    async def scenario() -> None:
        ws, hello = await _playing(a)
        watcher = await _watcher(b, hello["watch_token"])
        greeting = await recv_json(watcher)
        assert greeting["type"] == "hello" and greeting["role"] == "watcher"
        assert "session_id" not in greeting  # the id stays the owner's secret
        data = await until(watcher, "data")
        assert len(data["points"]) > 0
        await _frame(watcher)
        theirs, mine = await asyncio.gather(_frames(watcher, 2.0), _frames(ws, 2.0))
        assert len(theirs) >= 10, "the remote watcher's stream is too thin"
        assert set(theirs) & set(mine), "frames must be the owner's bytes, not re-encoded"
        await send(ws, "configure", config={"optimizer": {"learning_rate": 0.05}})
        config = await until(watcher, "config")
        assert config["config"]["optimizer"]["learning_rate"] == 0.05
        await send(watcher, "play")
        error = await until(watcher, "error")
        assert error["code"] == "read_only"
        await send(watcher, "get_model")
        model = await until(watcher, "model", timeout=5)
        assert model["model"]["layers"]
        await ws.close()  # the grace period keeps the session: the watcher stays
        await watcher.close()

    run(scenario())


def test_an_unknown_watch_token_is_refused_with_1008_on_every_process(servers):
    a, b = servers()
    health = [httpx.get(s.url + "/healthz", timeout=5).json() for s in (a, b)]
    assert all(h["status"] == "ok" and h["redis"] == "ok" for h in health), health
    assert health[0]["process"] != health[1]["process"]

    async def scenario() -> None:
        for server in (a, b):
            ws = await _watcher(server, "no-such-token")
            assert await closed_with(ws, 10) == 1008

    run(scenario())


def test_predict_by_session_answers_on_the_other_process_within_a_second(servers):
    a, b = servers()
    points = [[0.1, 0.2], [-0.5, 0.4], [0.9, -0.9]]

    async def scenario() -> None:
        ws, hello = await _playing(a)
        await until(ws, "metrics")
        await send(ws, "pause")
        await until(ws, "event", event="paused")
        body = {"session": hello["session_id"], "points": points}
        async with httpx.AsyncClient(timeout=10) as http:
            here = (await http.post(a.url + "/predict", json=body)).json()
            deadline = time.monotonic() + 3.0
            while True:
                there = await http.post(b.url + "/predict", json=body)
                if there.status_code == 200 and there.json() == here:
                    break
                assert time.monotonic() < deadline, there.text
                await asyncio.sleep(0.2)
            unknown = await http.post(b.url + "/predict", json={**body, "session": "nope"})
            assert unknown.status_code == 422
            assert unknown.json()["detail"][0]["field"] == "session"
        await ws.close()

    run(scenario())


def test_the_session_cap_holds_across_processes(servers):
    a, b = servers(MLPG_MAX_SESSIONS="2", MLPG_SESSION_GRACE_SECONDS="0")

    async def scenario() -> None:
        first, _ = await owner(a.ws_url)
        second, _ = await owner(b.ws_url)
        for server in (a, b):
            ws, msg = await owner(server.ws_url)
            assert msg["type"] == "error" and msg["code"] == "too_many_sessions", msg
            assert await closed_with(ws, 10) == 1013
        await first.close()  # grace 0: its place is free at once, on every process
        deadline = time.monotonic() + 5
        while True:
            ws, msg = await owner(b.ws_url)
            if msg["type"] == "hello":
                break
            assert time.monotonic() < deadline, "the freed place did not reach the other process"
            await asyncio.sleep(0.2)
        await ws.close()
        await second.close()

    run(scenario())


def test_the_watcher_cap_holds_across_processes(servers):
    a, b = servers(MLPG_MAX_WATCHERS="2")

    async def scenario() -> None:
        ws, hello = await _playing(a)
        token = hello["watch_token"]
        local, remote = await _watcher(a, token), await _watcher(b, token)
        for w in (local, remote):
            assert (await recv_json(w))["type"] == "hello"
        for server in (a, b):
            extra = await _watcher(server, token)
            msg = await recv_json(extra)
            assert msg["type"] == "error" and msg["code"] == "too_many_watchers", msg
            assert await closed_with(extra, 10) == 1013
        await remote.close()
        deadline = time.monotonic() + 5
        while True:  # the remote watcher's place is given back
            again = await _watcher(b, token)
            if (await recv_json(again))["type"] == "hello":
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        for w in (local, again, ws):
            await w.close()

    run(scenario())


def test_an_owner_whose_process_was_killed_resumes_on_the_other(servers):
    a, b = servers(MLPG_SESSION_GRACE_SECONDS="60")

    async def scenario() -> tuple[str, str, int]:
        ws, hello = await _playing(a)
        step = 0
        while step < 200:
            step = (await until(ws, "metrics"))["step"]
        await asyncio.sleep(1.2)  # a snapshot (every 0.5 s while training) after that step
        return hello["session_id"], hello["watch_token"], hello["resume_key"], step

    sid, token, key, step = run(scenario())
    _kill(a)

    async def resume() -> None:
        ws, hello = await owner(b.ws_url, f"?session={sid}&resume_key={key}")
        assert hello["type"] == "hello" and hello["session_id"] == sid, hello
        assert hello["resumed"] is True and hello["step"] >= step
        assert hello["watch_token"] == token
        await send(ws, "play")
        later = await until(ws, "metrics")
        assert later["step"] >= hello["step"]
        watcher = await _watcher(b, token)  # the same link works where it lives now
        assert (await recv_json(watcher))["type"] == "hello"
        await watcher.close()
        await ws.close()

    run(resume())


def test_an_owner_reconnecting_to_the_other_process_takes_the_session_along(servers):
    """The first process writes the session and lets go of it; nothing is lost."""
    a, b = servers(MLPG_SESSION_GRACE_SECONDS="60")

    async def scenario() -> None:
        ws, hello = await _playing(a)
        await until(ws, "metrics")
        await send(ws, "pause")
        paused = await until(ws, "event", event="paused")
        left_behind = await _watcher(a, hello["watch_token"])
        assert (await recv_json(left_behind))["type"] == "hello"
        await ws.close()
        moved, again = await owner(
            b.ws_url, f"?session={hello['session_id']}&resume_key={hello['resume_key']}"
        )
        assert again["type"] == "hello" and again["resumed"] is True, again
        assert again["step"] == paused["step"]
        assert await closed_with(left_behind, 10) == 1013  # told to reconnect: it moved
        watcher = await _watcher(a, hello["watch_token"])  # from the process it left
        assert (await recv_json(watcher))["type"] == "hello"
        await send(moved, "step", steps=5)
        await _frame(watcher)
        await watcher.close()
        await moved.close()

    run(scenario())


def test_a_redis_outage_interrupts_remote_watchers_only_and_heals(servers, own_redis):
    a, b = servers(redis=own_redis)

    async def scenario() -> None:
        ws, hello = await _playing(a)
        watcher = await _watcher(b, hello["watch_token"])
        await _frame(watcher)
        own_redis.stop()
        error = await until(watcher, "error", timeout=15)
        assert error["code"] == "unavailable"
        assert await closed_with(watcher, 10) == 1013
        async with httpx.AsyncClient(timeout=5) as http:
            health = (await http.get(b.url + "/healthz")).json()
            assert health["status"] == "ok" and health["redis"] == "unavailable", health
            lost = await _watcher(b, hello["watch_token"])  # a retry during the outage
            assert (await recv_json(lost))["code"] == "unavailable"
            assert await closed_with(lost, 10) == 1013
        before = (await until(ws, "metrics"))["step"]
        await asyncio.sleep(1.0)
        after = (await until(ws, "metrics"))["step"]
        assert after > before, "the owner's session must keep training without Redis"
        own_redis.start()
        deadline = time.monotonic() + 20
        while True:
            # A Redis restarted empty knows the session again at the owner's next heartbeat;
            # meanwhile the token is "try again" (1013), never "unknown" (1008: not retried).
            again = await _watcher(b, hello["watch_token"])
            try:
                first = await recv_json(again)
            except ConnectionClosed:
                first = {"type": "closed", "code": again.close_code}
            assert first.get("code") != 1008, "a known token was called unknown"
            if first["type"] == "hello":
                break
            assert first.get("code") == "unavailable", first
            assert time.monotonic() < deadline, f"no recovery: {first}"
            await asyncio.sleep(0.5)
        await _frame(again)
        await again.close()
        await ws.close()

    run(scenario())


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_workers_2_runs_two_processes_that_share_sessions(redis_server, tmp_path):
    env = _env(redis_server, tmp_path / "db.sqlite")
    server = ServerProcess(free_port(), env, args=("--workers", "2"))
    server.start(timeout=40)
    try:
        assert server.proc is not None
        deadline = time.monotonic() + 20
        while True:  # the supervisor (worker_pool.py) starts the workers
            workers = [c for c in _children(server.proc.pid) if "spawn_main" in _cmdline(c)]
            if len(workers) >= 2:
                break
            assert time.monotonic() < deadline, _children(server.proc.pid)
            time.sleep(0.2)

        async def scenario() -> None:
            ws, hello = await _playing(server)
            watchers = [await _watcher(server, hello["watch_token"]) for _ in range(8)]
            for w in watchers:  # whichever process each connection landed on
                assert (await recv_json(w))["type"] == "hello"
                await _frame(w)
            for w in [*watchers, ws]:
                await w.close()

        run(scenario())
    finally:
        server.stop()
