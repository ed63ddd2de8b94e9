"""One class over two server processes: students' own streams, the teacher's wall, a SIGKILL.

    python bench/classroom_cluster.py    # ~2 minutes; --students 200 --seconds 8

Two ``python -m mlp_playground`` processes share one ``redis-server`` and one SQLite file
(docs/design.md, "The classroom" and "Several processes"). Figures:

- one process: the class's students all on process A, the teacher's wall on A (the
  baseline); each student's own stream in frames/s (median and 10th percentile) and A's CPU;
- two processes: a new class, half of its students on A, half on B, the wall on A: the same
  figures, their ratio to one process, the wall's bytes/s, thumbnails/s and rosters/s, and
  the CPU of A and B;
- SIGKILL of B: each of B's students reconnects to A with its session id and resume key
  (what nginx does when an upstream dies); the time until every one of them is back on the
  wall (in A's roster, connected), and until the first.

Students are websocket clients in this process: spiral (400 points), 8-8 tanh, Adam, a
paced speed (default 20 steps/s), their own stream at 16x16 asking for 15 frames/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
from _common import cpu_seconds, free_port, start_server, stop_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

CONFIG = {
    "dataset": {"name": "spiral", "n_points": 400, "noise": 0.1},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
}
OWN_FPS = 15


class Student:
    """One student's page: joins, trains, counts its frames; reconnects to ``failover``."""

    def __init__(self, base: str, code: str, name: str, speed: float) -> None:
        self.base, self.code, self.name, self.speed = base, code, name, speed
        self.frames = 0
        self.ready = asyncio.Event()
        self.session: str | None = None
        self.key: str | None = None
        self.failover: str | None = None
        self.back_at: float | None = None  # its first hello from the failover process
        self.resumed = False  # ... resumed its session (else: a new one, no snapshot yet)

    async def run(self) -> None:
        query = urlencode({"class": self.code, "name": self.name})
        url = f"{self.base}/ws?{query}"
        while True:
            try:
                async with connect(url, max_size=None, open_timeout=30) as ws:
                    await self._serve(ws)
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
                pass
            if self.failover is None:
                await asyncio.sleep(0.2)
                continue
            resume = urlencode({"session": self.session, "resume_key": self.key})
            url = f"{self.failover}/ws?{resume}&{query}"
            await asyncio.sleep(0.1)

    async def _serve(self, ws) -> None:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "hello":
            return
        self.session, self.key = hello["session_id"], hello["resume_key"]
        if self.failover is not None and self.back_at is None:
            self.back_at = time.monotonic()
            self.resumed = bool(hello.get("resumed"))
        for msg in (
            {"type": "subscribe", "grid_resolution": 16, "fps": OWN_FPS},
            {"type": "configure", "config": {**CONFIG, "speed": self.speed}},
            {"type": "play"},
        ):
            await ws.send(json.dumps(msg))
        self.ready.set()
        async for msg in ws:
            if isinstance(msg, bytes):
                self.frames += 1


async def wall_measure(wall, seconds: float, pids: list[int], students: list[Student]):
    """The teacher's bytes and messages, the processes' CPU, each student's frames/s."""
    counts = {"binary": 0.0, "text": 0.0, "thumbnails": 0.0, "rosters": 0.0}
    cpu0 = [cpu_seconds(p) for p in pids]
    f0 = [s.frames for s in students]
    t0 = time.monotonic()
    roster: dict = {}
    while (left := t0 + seconds - time.monotonic()) > 0:
        try:
            msg = await asyncio.wait_for(wall.recv(), left)
        except TimeoutError:
            break
        if isinstance(msg, bytes):
            counts["binary"] += len(msg)
            counts["thumbnails"] += msg[5] == 5
        else:
            counts["text"] += len(msg)
            parsed = json.loads(msg)
            if parsed["type"] == "roster":
                counts["rosters"] += 1
                roster = parsed
    elapsed = time.monotonic() - t0
    out = {k: v / elapsed for k, v in counts.items()}
    cpu = [100 * (cpu_seconds(p) - c) / elapsed for p, c in zip(pids, cpu0, strict=True)]
    fps = sorted((s.frames - f) / elapsed for s, f in zip(students, f0, strict=True))
    return out, cpu, fps, roster


def fps_line(fps: list[float]) -> str:
    p10 = fps[len(fps) // 10]
    return f"median {statistics.median(fps):.1f}, p10 {p10:.1f}, min {fps[0]:.1f} frames/s"


async def open_wall(base_ws: str, klass: dict):
    wall = await connect(
        f"{base_ws}/ws/class/{klass['code']}?token={klass['teacher_token']}", max_size=None
    )
    hello = json.loads(await wall.recv())
    assert hello["role"] == "teacher", hello
    return wall


async def a_class(urls: list[str], n: int, speed: float) -> tuple[dict, list[Student], list]:
    klass = httpx.post(urls[0] + "/classes").json()
    bases = [u.replace("http", "ws", 1) for u in urls]
    students = [Student(bases[i % len(bases)], klass["code"], f"s{i:03d}", speed) for i in range(n)]
    tasks = [asyncio.create_task(s.run()) for s in students]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in students)), 120)
    return klass, students, tasks


