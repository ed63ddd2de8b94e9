"""A class spans processes and outlives a restart (docs/design.md, "The classroom"): real
server processes sharing one Redis and one SQLite file. A class opened on one is joined
through the other; the teacher's wall on either shows every student with their kind 5
thumbnails; a push reaches them all; the cap and the names hold over both; ending it on one
ends it on both; Redis down, each process keeps its own students and the wall says whom it
cannot see, and it joins up again; after a SIGKILL the class, its code, its token and its
students' sessions are back."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import connect

from mlp_playground.live import frames
from tests.support.cluster import RedisServer
from tests.support.servers import ServerProcess, free_port
from tests.support.ws import closed_with, recv_json, run, send, until

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., list[ServerProcess]]]:
    """``servers(redis, n, **env)``: n processes on one SQLite file (and Redis, if given)."""
    started: list[ServerProcess] = []

    def make(redis: RedisServer | None, n: int = 2, **extra: str) -> list[ServerProcess]:
        env = {
            "MLPG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "MLPG_SNAPSHOT_INTERVAL_SECONDS": "0.5",
            **extra,
        }
        if redis is not None:
            env |= {"MLPG_REDIS_URL": redis.url, "MLPG_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
        out = []
        for _ in range(n):
            server = ServerProcess(free_port(), env)
            server.start()
            started.append(server)
            out.append(server)
        return out

    yield make
    for server in started:
        server.stop()


def open_class(server: ServerProcess) -> dict[str, Any]:
    r = httpx.post(server.url + "/classes", json={"title": "two hosts"})
    assert r.status_code == 201, r.text
    return r.json()


async def student(server: ServerProcess, code: str, name: str, play: bool = False):
    """A student's socket and its first message; ``play``: training (thumbnails change)."""
    ws = await connect(
        f"{server.ws_url}/ws?{urlencode({'class': code, 'name': name})}", max_size=None
    )
    hello = await recv_json(ws)
    if hello["type"] == "hello":
        await send(ws, "subscribe", grid_resolution=16, fps=20)
        if play:
            await send(ws, "play")
    return ws, hello


async def teacher(server: ServerProcess, klass: dict[str, Any]):
    url = f"{server.ws_url}/ws/class/{klass['code']}?token={klass['teacher_token']}"
    ws = await connect(url, max_size=None)
    hello = await recv_json(ws)
    assert hello["type"] == "hello" and hello["role"] == "teacher", hello
    return ws


