"""Where one server process's time goes with N live sessions: per-thread CPU, fps, fairness.

    python bench/profile_loop.py --sessions 30 60 100 --seconds 10
    python bench/profile_loop.py --sessions 60 --seconds 10 --py-spy    # + top functions
    python bench/profile_loop.py --sessions 60 --seconds 10 --py-spy gil   # who holds the GIL

For each N it starts its own server (one process, in-memory store; ``--cluster``: with a
private redis-server and an SQLite file, as each ``--workers`` process has them) and one
load client in this process: N owners, each the 2-8-8-2 tanh net on spiral data of
``tests.support.load`` at the default pace ("max"; ``--speed 50`` for the page's), with a
100x100 decision grid subscribed at 30 frames/s (no watchers, no REST traffic, so the figures are the live
path's own). Over the measured window it prints, per session, decision frames a second
(median, worst) and optimiser steps (read from the frames' headers; fairness = fewest /
most), the CPU each server thread used (event loop, training worker, frame thread; from
``/proc/<pid>/task/*/stat``) and the client's own, and each thread's CPU per frame
delivered (steadier than the shares when other programs take cores). ``--py-spy`` also
samples the server with ``py-spy record --threads`` during the window and prints each
thread's busiest functions (self and total samples); ``--py-spy gil`` samples only the
thread holding the GIL, and says how much of the time each one held it.

The client shares the machine's cores with the server, so absolute figures are a floor and
noisy: compare two variants in the same short window, never across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from _common import RedisServer, start_server, stop_server, thread_cpu
from websockets.asyncio.client import connect

from tests.support.load import NET

MAX_SESSIONS = 300
SPY_RATE = 100  # py-spy samples a second


class Owner:
    """One owner websocket: counts decision frames and remembers their steps."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.frames = 0
        self.first_step: int | None = None
        self.last_step = 0
        self.counting = False
        self.errors: list[str] = []
        self.closing = False
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, str) and '"error"' in message:
                    self.errors.append(json.loads(message).get("code", "?"))
                if not self.counting or not isinstance(message, bytes) or len(message) < 16:
                    continue
                if message[5] == 1:  # a decision frame: its header carries the step
                    step = struct.unpack_from("<I", message, 8)[0]
                    if self.first_step is None:
                        self.first_step = step
                    self.last_step = step
                    self.frames += 1
        except Exception as exc:  # closed at the end (or by the server): the counts stand
            if not self.closing:
                self.errors.append(f"closed: {exc}")

    @property
    def steps(self) -> int:
        return self.last_step - (self.first_step or 0)


async def _open(url: str, speed: float | str) -> Owner:
    ws = await connect("ws" + url[4:] + "/ws", max_size=None, compression="deflate")
    hello = json.loads(await ws.recv())
    if hello.get("type") != "hello":
        raise SystemExit(f"no session: {hello}")
    await ws.send(json.dumps({"type": "configure", "config": {**NET, "speed": speed}}))
    await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 100, "fps": 30}))
    await ws.send(json.dumps({"type": "play"}))
    return Owner(ws)


def _thread_names(pid: int) -> dict[int, str]:
    """Thread id -> role: the main thread runs the event loop; the training worker is the
    one thread at a higher nice value (live/scheduler.py lowers it); the frame thread is
    then the other busy one (named after the first sample)."""
    names = {pid: "event loop"}
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        if tid != pid and int(fields[16]) > 0:
            names[tid] = "worker"
    return names


def _py_spy(pid: int, seconds: float, gil: bool) -> tuple[subprocess.Popen, Path] | None:
    """``py-spy record`` of the server's threads (``gil``: only the thread holding the GIL,
    so the samples per second say how busy the GIL is)."""
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    args = ["py-spy", "record", "--pid", str(pid), "--threads", "--format", "raw",
            "--rate", str(SPY_RATE), "--duration", str(int(seconds)), "--output", str(out),
            "--nonblocking", *(["--gil"] if gil else []),
            *(["--native"] if os.environ.get("PROFILE_NATIVE") else [])]  # fmt: skip
    try:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        print("  py-spy not found: pip install py-spy")
        return None
    return proc, out


