"""Store benchmark: saved runs through a real server on SQLite, and session snapshot writes.

    python bench/store.py                 # about half a minute; prints one line per figure
    python bench/store.py --saves 100 --snapshot-url postgresql+psycopg://...

Figures (issue 11):
- ``POST /runs`` of a 5,000-point run with the model document of a 2-8-8-2 net and 50
  epochs of history, against a server on a fresh SQLite file: p50/p95 over ``--saves``;
- database size per saved run: growth of the file (after a WAL checkpoint) / runs, next to
  the run's JSON size and its compressed size;
- snapshot write cost: 30 sessions each writing a ~150 KB snapshot every 5 s, as the live
  layer will: CPU ms of this process per session per second of wall time, and the wall
  time of one write (p50/p95).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from _common import start_server, stop_server

from mlp_playground.store.base import ZLIB_LEVEL
from mlp_playground.store.sql import SqlStore

N_POINTS = 5_000
SESSIONS = 30
SNAPSHOT_PERIOD = 5.0
SNAPSHOT_BYTES = 150_000


def make_run(url: str) -> dict:
    """A 5,000-point run with a real 8-8 model document and 50 epochs of history."""
    rng = np.random.default_rng(0)
    points = rng.uniform(-6, 6, (N_POINTS, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(int)
    body = {
        "data": {"points": points[:400].tolist(), "labels": labels[:400].tolist()},
        "network": {"hidden_layers": [8, 8]},
        "epochs": 50,
    }
    r = httpx.post(url + "/train", json=body, timeout=120)
    r.raise_for_status()
    trained = r.json()
    return {
        "title": "bench: 5,000 points, 8-8",
        "config": {"network": {"hidden_layers": [8, 8]}, "epochs": 50},
        "data": {"points": points.tolist(), "labels": labels.tolist()},
        "model": trained["model"],
        "history": trained["history"],
    }


def file_size(db: Path) -> int:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db.stat().st_size + sum(
        p.stat().st_size for p in (db.with_name(db.name + "-wal"),) if p.exists()
    )


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_saves(tmp: Path, saves: int) -> None:
    db = tmp / "runs.db"
    env = {
        "MLPG_DATABASE_URL": f"sqlite:///{db}",
        "MLPG_MAX_RUNS_PER_MINUTE": str(saves * 10),
    }
    proc, url = start_server(env=env)
    try:
        run = make_run(url)
        text = json.dumps(run).encode()
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/runs", content=text, headers={"content-type": "application/json"})
            before = file_size(db)
            times = []
            for _ in range(saves):
                t0 = time.perf_counter()
                r = client.post("/runs", content=text, headers={"content-type": "application/json"})
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text
            t0 = time.perf_counter()
            got = client.get(r.json()["url"].replace("/r/", "/runs/"))
            get_ms = (time.perf_counter() - t0) * 1000
            assert got.status_code == 200
            canonical = json.dumps(got.json(), separators=(",", ":")).encode()
    finally:
        stop_server(proc)
    per_run = (file_size(db) - before) / saves
    print(f"POST /runs, {N_POINTS} points + 8-8 model + 50 epochs, body {len(text) / 1e3:.0f} KB:")
    print(
        f"  p50 {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms, "
        f"max {max(times):.1f} ms over {saves} saves; GET /runs/{{id}} {get_ms:.1f} ms"
    )
    print(
        f"  database growth per run: {per_run / 1e3:.0f} KB "
        f"(canonical JSON {len(canonical) / 1e3:.0f} KB, zlib "
        f"{len(zlib.compress(canonical, ZLIB_LEVEL)) / 1e3:.0f} KB)"
    )


def bench_snapshots(url: str, rounds: int) -> None:
    rng = np.random.default_rng(1)
    blobs = [rng.bytes(SNAPSHOT_BYTES) for _ in range(SESSIONS)]
    walls: list[float] = []
    with SqlStore(url) as store:
        for i, blob in enumerate(blobs):  # the first write of each session inserts its row
            store.write_snapshot(f"session{i}", blob, {"step": 0})
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for r in range(rounds):
            for i, blob in enumerate(blobs):
                t0 = time.perf_counter()
                store.write_snapshot(f"session{i}", blob, {"step": r + 1, "owner": "x" * 32})
                walls.append((time.perf_counter() - t0) * 1000)
        cpu = time.process_time() - cpu0
        elapsed = time.perf_counter() - wall0
        for i in range(SESSIONS):
            store.forget_snapshot(f"session{i}")
    writes = rounds * SESSIONS
    per_write_ms = cpu * 1000 / writes
    print(
        f"write_snapshot, {SNAPSHOT_BYTES / 1e3:.0f} KB, {SESSIONS} sessions every "
        f"{SNAPSHOT_PERIOD:.0f} s ({url.split(':')[0]}):"
    )
    print(
        f"  {per_write_ms:.2f} CPU ms per write -> {per_write_ms / SNAPSHOT_PERIOD:.3f} CPU ms "
        f"per session per second ({per_write_ms * SESSIONS / SNAPSHOT_PERIOD:.1f} ms/s for all "
        f"{SESSIONS}, {100 * per_write_ms * SESSIONS / SNAPSHOT_PERIOD / 1000:.2f} % of a core)"
    )
    print(
        f"  wall per write p50 {statistics.median(walls):.2f} ms, p95 {pct(walls, 95):.2f} ms "
        f"({writes} writes in {elapsed:.1f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saves", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10, help="snapshot rounds of 30 writes")
    ap.add_argument("--snapshot-url", default="", help="default: a temporary SQLite file")
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="mlpg-bench-store-") as tmp:
        bench_saves(Path(tmp), args.saves)
        bench_snapshots(args.snapshot_url or f"sqlite:///{Path(tmp) / 'snap.db'}", args.rounds)


if __name__ == "__main__":
    main()