async def roster_until(ws, predicate, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        msg = await until(ws, "roster", max(0.01, deadline - time.monotonic()))
        last = msg
        if predicate(msg):
            return msg
    raise AssertionError(f"no roster matching; last: {last}")


def names(msg: dict[str, Any]) -> list[str]:
    return sorted(s["name"] for s in msg["students"])


async def thumbnail_ids(ws, wanted: set[str], timeout: float = 20.0) -> set[str]:
    got: set[str] = set()
    deadline = time.monotonic() + timeout
    while got != wanted:
        left = deadline - time.monotonic()
        assert left > 0, f"thumbnails of {sorted(got)} only, of {sorted(wanted)}"
        try:
            message = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            raise AssertionError(f"thumbnails of {sorted(got)} only, of {sorted(wanted)}") from None
        if isinstance(message, bytes):
            decoded = frames.decode_frame(message)
            if decoded.header.kind == frames.KIND_THUMBNAIL and decoded.session_id in wanted:
                got.add(decoded.session_id)
    return got


def kill(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server.proc = None


def test_a_class_on_one_process_is_joined_taught_and_ended_through_the_other(servers, redis_server):
    a, b = servers(redis_server)
    klass = open_class(a)
    assert httpx.get(f"{b.url}/c/{klass['code']}").status_code == 200
    assert httpx.get(f"{b.url}/c/ZZZZZZ").status_code == 404

    async def scenario() -> None:
        ada, hello_a = await student(a, klass["code"], "Ada", play=True)
        bob, hello_b = await student(b, klass["code"], "Bob", play=True)
        assert hello_a["class"] == hello_b["class"] == klass["code"]
        ids = {hello_a["session_id"], hello_b["session_id"]}
        for wall_server in (b, a):  # the wall on either process shows both students
            wall = await teacher(wall_server, klass)
            msg = await roster_until(wall, lambda m: names(m) == ["Ada", "Bob"])
            assert msg["cluster"] == "ok" and msg["unseen"] == []
            assert await thumbnail_ids(wall, ids) == ids
            await wall.close()
        wall = await teacher(b, klass)
        await roster_until(wall, lambda m: len(m["students"]) == 2)
        await send(wall, "push", config={"optimizer": {"learning_rate": 0.0123}})
        pushed = await until(wall, "pushed")
        assert pushed["students"] == 2
        for ws in (ada, bob):
            event = await until(ws, "event", event="pushed")
            assert event["changed"] == ["optimizer.learning_rate"], event
        r = httpx.delete(
            f"{a.url}/classes/{klass['code']}",
            headers={"Authorization": f"Bearer {klass['teacher_token']}"},
        )
        assert r.status_code == 204
        ended = await until(bob, "event", event="class_ended")  # a student of the other process
        assert ended["class"] == klass["code"]
        assert await closed_with(wall, 10) == 1000
        assert httpx.get(f"{b.url}/c/{klass['code']}").status_code == 404
        for ws in (ada, bob):
            await ws.close()

    run(scenario())


def test_the_class_cap_and_the_names_hold_over_both_processes(servers, redis_server):
    a, b = servers(redis_server, MLPG_MAX_STUDENTS_PER_CLASS="2", MLPG_SESSION_GRACE_SECONDS="0")
    klass = open_class(a)

    async def scenario() -> None:
        ada, _ = await student(a, klass["code"], "Ada")
        taken, err = await student(b, klass["code"], "ADA")  # same name key, other process
        assert err["type"] == "error" and err["code"] == "name_taken", err
        assert await closed_with(taken) == 1008
        bob, hello = await student(b, klass["code"], "Bob")
        assert hello["type"] == "hello"
        full, err = await student(a, klass["code"], "Cy")
        assert err["code"] == "too_many_students", err
        assert await closed_with(full) == 1013
        full_b, err_b = await student(b, klass["code"], "Di")
        assert err_b["code"] == "too_many_students", err_b
        assert await closed_with(full_b) == 1013
        await bob.close()  # its seat frees once its session is dropped (grace period 0)
        deadline = time.monotonic() + 20
        while True:
            again, hello = await student(a, klass["code"], "Cy")
            if hello["type"] == "hello":
                break
            assert time.monotonic() < deadline, hello
            await asyncio.sleep(0.5)
        for ws in (ada, again):
            await ws.close()

    run(scenario())


def test_the_teacher_connections_cap_holds_over_both_processes(servers, redis_server):
    from mlp_playground.classroom.teacher import MAX_TEACHERS

    a, b = servers(redis_server)
    klass = open_class(a)
    url = f"/ws/class/{klass['code']}?token={klass['teacher_token']}"

    async def scenario() -> None:
        walls = [await teacher((a, b)[i % 2], klass) for i in range(MAX_TEACHERS)]
        for server in (a, b):
            extra = await connect(server.ws_url + url, max_size=None)
            err = await recv_json(extra)
            assert err["code"] == "too_many_teachers", err
            assert await closed_with(extra) == 1013
        await walls[1].close()  # one of B's: its place is free for a teacher on A
        deadline = time.monotonic() + 10
        while True:
            again = await connect(a.ws_url + url, max_size=None)
            hello = await recv_json(again)
            if hello["type"] == "hello":
                break
            assert time.monotonic() < deadline, hello
            await asyncio.sleep(0.3)
        for ws in [*walls, again]:
            await ws.close()

    run(scenario())


def test_unknown_codes_are_counted_over_both_processes(servers, redis_server):
    """Guessing on two processes gives no more tries than on one: over the limit every code
    answers 429 on both, the real one too (a guesser cannot tell a hit from a miss)."""
    a, b = servers(redis_server, MLPG_MAX_UNKNOWN_CODES_PER_MINUTE="4")
    klass = open_class(a)
    for server, code in ((a, "ZZZZZA"), (b, "ZZZZZB"), (a, "ZZZZZC"), (b, "ZZZZZD")):
        assert httpx.get(f"{server.url}/c/{code}").status_code == 404
    time.sleep(0.5)  # each failure is added to Redis just after its answer
    for server in (a, b):
        over = httpx.get(f"{server.url}/c/{klass['code']}")
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1


def test_redis_down_each_process_keeps_its_students_and_the_wall_names_the_unseen(
    servers, own_redis
):
    a, b = servers(own_redis)
    klass = open_class(a)

    async def scenario() -> None:
        ada, _ = await student(a, klass["code"], "Ada")
        bob, hello_b = await student(b, klass["code"], "Bob")
        wall = await teacher(a, klass)
        await roster_until(wall, lambda m: names(m) == ["Ada", "Bob"])
        own_redis.kill()
        msg = await roster_until(wall, lambda m: m["cluster"] == "unavailable" and m["unseen"])
        assert names(msg) == ["Ada"]
        assert [u["name"] for u in msg["unseen"]] == ["Bob"]
        assert msg["unseen"][0]["session_id"] == hello_b["session_id"]
        for ws in (ada, bob):  # each process still trains its own student
            await send(ws, "subscribe", grid_resolution=16, fps=10)
            await send(ws, "play")
            first = (await until(ws, "metrics"))["step"]
            assert (await until(ws, "metrics", timeout=10))["step"] >= first
        late, err = await student(b, klass["code"], "Cy")  # B alone: its own count holds
        assert err["type"] == "hello", err
        own_redis.start()
        msg = await roster_until(
            wall, lambda m: m["cluster"] == "ok" and names(m) == ["Ada", "Bob", "Cy"], 30
        )
        assert msg["unseen"] == []
        for ws in (ada, bob, late, wall):
            await ws.close()

    run(scenario())


def test_after_a_sigkill_the_class_its_token_and_its_students_are_back(servers):
    (a,) = servers(None, 1)
    klass = open_class(a)

    async def before() -> dict[str, Any]:
        ws, hello = await student(a, klass["code"], "Ada")
        await send(ws, "subscribe", grid_resolution=16, fps=10)
        await send(ws, "play")
        step = (await until(ws, "metrics"))["step"]
        while step < 50:
            step = (await until(ws, "metrics"))["step"]
        await asyncio.sleep(1.2)  # a snapshot while it trains (every 0.5 s here)
        wall = await teacher(a, klass)
        await roster_until(wall, lambda m: names(m) == ["Ada"])
        return hello

    hello = run(before())
    kill(a)
    a.start()

    async def after() -> None:
        assert httpx.get(f"{a.url}/c/{klass['code']}").status_code == 200
        query = urlencode({"session": hello["session_id"], "resume_key": hello["resume_key"]})
        ws = await connect(f"{a.ws_url}/ws?{query}", max_size=None)
        again = await recv_json(ws)
        assert again["resumed"] is True and again["session_id"] == hello["session_id"]
        assert (again["class"], again["name"]) == (klass["code"], "Ada")
        wall = await teacher(a, klass)  # the same token still works
        msg = await roster_until(wall, lambda m: names(m) == ["Ada"])
        assert msg["students"][0]["session_id"] == hello["session_id"]
        bad = await connect(f"{a.ws_url}/ws/class/{klass['code']}?token=wrong", max_size=None)
        err = await recv_json(bad)
        assert err["code"] == "forbidden"
        newcomer, joined = await student(a, klass["code"], "Bob")  # and the code joins
        assert joined["class"] == klass["code"]
        for w in (ws, wall, newcomer):
            await w.close()

    run(after())
    log = a.output()
    assert klass["teacher_token"] not in log


def test_a_killed_process_students_resume_on_the_other_into_the_class(servers, redis_server):
    a, b = servers(redis_server)
    klass = open_class(a)

    async def before() -> dict[str, Any]:
        ws, hello = await student(a, klass["code"], "Ada")
        await send(ws, "subscribe", grid_resolution=16, fps=10)
        await send(ws, "play")
        await until(ws, "metrics")
        await asyncio.sleep(1.2)
        return hello

    hello = run(before())
    kill(a)

    async def after() -> None:
        wall = await teacher(b, klass)
        query = urlencode({"session": hello["session_id"], "resume_key": hello["resume_key"]})
        ws = await connect(f"{b.ws_url}/ws?{query}", max_size=None)
        again = await recv_json(ws)
        assert again["resumed"] is True and again["class"] == klass["code"], again
        msg = await roster_until(wall, lambda m: names(m) == ["Ada"])
        assert json.dumps(msg).count(hello["session_id"]) >= 1
        await ws.close()
        await wall.close()

    run(after())


def test_classroom_with_two_workers_is_one_class(redis_server, tmp_path):
    """``mlp-playground --classroom --workers 2``: wherever the connections are placed, the
    students of both workers are on one wall and take one push."""
    env = {
        "MLPG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MLPG_REDIS_URL": redis_server.url,
        "MLPG_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
    }
    server = ServerProcess(free_port(), env, args=("--classroom", "--workers", "2"))
    server.start(timeout=40)
    try:
        klass = open_class(server)

        async def scenario() -> None:
            kids = [await student(server, klass["code"], f"S{i}", play=True) for i in range(4)]
            assert all(hello["class"] == klass["code"] for _ws, hello in kids)
            wall = await teacher(server, klass)
            wanted = [f"S{i}" for i in range(4)]
            await roster_until(wall, lambda m: names(m) == wanted, 30)
            ids = {hello["session_id"] for _ws, hello in kids}
            assert await thumbnail_ids(wall, ids) == ids
            await send(wall, "push", config={"optimizer": {"learning_rate": 0.02}})
            assert (await until(wall, "pushed"))["students"] == 4
            for ws, _hello in kids:
                await until(ws, "event", event="pushed")
                await ws.close()
            await wall.close()

        run(scenario())
    except BaseException:
        print(server.output()[-6000:])  # the supervisor's and workers' log, shown on failure
        raise
    finally:
        server.stop()


def test_a_never_trained_student_of_a_killed_process_takes_their_name_back(servers, redis_server):
    """No snapshot, so no resume: the page joins again, and its session id and resume key
    prove the nickname is its own, though the dead process still holds it (for ~6 s)."""
    a, b = servers(redis_server)
    klass = open_class(a)

    async def scenario() -> None:
        ws, hello = await student(a, klass["code"], "Ada")
        assert hello["type"] == "hello"
        await asyncio.sleep(0.5)  # the membership is written just after the hello
        kill(a)
        stranger, err = await student(b, klass["code"], "ada")
        assert err["type"] == "error" and err["code"] == "name_taken", err
        wrong = urlencode(
            {"session": hello["session_id"], "resume_key": "not-the-key", "class": klass["code"],
             "name": "Ada"}
        )  # fmt: skip
        forged = await connect(f"{b.ws_url}/ws?{wrong}", max_size=None)
        err = await recv_json(forged)  # a wrong key for a known session: refused outright
        assert err["type"] == "error" and err["code"] in ("forbidden", "name_taken"), err
        assert await closed_with(forged) == 1008
        query = urlencode(
            {"session": hello["session_id"], "resume_key": hello["resume_key"],
             "class": klass["code"], "name": "Ada"}
        )  # fmt: skip
        back = await connect(f"{b.ws_url}/ws?{query}", max_size=None)
        again = await recv_json(back)
        assert again["type"] == "hello" and again["resumed"] is False, again
        assert (again["class"], again["name"]) == (klass["code"], "Ada")
        for w in (ws, stranger, forged, back):
            await w.close()

    run(scenario())


def test_a_slow_store_does_not_let_a_resuming_session_be_reaped(
    make_client, redis_server, tmp_path
):
    """Grace period 0: a session restored from its snapshot has no owner until its class is
    read from the store; a store that takes a second must not let the reaper (every
    0.25 s) drop it meanwhile (with Redis, the reaper's clock starts once the session is
    counted in the cluster). A new ordinary session does not ask the store at all."""
    from tests.support import live as sync

    c = make_client(
        session_grace_seconds=0,
        redis_url=redis_server.url,
        redis_prefix=f"t{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
    )
    store = c.app.state.store
    slow_reads: list[str] = []
    real = store.member_of

    def slow_member_of(session_id: str):
        slow_reads.append(session_id)
        time.sleep(1.0)
        return real(session_id)

    store.member_of = slow_member_of
    with c.websocket_connect("/ws") as ws:
        hello = sync.recv(ws)
        sid, key = hello["session_id"], hello["resume_key"]
        sync.until(ws, "data")
        sync.send(ws, "play")
        # Trained before the pause, or it has nothing worth a snapshot: the first metrics
        # may still be the step-0 frame's, made before the play was applied.
        while sync.until(ws, "metrics")["step"] == 0:
            pass
        sync.send(ws, "pause")
    assert slow_reads == []  # a new session is nobody's student: no look-up
    registry = c.app.state.registry
    deadline = time.monotonic() + 5
    while registry.get(sid) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with c.websocket_connect(f"/ws?session={sid}&resume_key={key}") as ws:
        again = sync.recv(ws)
        assert again["type"] == "hello" and again["resumed"] is True, again
        assert slow_reads == [sid]
        sync.until(ws, "data")
        assert registry.get(sid) is not None


def test_a_paused_student_of_the_other_process_gets_a_thumbnail_on_the_wall(servers, redis_server):
    """Nobody plays: the only thumbnails are those of the students' first frames, and the
    wall on A must get one of Bob's, on B, however the want and the join interleave."""
    a, b = servers(redis_server)
    klass = open_class(a)

    async def scenario() -> None:
        wall = await teacher(a, klass)
        await send(wall, "subscribe", thumbnail_resolution=32, thumbnail_fps=2)  # as the page
        ada, ada_hello = await student(a, klass["code"], "Ada")
        await asyncio.sleep(3)  # B hears of the class only when Bob joins it, later
        bob, bob_hello = await student(b, klass["code"], "Bob")
        wanted = {ada_hello["session_id"], bob_hello["session_id"]}
        assert await thumbnail_ids(wall, wanted) == wanted
        for ws in (wall, ada, bob):
            await ws.close()

    run(scenario())