def _print_profile(path: Path, top: int, gil_seconds: float | None) -> None:
    """Each thread's busiest functions from py-spy's raw (collapsed stacks) output; with
    ``gil_seconds`` (a ``--gil`` record that long), each thread's share of the GIL."""
    own: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    total: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread, calls = (
            frames[0],
            [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1] for f in frames[1:]],
        )
        if not calls:
            continue
        own[thread][calls[-1]] += int(count)
        for call in set(calls):
            total[thread][call] += int(count)
    for thread, counter in sorted(own.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(counter.values())
        held = f", GIL held {100 * n / (SPY_RATE * gil_seconds):.0f}%" if gil_seconds else ""
        print(f"  py-spy {thread}: {n} samples{held}; self:")
        for call, k in counter.most_common(top):
            print(f"    {100 * k / n:5.1f}%  {call}")
        print("   total:")
        for call, k in total[thread].most_common(top):
            print(f"    {100 * k / n:5.1f}%  {call}")


async def _measure(
    url: str, pid: int, n: int, seconds: float, spy: str | None, speed: float | str
) -> dict:
    owners = [await _open(url, speed) for _ in range(n)]
    await asyncio.sleep(3.0)  # warm-up: every session playing, grids cached
    names = _thread_names(pid)
    before, client0, t0 = thread_cpu(pid), resource.getrusage(resource.RUSAGE_SELF), time.time()
    for o in owners:
        o.counting = True
    profiler = _py_spy(pid, seconds, spy == "gil") if spy else None
    await asyncio.sleep(seconds)
    for o in owners:
        o.counting = False
    elapsed = time.time() - t0
    after, client1 = thread_cpu(pid), resource.getrusage(resource.RUSAGE_SELF)
    for o in owners:
        o.closing = True
    for o in owners:
        await o.ws.close()
        o.task.cancel()
    used = {tid: (after.get(tid, 0.0) - before.get(tid, 0.0)) / elapsed for tid in after}
    busy = sorted((t for t in used if t not in names), key=lambda t: -used[t])
    if busy:
        names[busy[0]] = "frames"
    cpu: dict[str, float] = collections.Counter()
    for tid, share in used.items():
        cpu[names.get(tid, "other")] += share
    client = (client1.ru_utime + client1.ru_stime - client0.ru_utime - client0.ru_stime) / elapsed
    if profiler is not None:
        profiler[0].wait(timeout=seconds + 30)
    return {
        "fps": [o.frames / elapsed for o in owners],
        "steps": [o.steps for o in owners],
        "errors": [e for o in owners for e in o.errors],
        "cpu": dict(cpu),
        "client": client,
        "profile": profiler[1] if profiler else None,
    }


def run(
    n: int,
    seconds: float,
    spy: str | None,
    top: int,
    speed: float | str = "max",
    redis: RedisServer | None = None,
) -> None:
    env = {
        # Not 0: a new session waits for the class registry's store lookup before its
        # owner is attached, and a reaper pass meanwhile dropped it with no grace at all.
        "MLPG_SESSION_GRACE_SECONDS": "30",
        "MLPG_MAX_SESSIONS": str(max(64, n + 8)),
        "MLPG_MAX_SESSIONS_PER_CLIENT": str(max(64, n + 8)),  # all from loopback
    }
    if redis is not None:  # the cluster's own cost: Redis and an SQLite file, one process
        env |= redis.server_env(Path(tempfile.mkdtemp()))
    proc, url = start_server(env)
    try:
        r = asyncio.run(_measure(url, proc.pid, n, seconds, spy, speed))
    finally:
        stop_server(proc)
    fps, steps, cpu = r["fps"], r["steps"], r["cpu"]
    fair = min(steps) / max(steps) if steps and max(steps) > 0 else float("nan")
    print(
        f"sessions={n} seconds={seconds:g}: fps per session median {statistics.median(fps):.1f}"
        f" tenth {sorted(fps)[len(fps) // 10]:.1f} worst {min(fps):.1f}; steps/s per session median "
        f"{statistics.median(steps) / seconds:.0f}, fairness (min/max steps) {fair:.2f}"
    )
    threads = ", ".join(
        f"{k} {100 * v:.0f}%" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])
    )
    print(
        f"  server CPU {100 * sum(cpu.values()):.0f}%: {threads}; client {100 * r['client']:.0f}%"
    )
    if r["errors"]:
        print(f"  errors {len(r['errors'])}: {sorted(set(r['errors']))[:5]}")
    # CPU per frame delivered: steadier than the shares when other programs take cores.
    per = {k: 1e6 * v / max(sum(fps), 1e-9) for k, v in cpu.items() if k != "other"}
    print("  CPU per frame delivered: " + ", ".join(f"{k} {v:.0f} us" for k, v in per.items()))
    if r["profile"] is not None and r["profile"].exists():
        _print_profile(r["profile"], top, seconds if spy == "gil" else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="threads",
        choices=("threads", "gil"),
        help="sample the server with py-spy (gil: only the thread holding the GIL)",
    )
    parser.add_argument("--top", type=int, default=12, help="functions shown per thread")
    parser.add_argument("--speed", default="max", help='each session\'s pace: "max" or steps/s')
    parser.add_argument(
        "--cluster", action="store_true", help="with a redis-server and an SQLite file"
    )
    args = parser.parse_args()
    if not all(1 <= n <= MAX_SESSIONS for n in args.sessions) or not 2 <= args.seconds <= 300:
        parser.error(f"1 <= sessions <= {MAX_SESSIONS}, 2 <= seconds <= 300")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    speed = args.speed if args.speed == "max" else float(args.speed)
    redis = RedisServer(Path(tempfile.mkdtemp())) if args.cluster else None
    try:
        for n in args.sessions:
            run(n, args.seconds, args.py_spy, args.top, speed, redis)
    finally:
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    main()
