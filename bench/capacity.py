"""Capacity as ratios that hold on any machine (issue 22): one process against ``--workers 2``.

    python bench/capacity.py                  # a few minutes; one table at the end
    python bench/capacity.py --seconds 4      # shorter windows, noisier figures

In one run, on the same machine and within minutes of each other:

1. headless costs, measured here (no server): the cost of one optimiser step of the load's
   net, and of one frame (the 100x100 grid's probabilities, the frame's bytes, their
   deflate at level 1 as the websocket sends them);
2. for one server process and for ``--workers 2`` (Redis, an SQLite file), the largest N at
   which every session gets >= 10 frames/s (``bench/workers.py``'s search: 25 % steps, then
   bisection to within 4 sessions; each probe is a fresh server and one window);
3. at that N: the fairness (slowest session's steps / fastest one's), the spread (sessions
   in each worker), the CPU of the server processes and of the load client;
4. the bound ``cores / (fps x frame cost + pace x step cost)`` with fps = 10 and the pace
   asked (cores: 1 for one process, 2 for two workers; at most the machine's), and the
   efficiency N / bound; also the same bound for the CPU the server processes really got
   (on a machine shared with other work, they get less than their cores).

Each session: a 2-8-8-2 tanh net on spiral data (400 points, sgd), 100x100 frames asked at
30 frames/s, the page's default pace (50 steps/s; ``--pace``). The load client runs on
this machine: on a 2-core machine it takes its share of the cores, which the table says.
Goals (reported, never asserted): ``--workers 2`` >= 1.3 x one process on 2 cores (1.7 x
with the client elsewhere), sessions per server core on two workers >= 85 % of one
process's, efficiency >= 60 %, fairness >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import workers as wb
from _common import RedisServer

from mlp_playground.data.grid import grid_points
from mlp_playground.live.frames import encode_decision_frame
from mlp_playground.live.outgoing import dumps, metrics_message
from mlp_playground.live.registry import limit_blas_threads
from mlp_playground.live.state import LIVE_DEFAULTS
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

HELD_FPS = 10.0
GRID = 100


def best_of_three(work, seconds: float) -> float:
    """CPU seconds per call of ``work()``, best of three rounds: CPU time, not wall time, so
    that other work on a shared machine does not count (the bound is in cores)."""
    best = float("inf")
    for _ in range(3):
        start, cpu0, calls = time.perf_counter(), time.process_time(), 0
        while time.perf_counter() - start < seconds / 3:
            work()
            calls += 1
        best = min(best, (time.process_time() - cpu0) / calls)
    return best


def headless_costs(seconds: float = 1.5) -> tuple[float, float]:
    """(CPU seconds per step, per frame) of the load's net, in this process. A frame is
    what the server does for one: the evaluation behind its metrics message, the grid
    pass in float32 on the cached grid inputs, the frame's bytes, their deflate at level
    1 (as the websocket sends them) and the metrics' JSON."""
    limit_blas_threads()  # as the server does
    net = {k: v for k, v in wb.NET.items() if k != "speed"}
    trainer = Trainer(TrainConfig.from_dict({**LIVE_DEFAULTS, **net}), record_history=False)
    trainer.run_steps(200)
    step = best_of_three(lambda: trainer.run_steps(50), seconds) / 50
    inputs = trainer.feed.inputs(grid_points(trainer.data.domain, GRID))

    def frame() -> None:
        metrics = dumps(metrics_message(trainer, trainer.evaluate(), 50.0, True))
        proba, _ = trainer.model.predict_proba_and_hidden(inputs, dtype=np.float32, hidden=False)
        zlib.compress(encode_decision_frame(trainer.step, GRID, proba), 1)
        zlib.compress(metrics.encode(), 1)

    return step, best_of_three(frame, seconds)


def measure(workers: int, start: int, args, redis, tmp: Path) -> dict:
    n, r = wb.find_max(workers, start, args, redis, tmp)
    out: dict = {"workers": workers, "n": n}
    if r is None:
        return out
    steps = r.owner_steps
    out |= {
        "worst_fps": min(r.owner_fps),
        "median_fps": statistics.median(r.owner_fps),
        "frames_per_second": sum(r.owner_fps),  # delivered, all sessions together
        "fairness": min(steps) / max(steps) if steps and max(steps) else float("nan"),
        "spread": r.placement,
        "server_cpu": r.server_cpu,
        "client_cpu": sum(r.client_cpu),
        "redis_cpu": r.redis_cpu,
        "loadavg": r.loadavg,
    }
    return out