async def stop(tasks: list) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def phase_one(url: str, pid: int, n: int, seconds: float, speed: float) -> float:
    klass, students, tasks = await a_class([url], n, speed)
    wall = await open_wall(url.replace("http", "ws", 1), klass)
    await wall_measure(wall, 3, [pid], students)
    m, cpu, fps, roster = await wall_measure(wall, seconds, [pid], students)
    print(
        f"one process, {n} students: own streams {fps_line(fps)}; CPU A {cpu[0]:.0f} %; "
        f"wall {(m['binary'] + m['text']) / 1e3:.0f} KB/s, {m['thumbnails']:.0f} thumbnails/s,"
        f" roster of {len(roster.get('students', []))}",
        flush=True,
    )
    await wall.close()
    await stop(tasks)
    return statistics.median(fps)


async def phase_two(urls, pids, procs, n, seconds, speed, one: float) -> None:
    klass, students, tasks = await a_class(urls, n, speed)
    wall = await open_wall(urls[0].replace("http", "ws", 1), klass)
    await wall_measure(wall, 3, pids, students)
    m, cpu, fps, roster = await wall_measure(wall, seconds, pids, students)
    total = m["binary"] + m["text"]
    print(
        f"two processes, {n} students ({n - n // 2} on A, {n // 2} on B): own streams "
        f"{fps_line(fps)} (median {statistics.median(fps) / one:.2f}x one process); "
        f"CPU A {cpu[0]:.0f} %, B {cpu[1]:.0f} %",
        flush=True,
    )
    print(
        f"teacher's wall on A: {total / 1e3:.0f} KB/s ({m['binary'] / 1e3:.0f} KB/s "
        f"thumbnails, {m['text'] / 1e3:.1f} KB/s rosters), {m['thumbnails']:.0f} "
        f"thumbnails/s, {m['rosters']:.1f} rosters/s, roster of "
        f"{len(roster.get('students', []))}",
        flush=True,
    )
    on_b = [s for i, s in enumerate(students) if i % 2 == 1]
    for s in on_b:
        s.failover = urls[0].replace("http", "ws", 1)
    killed = time.monotonic()
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait(10)
    wanted = {s.name for s in on_b}
    first, back = None, set()
    while time.monotonic() - killed < 90:
        msg = json.loads(await asyncio.wait_for(_text(wall), 30))
        if msg["type"] != "roster":
            continue
        # Only those with a hello from A count: B's last roster part stays up to 3 s.
        moved = {s.session: s.name for s in on_b if s.back_at is not None}
        back = {moved[r["session_id"]] for r in msg["students"] if r["session_id"] in moved}
        if back and first is None:
            first = time.monotonic() - killed
        if back == wanted:
            last = max(s.back_at or 0.0 for s in on_b) - killed
            n_resumed = sum(s.resumed for s in on_b)
            print(
                f"SIGKILL of B: its {len(wanted)} students back on the wall (on A) after "
                f"{time.monotonic() - killed:.1f} s (the first after {first:.1f} s; the last "
                f"hello after {last:.1f} s); {n_resumed} resumed their session, "
                f"{len(wanted) - n_resumed} joined anew (no snapshot yet)",
                flush=True,
            )
            break
    else:
        print(f"SIGKILL of B: only {len(back)} of {len(wanted)} back after 90 s", flush=True)
    await wall.close()
    await stop(tasks)


async def _text(ws) -> str:
    while True:
        msg = await ws.recv()
        if isinstance(msg, str):
            return msg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--speed", type=float, default=20.0, help="steps/s per student")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlpg-bench-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    env = {
        "MLPG_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MLPG_REDIS_PREFIX": f"b{uuid.uuid4().hex[:6]}",
        "MLPG_DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}",
        "MLPG_MAX_SESSIONS": str(2 * args.students + 16),
        "MLPG_MAX_STUDENTS_PER_CLASS": str(args.students),
        "MLPG_MAX_STUDENTS_PER_CLIENT": str(2 * args.students),  # every student is 127.0.0.1
        "MLPG_SNAPSHOT_INTERVAL_SECONDS": "1",
        # The first class's sessions end when it does, not after a grace period.
        "MLPG_SESSION_GRACE_SECONDS": "0",
    }
    procs = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still stop the servers
    try:
        a, url_a = start_server(env)
        procs.append(a)
        one = asyncio.run(phase_one(url_a, a.pid, args.students, args.seconds, args.speed))
        b, url_b = start_server(env)
        procs.append(b)
        asyncio.run(
            phase_two(
                [url_a, url_b], [a.pid, b.pid], procs, args.students, args.seconds, args.speed, one
            )
        )
    finally:
        for proc in procs:
            stop_server(proc)
        redis.terminate()
        redis.wait(10)


if __name__ == "__main__":
    main()
