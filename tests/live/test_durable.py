"""Durable sessions and saved runs over the live protocol (in-process, memory store):
``save`` / ``load_run`` and their errors, ``/predict {"run"}``, the snapshot format and its
exact continuation, when snapshots are written, resume from a snapshot, forgetting.
Real processes killed with SIGKILL / SIGTERM are in test_durable_kill.py."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from mlp_playground.live import durable, snapshot
from mlp_playground.live.session import LiveSession, hash_resume_key
from mlp_playground.store.memory import MemoryStore
from tests.support.live import open_session, recv, send, until

pytestmark = pytest.mark.timeout(60)


class Recorder:
    """Wraps a store's ``write_snapshot`` and ``forget_snapshot``: (time, id, meta) of each."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.writes: list[tuple[float, str, dict]] = []
        self.quotas: dict[str, list[dict]] = {}  # client and owned of each write, by id
        self.forgets: list[str] = []
        self.lock = threading.Lock()
        write, forget = store.write_snapshot, store.forget_snapshot

        def recorded_write(sid: str, data: bytes, meta: dict, **quota) -> list[str]:
            gone = write(sid, data, meta, **quota)
            with self.lock:
                self.writes.append((time.monotonic(), sid, dict(meta)))
                self.quotas.setdefault(sid, []).append(quota)
            return gone

        def recorded_forget(sid: str) -> None:
            forget(sid)
            with self.lock:
                self.forgets.append(sid)

        store.write_snapshot = recorded_write
        store.forget_snapshot = recorded_forget

    def of(self, sid: str) -> list[tuple[float, str, dict]]:
        with self.lock:
            return [w for w in self.writes if w[1] == sid]

    def wait_for(self, sid: str, n: int, timeout: float = 5.0) -> list[tuple[float, str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.of(sid)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.of(sid)


def model_of(ws) -> dict:
    send(ws, "get_model")
    return until(ws, "model")["model"]


def same_weights(a: dict, b: dict) -> bool:
    return len(a["layers"]) == len(b["layers"]) and all(
        np.array_equal(la["weights"], lb["weights"]) and np.array_equal(la["bias"], lb["bias"])
        for la, lb in zip(a["layers"], b["layers"], strict=True)
    )


def trained(ws, steps: int = 40) -> int:
    send(ws, "step", steps=steps)
    return until(ws, "metrics", step=steps)["step"]


# --- the snapshot itself ---------------------------------------------------------------------


def _session(**config: Any) -> LiveSession:
    s = LiveSession("sid", "tok", Settings(), lambda *_: None, lambda: None)
    if config:
        s.reconfigure(config)
    return s


def test_a_restored_snapshot_continues_exactly_like_the_original():
    """Adam moments, dropout masks (the RNG), the shuffled epoch half walked and an added
    point: the restored trainer's next steps are the original's, bit for bit."""
    a = _session(
        optimizer={"name": "adam", "learning_rate": 0.02},
        network={"hidden_layers": [6, 3], "dropout": 0.2, "features": ["x1", "x2", "x1_x2"]},
        batch_size=7,
    )
    a.trainer.run_steps(53)  # mid-epoch
    a.trainer.add_point((1.0, 2.0), 1)
    a.trainer.run_steps(5)
    a.running = True
    blob = snapshot.encode(snapshot.capture(a))
    state = snapshot.restore(snapshot.decode(blob), a.limits)
    b = state.trainer
    assert state.running and b.step == a.trainer.step and b.epoch == a.trainer.epoch
    assert np.array_equal(b.data.X, a.trainer.data.X)
    assert state.config.to_dict() == a.config.to_dict()
    a.trainer.run_steps(300)
    b.run_steps(300)
    assert np.array_equal(a.trainer.model.params.flat, b.model.params.flat)
    assert b.optimizer.steps == a.trainer.optimizer.steps


def test_a_resume_key_is_checked_from_the_meta_alone(monkeypatch):
    """A wrong key for a big snapshot is refused before its arrays are inflated; the
    owner's key restores it whole."""
    a = _session(network={"hidden_layers": [256] * 6})
    captured = snapshot.capture(a)
    captured.meta["resume_hash"] = hash_resume_key("the-key")
    store = MemoryStore()
    store.write_snapshot("sid", snapshot.encode(captured), {})
    decodes: list[bool] = []
    real = durable.decode

    def spying(data: bytes, meta_only: bool = False) -> snapshot.Decoded:
        decodes.append(meta_only)
        return real(data, meta_only)

    monkeypatch.setattr(durable, "decode", spying)
    keeper = durable.Durability(Settings(), store, lambda: [])
    with pytest.raises(durable.ResumeForbidden):
        asyncio.run(keeper.read("sid", a.limits, "a-wrong-key"))
    assert decodes == [True]  # the meta only
    assert snapshot.decode(snapshot.encode(captured), meta_only=True).arrays == {}
    state, token = asyncio.run(keeper.read("sid", a.limits, "the-key"))
    assert state.trainer.step == a.trainer.step and token == a.watch_token


def test_snapshot_bytes_are_npz_without_pickle():
    blob = snapshot.encode(snapshot.capture(_session()))
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        assert "meta" in npz.files and all(npz[k].dtype != object for k in npz.files)
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(b"not a snapshot")
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(snapshot.SnapshotError):
        snapshot.decode(buf.getvalue())


# --- save ------------------------------------------------------------------------------------


def test_save_stores_the_sessions_state_as_a_run(make_client):
    client = make_client()
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "configure", config={"network": {"hidden_layers": [5]}})
        until(ws, "config")
        trained(ws)
        model = model_of(ws)
        send(ws, "save", title="  my circle ")
        saved = until(ws, "saved")
        assert saved["url"] == f"/r/{saved['id']}" and saved["delete_token"]
        run = client.get(f"/runs/{saved['id']}").json()
        assert run["title"] == "my circle"
        assert run["config"]["network"]["hidden_layers"] == [5]
        assert len(run["data"]["points"]) == 400 and run["data"]["classes"] == 2
        assert same_weights(run["model"], model)
        r = client.post("/predict", json={"run": saved["id"], "points": [[0.0, 0.0]]})
        assert r.status_code == 200 and len(r.json()["probabilities"][0]) == 2
        r = client.delete(f"/runs/{saved['id']}", headers={"X-Delete-Token": saved["delete_token"]})
        assert r.status_code == 204


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        ({"max_runs_total": 1}, "store_full"),
        ({"max_runs_per_minute": 1}, "too_many_runs"),
        ({"max_run_bytes": 2000}, "run_too_large"),
    ],
)
def test_save_refusals_are_errors_and_the_session_goes_on(make_client, limits, code):
    client = make_client(**limits)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        if code != "run_too_large":
            send(ws, "save")
            until(ws, "saved")
        send(ws, "save", title="again")
        err = until(ws, "error")
        assert err["code"] == code and err["request_type"] == "save", err
        assert trained(ws, 5) == 5  # unharmed