def bound(workers: int, pace: float, step: float, frame: float) -> float:
    cores = min(workers, os.cpu_count() or 1)
    return cores / (HELD_FPS * frame + pace * step)


def table(rows: list[dict], pace: float, step: float, frame: float) -> None:
    print(f"\nheadless: {step * 1e6:.0f} us per step, {frame * 1e3:.2f} ms per frame; "
          f"pace {pace:g} steps/s, >= {HELD_FPS:g} frames/s")  # fmt: skip
    print("| server | largest N at >= 10 fps | fairness | spread | server CPU | client CPU "
          "| sessions per server core | bound (cores) | efficiency | bound (CPU used) "
          "| efficiency |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    per_session = HELD_FPS * frame + pace * step  # CPU seconds per second, headless
    for row in rows:
        b = bound(row["workers"], pace, step, frame)
        row["bound"], row["efficiency"] = b, row["n"] / b
        cpu = row.get("server_cpu", float("nan"))
        used = cpu / 100 / per_session  # the bound at the CPU the server really got
        row["bound_used"], row["efficiency_used"] = used, row["n"] / used if used else 0.0
        row["per_core"] = row["n"] / (cpu / 100) if cpu == cpu and cpu > 0 else float("nan")
        name = "1 process" if row["workers"] == 1 else f"--workers {row['workers']}"
        spread = " + ".join(map(str, row.get("spread", []))) or "-"
        print(f"| {name} | {row['n']} | {row.get('fairness', float('nan')):.2f} | {spread} "
              f"| {cpu:.0f}% | {row.get('client_cpu', float('nan')):.0f}% "
              f"| {row['per_core']:.1f} | {b:.0f} | {100 * row['efficiency']:.0f}% "
              f"| {used:.0f} | {100 * row['efficiency_used']:.0f}% |")  # fmt: skip
    for row in rows:
        if "median_fps" in row:
            busy = row["frames_per_second"] * frame + row["n"] * pace * step
            print(f"{row['workers']} worker(s) at N = {row['n']}: frames/s per session median "
                  f"{row['median_fps']:.1f}, worst {row['worst_fps']:.1f}; "
                  f"{row['frames_per_second']:.0f} frames/s in all, which headless would "
                  f"cost {100 * busy:.0f}% of a core")  # fmt: skip
    if len(rows) == 2 and rows[0]["n"]:
        one, two = rows
        print(f"--workers 2 / 1 process: {two['n'] / one['n']:.2f} x sessions; sessions per "
              f"server core {100 * two['per_core'] / one['per_core']:.0f}% of one process's")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, loadavg {Path('/proc/loadavg').read_text().strip()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="each probe's window")
    ap.add_argument("--pace", type=float, default=50.0, help="steps/s of each session")
    ap.add_argument("--start", default="30,45", help="first N tried: one process,two workers")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--client-procs", type=int, default=1)
    ap.add_argument("--retries", type=int, default=1, help="runs again of a failed probe")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON too")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    starts = dict(zip(counts, (int(s) for s in args.start.split(",")), strict=False))
    # What bench/workers.py's probes read from their arguments.
    args.no_compression, args.threads, args.py_spy, args.gil = False, False, None, False
    args.watcher_gap = 0.0
    step, frame = headless_costs()
    print(f"headless: {step * 1e6:.0f} us per step, {frame * 1e3:.2f} ms per frame", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlpg-capacity-") as tmp_name:
        tmp = Path(tmp_name)
        redis = RedisServer(tmp) if max(counts) > 1 else None
        try:
            for w in counts:
                rows.append(measure(w, starts.get(w, 30 * w), args, redis, tmp))
        finally:
            if redis is not None:
                redis.stop()
    table(rows, args.pace, step, frame)
    if args.json:
        figures = {"step_seconds": step, "frame_seconds": frame, "rows": rows}
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
