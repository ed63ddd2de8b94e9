"""REST compute has fair shares: a client on 127.0.0.2 gets at most max_rest_jobs_per_client
requests in flight (then 429 with Retry-After, naming the limit), the server runs at most
max_rest_jobs at once on threads of its own (a freed place goes to the waiting client with
the fewest running; a full or long queue is a 503), and /healthz and /api/options never wait
for a thread. In-process (two ASGI clients with their own addresses, compute replaced by a
function that blocks until released), then the attack of issue 20 against a real server."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.responses import JSONResponse

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from mlp_playground.routes import training
from tests.support.attack import client_from, running_server, ws_from
from tests.support.ws import run

pytestmark = pytest.mark.timeout(180)

ATTACKER, VICTIM, THIRD = "127.0.0.2", "127.0.0.1", "127.0.0.3"


class Blocked:
    """Stands in for a route's compute: each call records its ``seed`` and waits for its
    own release, so the test decides when each running job ends."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.events: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def __call__(self, body: Any, settings: Settings) -> JSONResponse:
        event = threading.Event()
        with self.lock:
            self.events[body.seed] = event
            self.started.append(body.seed)
        event.wait(20)
        return JSONResponse({"seed": body.seed})

    def release(self, seed: int) -> None:
        self.events[seed].set()

    def release_all(self) -> None:
        for event in list(self.events.values()):
            event.set()


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def clients(settings: Settings, *addresses: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """ASGI clients of one app, each seen as coming from its own address."""
    app = create_app(settings)
    made = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)),
            base_url="http://127.0.0.1",
            timeout=30,
        )
        for address in addresses
    ]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


def waiting(client: httpx.AsyncClient, gate: str = "compute") -> int:
    """How many requests wait at the app's ``gate`` (``routes.compute_limit.Gates``)."""
    app = client._transport.app  # type: ignore[attr-defined]
    gates = getattr(app.state, "rest_gates", None)
    return 0 if gates is None else len(getattr(gates, gate).waiters)


def train(client: httpx.AsyncClient, seed: int) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(client.post("/train", json={"seed": seed}))


def test_over_its_share_a_client_gets_429_naming_the_limit_and_others_still_train(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked = Blocked()
    monkeypatch.setattr(training, "_train", blocked)
    settings = Settings(max_rest_jobs_per_client=2, max_rest_jobs=3)

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM) as (attacker, victim):
            held = [train(attacker, 1), train(attacker, 2)]
            await until(lambda: len(blocked.started) == 2)
            third = await attacker.post("/train", json={"seed": 3})
            assert third.status_code == 429, third.text
            assert third.headers["retry-after"] == "1"
            assert "max_rest_jobs_per_client" in third.json()["detail"]
            assert 3 not in blocked.started  # refused before any compute
            mine = train(victim, 10)  # another address: its own share
            await until(lambda: 10 in blocked.started)
            blocked.release(10)
            assert (await mine).json() == {"seed": 10}
            blocked.release(1)
            assert (await held[0]).status_code == 200
            again = train(attacker, 4)  # one ended: the attacker's share has room again
            await until(lambda: 4 in blocked.started)
            blocked.release_all()
            assert [(await t).status_code for t in (held[1], again)] == [200, 200]
            # Bad input is still a 422 naming the field, never a place taken.
            bad = await attacker.post("/train", json={"batch_size": "many"})
            assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "batch_size"

    run(main())


def test_every_compute_route_counts_toward_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = Blocked()
    monkeypatch.setattr(training, "_train", blocked)
    settings = Settings(max_rest_jobs_per_client=2, max_rest_jobs=4, database_url="memory://")
    model = {"format": "mlp-playground.model/1"}
    calls = [
        ("post", "/race", {"optimizers": [{"name": "sgd"}, {"name": "adam"}]}),
        ("post", "/predict", {"model": model, "points": [[0.0, 0.0]]}),
        ("post", "/gradcheck", {}),
        ("post", "/export", {"format": "numpy", "train": {}}),
        ("get", "/runs/abc/export", None),
    ]

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM) as (attacker, victim):
            held = [train(attacker, 1), train(attacker, 2)]
            await until(lambda: len(blocked.started) == 2)
            for method, path, body in calls:
                kwargs = {} if body is None else {"json": body}
                r = await getattr(attacker, method)(path, **kwargs)
                assert r.status_code == 429, (path, r.status_code, r.text)
                assert "max_rest_jobs_per_client" in r.json()["detail"]
                theirs = await getattr(victim, method)(path, **kwargs)
                assert theirs.status_code != 429, (path, theirs.text)
            blocked.release_all()
            assert [(await t).status_code for t in held] == [200, 200]

    run(main())


def test_a_freed_place_goes_to_the_waiting_client_with_fewest_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked = Blocked()
    monkeypatch.setattr(training, "_train", blocked)
    settings = Settings(max_rest_jobs_per_client=3, max_rest_jobs=2)

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM) as (attacker, victim):
            tasks = [train(attacker, 1), train(attacker, 2)]
            await until(lambda: len(blocked.started) == 2)
            tasks.append(train(attacker, 3))  # waits first
            await until(lambda: waiting(attacker) == 1)
            tasks.append(train(victim, 10))  # waits second, but runs nothing
            await until(lambda: waiting(attacker) == 2)
            assert sorted(blocked.started) == [1, 2]
            blocked.release(1)
            await until(lambda: len(blocked.started) == 3)
            assert blocked.started[2] == 10  # not the attacker's earlier one
            blocked.release_all()
            await until(lambda: len(blocked.started) == 4)
            blocked.release_all()
            assert [(await t).status_code for t in tasks] == [200] * 4

    run(main())