def test_save_checks_the_title_and_watchers_may_not_save(make_client):
    client = make_client(max_run_title_chars=5)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "save", title="much too long")
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", "title")
        send(ws, "save", title=3)
        assert until(ws, "error")["field"] == "title"
        with client.websocket_connect(f"/ws/watch/{hello['watch_token']}") as watch:
            open_session(watch)
            for kind, extra in (("save", {}), ("load_run", {"id": "abc"})):
                send(watch, kind, **extra)
                err = until(watch, "error")
                assert err["code"] == "read_only" and err["request_type"] == kind


# --- load_run --------------------------------------------------------------------------------


def test_load_run_replaces_config_data_and_weights_paused(make_client):
    client = make_client()
    body = {
        "title": "three blobs",
        "config": {"network": {"hidden_layers": [3], "activation": "relu"}, "seed": 4},
        "data": {"points": [[-3, -3], [3, 3], [3, -3], [-3, 3], [0, 4]], "labels": [0, 1, 2, 0, 1]},
        "history": {"epoch": [0, 1], "train_loss": [1.1, 0.9]},
    }
    rid = client.post("/runs", json=body).json()["id"]
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "play")
        send(ws, "load_run", id=rid)
        seen = {}
        for _ in range(3000):
            msg = recv(ws)
            if isinstance(msg, dict) and msg["type"] in ("config", "data", "event"):
                seen.setdefault(msg.get("event") or msg["type"], msg)
            if "reset" in seen and "run_loaded" in seen:
                break
        assert seen["config"]["config"]["network"]["hidden_layers"] == [3]
        assert seen["data"]["classes"] == 3 and len(seen["data"]["points"]) == 5
        loaded = seen["run_loaded"]
        assert loaded["id"] == rid and loaded["title"] == "three blobs" and not loaded["running"]
        assert loaded["history"]["train_loss"] == [1.1, 0.9]
        assert seen["reset"]["step"] == 0 and seen["reset"]["running"] is False
        # Saving it again carries the history on; a run with a model loads its weights.
        send(ws, "step", steps=10)
        until(ws, "metrics", step=10)
        model = model_of(ws)
        send(ws, "save")
        again = client.get(f"/runs/{until(ws, 'saved')['id']}").json()
        assert again["history"] == body["history"] and same_weights(again["model"], model)
        send(ws, "reset")
        send(ws, "load_run", id=again["id"])
        until(ws, "event", event="run_loaded")
        assert same_weights(model_of(ws), model)


