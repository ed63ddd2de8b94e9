"""Saves large runs and rewrites a snapshot in a loop until killed (tests/store/test_store_kill.py).

    python -m tests.support.store_kill_worker sqlite:///path.db N_POINTS

Prints ``saved <id>`` after each committed save (flushed), so the test knows which runs
must survive the kill.
"""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from mlp_playground.store.base import StoreLimits
from mlp_playground.store.sql import SqlStore


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    store = SqlStore(url, StoreLimits(max_runs_per_minute=10**9, max_runs_total=10**9))
    rng = np.random.default_rng(os.getpid())
    print("ready", flush=True)
    i = 0
    while True:
        run = {
            "title": f"run {i}",
            "config": {"seed": i},
            "data": {
                "points": rng.uniform(-6, 6, (n, 2)).tolist(),
                "labels": rng.integers(0, 3, n).tolist(),
                "classes": 3,
            },
            "model": None,
            "history": {"train_loss": rng.uniform(0, 1, 2000).tolist()},
        }
        saved = store.save_run(run, "worker")
        print(f"saved {saved.id}", flush=True)
        blob = rng.bytes(150_000)
        store.write_snapshot("sess", blob, {"step": i, "sha": hashlib.sha256(blob).hexdigest()})
        i += 1


if __name__ == "__main__":
    main()
