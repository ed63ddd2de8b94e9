"""Classroom benchmark: a real server, a class of students training, one teacher page.

    python bench/classroom.py       # ~1.5 minutes; --students 100 --seconds 8 --rounds 2

Figures:
- bytes/s the teacher's ``/ws/class/{code}`` stream receives at the default thumbnails
  (32x32 at 2 frames/s per student) with every student training: thumbnails/s, roster
  messages/s, binary and text bytes/s [issue 13: well under 1 MB/s for 100 students];
- the server's CPU (% of one core, from /proc) in three phases: no teacher (no thumbnail is
  rendered), a teacher at the minimal rate (0.2 thumbnails/s per student), a teacher at the
  default rate; the difference is what the thumbnails cost;
- one thumbnail's render + encode time in this process (8-8 tanh, 32x32), best of 2000.

Students are websocket clients in this process: spiral, 8-8 tanh, a paced speed (default
20 steps/s each, so the training thread is not saturated and a thumbnail's cost shows up
as CPU rather than as fewer steps), their own stream at 16x16, 5 frames/s (a student page
draws more; that cost is the same in every phase).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from _common import start_server, stop_server
from websockets.asyncio.client import connect

CLOCK = os.sysconf("SC_CLK_TCK")
STUDENT_FRAMES = [0]  # frames the students received, all together
STUDENT_CONFIG = {
    "dataset": {"name": "spiral", "n_points": 400, "noise": 0.1},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


async def student(ws_base: str, code: str, i: int, speed: float, ready: asyncio.Event) -> None:
    query = urlencode({"class": code, "name": f"student {i:03d}"})
    async with connect(f"{ws_base}/ws?{query}", max_size=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["class"] == code, hello
        send = [
            {"type": "subscribe", "grid_resolution": 16, "fps": 5},
            {"type": "configure", "config": {**STUDENT_CONFIG, "speed": speed}},
            {"type": "play"},
        ]
        for msg in send:
            await ws.send(json.dumps(msg))
        ready.set()
        async for msg in ws:  # read and drop: a page that keeps up
            if isinstance(msg, bytes):
                STUDENT_FRAMES[0] += 1


async def measure(teacher, seconds: float, pid: int) -> dict[str, float]:
    """Bytes and messages the teacher receives, and the server's CPU, over ``seconds``."""
    counts = {"binary": 0, "text": 0, "thumbnails": 0, "rosters": 0}
    cpu0, t0, f0 = cpu_seconds(pid), time.monotonic(), STUDENT_FRAMES[0]
    deadline = t0 + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await asyncio.wait_for(teacher.recv(), left)
        except TimeoutError:
            break
        if isinstance(msg, bytes):
            counts["binary"] += len(msg)
            counts["thumbnails"] += msg[5] == 5
        else:
            counts["text"] += len(msg.encode())
            counts["rosters"] += '"type":"roster"' in msg
    elapsed = time.monotonic() - t0
    out = {k: v / elapsed for k, v in counts.items()}
    out["cpu"] = 100 * (cpu_seconds(pid) - cpu0) / elapsed
    out["student_frames"] = (STUDENT_FRAMES[0] - f0) / elapsed
    return out


async def no_teacher(seconds: float, pid: int, n: int) -> str:
    cpu0, t0, f0 = cpu_seconds(pid), time.monotonic(), STUDENT_FRAMES[0]
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = 100 * (cpu_seconds(pid) - cpu0) / elapsed
    fps = (STUDENT_FRAMES[0] - f0) / elapsed / n
    return f"no teacher: server CPU {cpu:.0f} %, each student's own stream {fps:.1f} frames/s"


def line(label: str, m: dict[str, float]) -> str:
    total = m["binary"] + m["text"]
    return (
        f"{label}: {total / 1e3:.0f} KB/s to the teacher ({m['binary'] / 1e3:.0f} KB/s "
        f"thumbnails, {m['text'] / 1e3:.1f} KB/s rosters), {m['thumbnails']:.0f} thumbnails/s, "
        f"{m['rosters']:.1f} rosters/s; server CPU {m['cpu']:.0f} %; students' own frames "
        f"{m['student_frames']:.0f}/s in all"
    )