def test_load_run_unknown_id_is_an_error_and_changes_nothing(make_client):
    client = make_client()
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        trained(ws, 12)
        model = model_of(ws)
        for bad in ("nope-nope-no", "not an id!"):
            send(ws, "load_run", id=bad)
            err = until(ws, "error")
            assert (err["code"], err["field"]) == ("not_found", "id")
        send(ws, "load_run")
        assert until(ws, "error")["code"] == "invalid_message"
        assert same_weights(model_of(ws), model)


def test_predict_by_run_errors(make_client):
    client = make_client()
    no_model = {"config": {}, "data": {"points": [[0, 0], [1, 1]], "labels": [0, 1]}}
    rid = client.post("/runs", json=no_model).json()["id"]
    pts = {"points": [[0.0, 0.0]]}
    assert client.post("/predict", json={"run": "unknown-run1", **pts}).status_code == 404
    r = client.post("/predict", json={"run": rid, **pts})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "run"
    r = client.post("/predict", json={"run": rid, "session": "x", **pts})
    assert r.status_code == 422


# --- when snapshots are written ------------------------------------------------------------


def test_snapshot_cadence_training_pause_and_disconnect(make_client):
    client = make_client(snapshot_interval_seconds=0.5, session_grace_seconds=30)
    rec = Recorder(client.app.state.store)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        sid = hello["session_id"]
        send(ws, "configure", config={"speed": 200})
        until(ws, "config")
        send(ws, "play")
        t0 = time.monotonic()
        time.sleep(2.1)
        training = rec.of(sid)
        # One a ~0.5 s while it trains (a bounded rate: never one per step).
        assert 2 <= len(training) <= 6, training
        gaps = np.diff([t for t, _, _ in training])
        assert (gaps > 0.3).all(), gaps
        assert all(w[2]["running"] for w in training)
        send(ws, "pause")
        paused = until(ws, "event", event="paused")
        deadline = time.monotonic() + 5  # the pause's own write (it may beat the event)
        while rec.of(sid)[-1][2]["running"] and time.monotonic() < deadline:
            time.sleep(0.02)
        writes = rec.of(sid)
        assert writes[-1][2] == {**writes[-1][2], "step": paused["step"], "running": False}
        assert writes[-1][0] - t0 > 0
        n = len(writes) - 1
        time.sleep(1.2)  # paused and unchanged: nothing more is written
        assert len(rec.of(sid)) == n + 1
        send(ws, "set_weight", parameter="dense0.W", index=[0, 0], value=0.5)
        model_of(ws)
    assert len(rec.wait_for(sid, n + 2)) == n + 2  # the owner left


def test_resume_after_grace_from_the_snapshot(make_client):
    client = make_client(session_grace_seconds=0)
    registry = client.app.state.registry
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "configure", config={"optimizer": {"name": "rmsprop"}})
        step = trained(ws, 33)
        model = model_of(ws)
    for _ in range(200):
        if len(registry) == 0:
            break
        time.sleep(0.02)
    assert registry.get(hello["session_id"]) is None
    with client.websocket_connect(
        f"/ws?session={hello['session_id']}&resume_key={hello['resume_key']}"
    ) as ws:
        again, _ = open_session(ws)
        assert again["resumed"] is True and again["step"] == step
        assert again["session_id"] == hello["session_id"]
        assert again["watch_token"] == hello["watch_token"]
        assert again["config"]["optimizer"]["name"] == "rmsprop"
        assert same_weights(model_of(ws), model)
        with client.websocket_connect(f"/ws/watch/{hello['watch_token']}") as watch:
            assert recv(watch)["role"] == "watcher"
        send(ws, "step", steps=5)
        assert until(ws, "metrics", step=step + 5)["step"] == step + 5


