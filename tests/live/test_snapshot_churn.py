"""The snapshot churn attack on a real server and an SQLite file, from 127.0.0.2: sessions
opened, configured and closed in a loop leave nothing in the database; trained ones stay
within the attacker's share (``max_snapshot_bytes_per_client``), displacing only its own
ownerless snapshots; a victim on 127.0.0.1, whose session left memory and lives only as a
snapshot, resumes it afterwards at the step it left."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from mlp_playground.store.base import client_key
from tests.support.attack import running_server, ws_from

pytestmark = pytest.mark.timeout(240)

SHARE = 600_000  # bytes: a few snapshots of the net below (~150 KB each with Adam)
NET = {"network": {"hidden_layers": [64, 64, 64]}, "optimizer": {"name": "adam"}}


def until(ws, kind: str, timeout: float = 60.0, min_step: int = 0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        data = json.loads(msg) if isinstance(msg, str) else {}
        if data.get("type") == kind and data.get("step", 0) >= min_step:
            return data


def usage(db: Path) -> dict[str | None, int]:
    """Stored snapshot bytes by client key, read as another process would."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT client, SUM(size_bytes) FROM snapshots GROUP BY client")
        return {client: int(total) for client, total in rows}


def churn(server, seconds: float, train: bool) -> int:
    """Open, configure (and train), close, again, from 127.0.0.2; sessions opened."""
    opened, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        with ws_from("127.0.0.2", server.ws_url + "/ws") as ws:
            if json.loads(ws.recv(timeout=60)).get("type") != "hello":
                time.sleep(0.05)  # over its share of sessions: refused, try again
                continue
            opened += 1
            ws.send(json.dumps({"type": "configure", "config": NET}))
            if train:
                ws.send(json.dumps({"type": "step", "steps": 3}))
                until(ws, "metrics", min_step=3)
            else:
                until(ws, "config")
    return opened


def test_churn_fills_only_the_attackers_share_and_the_victim_resumes(tmp_path):
    db = tmp_path / "store.db"
    env = {
        "MLPG_DATABASE_URL": f"sqlite:///{db}",
        "MLPG_SESSION_GRACE_SECONDS": "0.5",
        "MLPG_MAX_SNAPSHOT_BYTES_PER_CLIENT": str(SHARE),
    }
    with running_server(env) as server:
        with ws_from("127.0.0.1", server.ws_url + "/ws") as ws:
            hello = json.loads(ws.recv(timeout=60))
            ws.send(json.dumps({"type": "configure", "config": NET}))
            ws.send(json.dumps({"type": "step", "steps": 25}))
            step = until(ws, "metrics", min_step=25)["step"]
        time.sleep(1.5)  # out of memory after its grace: only the snapshot is left
        victim = client_key("127.0.0.1")
        assert usage(db).get(victim, 0) > 0

        assert churn(server, 3.0, train=False) >= 5
        time.sleep(1.5)
        assert set(usage(db)) == {victim}  # configured, never trained: nothing stored

        assert churn(server, 5.0, train=True) >= 5
        time.sleep(1.5)  # the last ones leave memory, their final snapshots are written
        attacker = usage(db).get(client_key("127.0.0.2"), 0)
        assert 0 < attacker <= SHARE

        url = f"{server.ws_url}/ws?session={hello['session_id']}&resume_key={hello['resume_key']}"
        with ws_from("127.0.0.1", url) as ws:
            again = json.loads(ws.recv(timeout=60))
            assert again["resumed"] is True and again["step"] == step
