"""Sessions survive a real server process killed with SIGKILL or stopped with SIGTERM, on
an SQLite database (docs/design.md, "Saved runs and durable sessions"): resume by id gives the last snapshot's step,
weights and optimiser state, and training goes on; a kill in the middle of saves leaves
the database readable with whole runs only."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlp_playground.config import Settings
from mlp_playground.live import snapshot
from mlp_playground.store.sql import SqlStore
from tests.support.ws import closed_with, owner, run, send, until

pytestmark = pytest.mark.timeout(120)


def _env(db: Path, **extra: str) -> dict[str, str]:
    return {
        "MLPG_DATABASE_URL": f"sqlite:///{db}",
        "MLPG_SNAPSHOT_INTERVAL_SECONDS": "0.5",
        "MLPG_SESSION_GRACE_SECONDS": "60",
        **extra,
    }


def _kill(server: Any) -> None:
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server.proc = None


def _snapshot_of(db: Path, sid: str) -> snapshot.Decoded | None:
    store = SqlStore(f"sqlite:///{db}")
    try:
        snap = store.read_snapshot(sid)
        return snapshot.decode(snap.data) if snap is not None else None
    finally:
        store.close()


def _wait_snapshot(db: Path, sid: str, step: int, timeout: float = 10.0) -> snapshot.Decoded:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = _snapshot_of(db, sid)
        if snap is not None and snap.meta["trainer"]["step"] == step:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"no snapshot at step {step}")


async def _model(ws) -> dict:
    await send(ws, "get_model")
    return (await until(ws, "model"))["model"]


def _weights(doc: dict) -> list[np.ndarray]:
    return [np.asarray(x) for layer in doc["layers"] for x in (layer["weights"], layer["bias"])]


def _continued(snap: snapshot.Decoded, steps: int) -> dict:
    """The snapshot restored here and trained ``steps`` more: what the server must have."""
    settings = Settings()
    limits = {**settings.limits(), "max_points_train": settings.max_live_points}
    trainer = snapshot.restore(snap, limits).trainer
    trainer.run_steps(steps)
    return trainer.model_document()


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


async def _steps_grow(ws, above: int) -> int:
    for _ in range(200):
        msg = await until(ws, "metrics", timeout=20)
        if msg["step"] > above:
            return int(msg["step"])
    raise AssertionError("training does not go on")


def test_sigkill_paused_then_mid_training_resumes_from_the_last_snapshot(server_factory, tmp_path):
    db = tmp_path / "db.sqlite"
    server = server_factory(_env(db))

    async def train_and_pause() -> tuple[str, int, dict]:
        ws, hello = await owner(server.ws_url)
        await send(ws, "configure", config={"optimizer": {"name": "adam"}, "speed": 500})
        await until(ws, "config")
        await send(ws, "play")
        await asyncio.sleep(1.5)
        await send(ws, "pause")
        paused = await until(ws, "event", event="paused")
        model = await _model(ws)
        return hello["session_id"], hello["resume_key"], int(paused["step"]), model

    sid, key, paused_step, paused_model = run(train_and_pause())
    assert paused_step > 0
    stored = _wait_snapshot(db, sid, paused_step)
    # The snapshot keeps the key's hash, never the key itself.
    assert stored.meta["resume_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(stored.meta)
    _kill(server)
    server.start()

    async def id_alone_is_refused() -> None:
        for query in (f"?session={sid}", f"?session={sid}&resume_key={key[::-1]}"):
            ws, err = await owner(server.ws_url, query)
            assert err["type"] == "error" and err["code"] == "forbidden", err
            assert await closed_with(ws) == 1008

    run(id_alone_is_refused())  # after the restart too, and the session is left as it was

    async def resume_paused() -> int:
        ws, hello = await owner(server.ws_url, f"?session={sid}&resume_key={key}")
        assert hello["resumed"] is True and hello["session_id"] == sid
        assert hello["step"] == paused_step and hello["running"] is False
        assert _same(_weights(await _model(ws)), _weights(paused_model))
        assert hello["config"]["optimizer"]["name"] == "adam"
        await send(ws, "play")  # and now a kill in the middle of training
        await asyncio.sleep(2.0)
        return await _steps_grow(ws, paused_step)

    seen = run(resume_paused())
    deadline = time.monotonic() + 15  # a periodic snapshot taken after `seen`
    while time.monotonic() < deadline:
        snap = _snapshot_of(db, sid)
        if snap is not None and snap.meta["trainer"]["step"] >= seen:
            break
        time.sleep(0.1)
    _kill(server)
    snap = _snapshot_of(db, sid)
    assert snap is not None and snap.meta["running"] is True
    last = snap.meta["trainer"]["step"]
    assert last >= seen > paused_step
    server.start()

    async def resume_running() -> None:
        ws, hello = await owner(server.ws_url, f"?session={sid}&resume_key={key}")
        assert hello["resumed"] is True and hello["step"] == last and hello["running"] is True
        await send(ws, "pause")
        paused = await until(ws, "event", event="paused")
        model = await _model(ws)
        # The weights went on from the snapshot's, optimiser moments and RNG included.
        assert _same(_weights(model), _weights(_continued(snap, paused["step"] - last)))
        await send(ws, "play")
        await _steps_grow(ws, last)

    run(resume_running())


def test_sigkill_mid_save_leaves_whole_runs(server_factory, tmp_path):
    db = tmp_path / "db.sqlite"
    server = server_factory(_env(db, MLPG_MAX_RUNS_PER_MINUTE="100000"))
    reported: list[str] = []

    async def save_until_killed() -> None:
        ws, _ = await owner(server.ws_url)
        points = np.random.default_rng(0).uniform(-5, 5, (700, 2)).round(4).tolist()
        await send(ws, "set_data", points=points, labels=[i % 3 for i in range(700)])
        await until(ws, "data")
        for i in range(400):
            await send(ws, "save", title=f"run {i}")
            try:
                reported.append((await until(ws, "saved", timeout=5))["id"])
            except Exception:
                return
            if i == 5:
                loop = asyncio.get_running_loop()
                loop.call_later(0.3, server.proc.send_signal, signal.SIGKILL)

    run(save_until_killed())
    server.proc.wait(10)
    server.proc = None
    assert len(reported) >= 6
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    server.start()
    import httpx

    for rid in reported:
        r = httpx.get(f"{server.url}/runs/{rid}", timeout=20)
        assert r.status_code == 200
        assert len(r.json()["data"]["points"]) == 700 and r.json()["model"] is not None
    store = SqlStore(f"sqlite:///{db}")
    try:
        assert store.run_count() >= len(reported)
    finally:
        store.close()


def test_sigterm_snapshots_every_session(server_factory, tmp_path):
    db = tmp_path / "db.sqlite"
    server = server_factory(_env(db, MLPG_SNAPSHOT_INTERVAL_SECONDS="3600"))

    async def three_training() -> dict[str, int]:
        seen = {}
        sockets = []
        for _ in range(3):
            ws, hello = await owner(server.ws_url)
            await send(ws, "play")
            seen[hello["session_id"]] = int((await until(ws, "metrics"))["step"])
            sockets.append(ws)
        for ws, sid in zip(sockets, seen, strict=True):
            seen[sid] = await _steps_grow(ws, seen[sid])
        server.proc.send_signal(signal.SIGTERM)
        return seen

    seen = run(three_training())
    server.proc.wait(30)
    out = server.output()
    server.proc = None
    assert "Traceback" not in out, out[-3000:]
    for sid, step in seen.items():
        snap = _snapshot_of(db, sid)
        assert snap is not None, (sid, out[-2000:])
        assert snap.meta["trainer"]["step"] >= step and snap.meta["running"] is True
    assert out.count("reason=shutdown") == 3