def test_resume_respects_the_session_cap(make_client):
    client = make_client(session_grace_seconds=0, max_sessions=1)
    registry = client.app.state.registry
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        trained(ws, 3)
    while len(registry):
        time.sleep(0.02)
    with client.websocket_connect("/ws") as other:
        open_session(other)
        with client.websocket_connect(
            f"/ws?session={hello['session_id']}&resume_key={hello['resume_key']}"
        ) as ws:
            assert recv(ws)["code"] == "too_many_sessions"
            with pytest.raises(WebSocketDisconnect):
                recv(ws)


def test_a_damaged_snapshot_gives_a_fresh_session(make_client):
    client = make_client()
    client.app.state.store.write_snapshot("Damaged0123456789abcde", b"\x00garbage", {"step": 9})
    with client.websocket_connect("/ws?session=Damaged0123456789abcde") as ws:
        hello, _ = open_session(ws)
        assert hello["resumed"] is False and hello["session_id"] != "Damaged0123456789abcde"


def test_idle_end_forgets_the_snapshot_and_the_sweep_forgets_orphans(make_client):
    client = make_client(idle_timeout_seconds=1.0)
    store = client.app.state.store
    rec = Recorder(store)
    store.write_snapshot("orphan", b"x", {"step": 0})
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        trained(ws, 4)
        with pytest.raises(WebSocketDisconnect):
            for _ in range(10_000):
                recv(ws)  # closed when idle
    deadline = time.monotonic() + 10
    while {"orphan", hello["session_id"]} - set(rec.forgets) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.read_snapshot(hello["session_id"]) is None
    assert store.read_snapshot("orphan") is None
    with client.websocket_connect(
        f"/ws?session={hello['session_id']}&resume_key={hello['resume_key']}"
    ) as ws:
        assert open_session(ws)[0]["resumed"] is False


def _gone_from_memory(registry, sid: str) -> None:
    deadline = time.monotonic() + 10
    while registry.get(sid) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert registry.get(sid) is None


def test_a_session_that_never_trained_leaves_no_snapshot(make_client):
    """Open, configure a big net, close: the database is not touched by it (the churn of
    the classroom-safety issue cost ~5 MB a session before)."""
    client = make_client(session_grace_seconds=0, snapshot_interval_seconds=0.2)
    store = client.app.state.store
    rec = Recorder(store)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "configure", config={"network": {"hidden_layers": [64] * 4}})
        until(ws, "config")
        time.sleep(0.5)  # a few ticks of the snapshot clock
    sid = hello["session_id"]
    _gone_from_memory(client.app.state.registry, sid)
    time.sleep(0.3)
    assert rec.of(sid) == [] and store.read_snapshot(sid) is None
    with client.websocket_connect(f"/ws?session={sid}&resume_key={hello['resume_key']}") as ws:
        assert open_session(ws)[0]["resumed"] is False


def test_a_snapshot_carries_its_owner_and_a_reset_forgets_it(make_client):
    """The store's caps need the owner's address and whether it is connected (it becomes
    ownerless when the owner leaves: displaceable); a session re-initialised to step 0 has
    nothing worth a restart any more, so its older snapshot goes."""
    client = make_client(session_grace_seconds=30, snapshot_interval_seconds=0.2)
    store = client.app.state.store
    rec = Recorder(store)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        sid = hello["session_id"]
        trained(ws, 7)
        send(ws, "pause")
        until(ws, "event", event="paused")
        n = len(rec.wait_for(sid, 1))
        assert rec.quotas[sid][-1] == {"client": "testclient", "owned": True}
    writes = rec.wait_for(sid, n + 1)  # the owner left: written again, ownerless
    assert len(writes) == n + 1 and rec.quotas[sid][-1] == {"client": "testclient", "owned": False}
    with client.websocket_connect(f"/ws?session={sid}&resume_key={hello['resume_key']}") as ws:
        assert open_session(ws)[0]["step"] == 7
        send(ws, "reset")
        until(ws, "event", event="reset")
        deadline = time.monotonic() + 5
        while sid not in rec.forgets and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.read_snapshot(sid) is None


def test_shutdown_snapshots_every_session():
    client = TestClient(create_app(Settings(session_grace_seconds=60)))
    client.__enter__()
    rec = Recorder(client.app.state.store)
    ids = []
    for _ in range(3):
        with client.websocket_connect("/ws") as ws:
            hello, _ = open_session(ws)
            send(ws, "play")
            until(ws, "metrics")
            ids.append(hello["session_id"])
    steps = {sid: client.app.state.registry.get(sid).trainer.step for sid in ids}
    client.__exit__(None, None, None)
    for sid in ids:
        last = rec.of(sid)[-1][2]
        assert last["step"] >= steps[sid] and last["running"] is True