async def run(url: str, pid: int, n: int, seconds: float, speed: float, rounds: int) -> None:
    ws_base = url.replace("http", "ws", 1)
    klass = httpx.post(url + "/classes").json()
    code, token = klass["code"], klass["teacher_token"]
    readies = [asyncio.Event() for _ in range(n)]
    tasks = [
        asyncio.create_task(student(ws_base, code, i, speed, r)) for i, r in enumerate(readies)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(3)  # every student training
    print(f"{n} students training (spiral, 8-8 tanh, {speed:g} steps/s each)", flush=True)
    print(await no_teacher(seconds, pid, n), flush=True)
    async with connect(f"{ws_base}/ws/class/{code}?token={token}", max_size=None) as teacher:
        hello = json.loads(await teacher.recv())
        assert hello["role"] == "teacher", hello
        results: dict[float, list[dict[str, float]]] = {0.2: [], 2.0: []}
        for _ in range(rounds):  # alternated, so a neighbour's load hits both alike
            for fps in (0.2, 2.0):
                await teacher.send(json.dumps({"type": "subscribe", "thumbnail_fps": fps}))
                await measure(teacher, 2, pid)
                results[fps].append(await measure(teacher, seconds, pid))
        minimal, default = (
            {k: sum(m[k] for m in results[f]) / rounds for k in results[f][0]} for f in (0.2, 2.0)
        )
        print(line("teacher, 0.2 thumbnails/s per student", minimal), flush=True)
        print(line("teacher, default 32x32 at 2/s per student", default), flush=True)
        roster = default["text"] / max(default["rosters"], 1e-9)
        print(f"one roster of {n} students: {roster / 1e3:.1f} KB", flush=True)
        extra = default["cpu"] - minimal["cpu"]
        per = extra / max(default["thumbnails"] - minimal["thumbnails"], 1e-9) * 10
        print(
            f"thumbnails cost: {extra:+.0f} % of a core between the two rates "
            f"(~{per:.2f} ms of CPU per thumbnail)",
            flush=True,
        )
    await asyncio.sleep(1)
    print("after the teacher left, " + await no_teacher(seconds, pid, n), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def render_cost() -> None:
    """One thumbnail's grid pass + encoding, in-process (what the frame thread adds)."""
    import numpy as np

    from mlp_playground.data.grid import grid_points
    from mlp_playground.live import frames
    from mlp_playground.live.registry import limit_blas_threads
    from mlp_playground.live.state import LIVE_DEFAULTS
    from mlp_playground.training.config.train_config import TrainConfig
    from mlp_playground.training.trainer import Trainer

    limit_blas_threads()
    trainer = Trainer(TrainConfig.from_dict({**LIVE_DEFAULTS, **STUDENT_CONFIG}))
    model = trainer.model.copy()
    X = trainer.inputs(grid_points(trainer.data.domain, 32))
    best = float("inf")
    for _ in range(2000):
        t0 = time.perf_counter()
        proba = model.predict_proba(X, dtype=np.float32)
        frames.encode_thumbnail_frame(1, 32, "x" * 22, proba)
        best = min(best, time.perf_counter() - t0)
    print(f"one 32x32 thumbnail (8-8 tanh): {best * 1e6:.0f} µs render + encode", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--speed", type=float, default=20.0, help="steps/s per student")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two rates")
    args = parser.parse_args()
    render_cost()
    env = {
        "MLPG_MAX_SESSIONS": str(args.students + 20),
        "MLPG_MAX_STUDENTS_PER_CLASS": str(max(200, args.students)),
    }
    proc, url = start_server(env)
    try:
        asyncio.run(run(url, proc.pid, args.students, args.seconds, args.speed, args.rounds))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