def test_a_full_or_long_queue_is_a_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = Blocked()
    monkeypatch.setattr(training, "_train", blocked)
    settings = Settings(max_rest_jobs=1, max_rest_queue=1, rest_queue_seconds=0.5)

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM, THIRD) as (a, b, c):
            running = train(a, 1)
            await until(lambda: blocked.started == [1])
            queued = train(b, 2)
            await until(lambda: waiting(a) == 1)
            full = await c.post("/train", json={"seed": 3})
            assert full.status_code == 503 and full.headers["retry-after"] == "2"
            assert "max_rest_jobs" in full.json()["detail"]
            late = await queued
            assert late.status_code == 503 and "within 0.5 s" in late.json()["detail"]
            blocked.release_all()
            assert (await running).status_code == 200
            blocked.started.clear()
            ok = train(c, 4)  # the place and the queue are free again
            await until(lambda: blocked.started == [4])
            blocked.release_all()
            assert (await ok).status_code == 200

    run(main())


def test_healthz_and_options_answer_while_every_thread_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked = Blocked()
    monkeypatch.setattr(training, "_train", blocked)
    settings = Settings(max_rest_jobs_per_client=2, max_rest_jobs=2)

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM) as (attacker, victim):
            held = [train(attacker, 1), train(attacker, 2)]
            await until(lambda: len(blocked.started) == 2)  # every compute thread busy
            # ... and every thread of the shared pool too (one token, held).
            anyio.to_thread.current_default_thread_limiter().total_tokens = 1
            gate = threading.Event()
            hog = asyncio.create_task(anyio.to_thread.run_sync(gate.wait, 20))
            await asyncio.sleep(0.05)
            for path in ("/healthz", "/api/options"):
                answer = await asyncio.wait_for(victim.get(path), 5)
                assert answer.status_code == 200, path
            gate.set()
            await hog
            blocked.release_all()
            assert [(await t).status_code for t in held] == [200, 200]

    run(main())


# ----------------------------------------------------------------- against a real server

ATTACK_BODY = {
    "network": {"hidden_layers": [128, 128]},
    "batch_size": 256,
    "steps": 100,
    "dataset": {"name": "spiral", "n_points": 2000},
}
ATTACKERS = 45


def live_steps_per_second(ws_url: str, seconds: float) -> float:
    """A victim's live session on 127.0.0.1 at full speed: its median steps/s over
    ``seconds`` (the server's own figure, from ``metrics``)."""
    rates: list[float] = []
    with ws_from(VICTIM, ws_url + "/ws") as ws:
        for kind, fields in (
            ("configure", {"config": {"speed": "max"}}),
            ("subscribe", {"grid_resolution": 20, "fps": 5}),
            ("play", {}),
        ):
            ws.send(json.dumps({"type": kind, **fields}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = ws.recv(timeout=20)
            if isinstance(msg, str) and '"metrics"' in msg:
                rate = json.loads(msg).get("steps_per_second")
                if rate:
                    rates.append(rate)
    return statistics.median(rates[1:] or rates or [0.0])


def options_seconds(url: str, n: int = 10) -> float:
    """Median seconds of GET /api/options from 127.0.0.1."""
    times = []
    with client_from(VICTIM, url) as c:
        for _ in range(n):
            t = time.perf_counter()
            assert c.get("/api/options").status_code == 200
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_45_concurrent_trains_from_one_address_leave_the_others_served() -> None:
    with running_server() as server:
        base_rate = live_steps_per_second(server.ws_url, 3)
        base_options = options_seconds(server.url)
        stop = threading.Event()
        codes: list[int] = []
        refusals: list[httpx.Response] = []

        def attack() -> None:
            with client_from(ATTACKER, server.url) as c:
                while not stop.is_set():
                    r = c.post("/train", json=ATTACK_BODY)
                    codes.append(r.status_code)
                    if r.status_code == 429:
                        refusals.append(r)

        with ThreadPoolExecutor(ATTACKERS) as pool:
            for _ in range(ATTACKERS):
                pool.submit(attack)
            time.sleep(1)
            rate = live_steps_per_second(server.ws_url, 3)
            during_options = options_seconds(server.url)
            with client_from(VICTIM, server.url) as c:
                t = time.perf_counter()
                mine = c.post("/train", json={**ATTACK_BODY, "seed": 5})
                mine_seconds = time.perf_counter() - t
            stop.set()
        print(
            f"\nvictim live steps/s: {base_rate:.0f} alone, {rate:.0f} under attack; "
            f"/api/options {base_options * 1000:.1f} ms alone, {during_options * 1000:.1f} ms "
            f"under attack; victim /train {mine_seconds:.2f} s; attacker answers: "
            f"{codes.count(200)} x 200, {codes.count(429)} x 429, {len(codes)} in all"
        )
        assert mine.status_code == 200, mine.text  # another address is never refused
        assert set(codes) <= {200, 429}, set(codes)
        assert codes.count(429) > codes.count(200)  # most of the flood is turned away
        detail = refusals[0].json()["detail"]
        assert "max_rest_jobs_per_client" in detail and refusals[0].headers["retry-after"]
        # /api/options is async: it waits for no thread (0.82 s under this attack before).
        assert during_options < 0.4, during_options
        # The live session's steps/s are printed, not asserted: even the two jobs the
        # attacker keeps take most of the GIL from the one live training thread (see
        # docs/reliability.md), and two shared cores make that figure noisy.
