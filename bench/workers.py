"""Sessions and watchers held at >= 10 frames/s, by number of server workers (issue 12).

    python bench/workers.py                        # the table: 1 worker, then --workers 2
    python bench/workers.py --workers 1 --sessions 60 --no-watchers   # one measurement
    python bench/workers.py --workers 1 --find-max --no-watchers      # largest N, one worker
    python bench/workers.py --threads --workers 1 --sessions 60 --no-watchers  # + per thread

One run measures, for each number of workers asked (``--workers 1,2``):

1. ``--sessions`` N concurrent owner sessions (spiral, 8-8 tanh, sgd, 100x100 grid, 30 fps
   asked, speed max or ``--pace``): frames/s each (median, worst) and the slowest session's steps as a
   fraction of the fastest one's (from the step in each frame's header), and the sessions
   each server process holds (from ``/healthz``); with
   ``--find-max`` the largest N whose every session gets >= 10 frames/s (no errors);
2. one owner session with ``--watchers`` watchers, worst watcher frames/s. With 2 workers
   the watchers are spread over both processes deterministically: two server processes
   on separate ports sharing one redis-server and one SQLite file, half of the watchers on
   each (``--workers 2`` on one port leaves the split to the kernel's accept queue);
3. CPU, as % of one core over the window: the load client (its own processes, from
   ``time.process_time``), every server process (``/proc/<pid>/stat`` of the server and its
   children) and redis-server. A client above ~70 % of a core is flagged: its figures are
   then a client limit, not a server one (``--client-procs 2`` splits it).

The script starts its own redis-server (Debian's, free loopback port, temporary directory)
and its own servers (``bench/_common.start_server``), and stops them. Each measurement is a
``--seconds`` window (default 10) after a 2 s warm-up. With one worker the server runs as
it does by default (in memory, no Redis); with more, it shares Redis and an SQLite file.
Watchers connect ``--watcher-gap`` seconds apart (default 0: a class following a link at
once; before c2ff8da two remote watchers joining together could lose one's catch-up).
``--no-compression`` connects without permessage-deflate (browsers offer it; the server
then deflates every frame for every connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import (
    RedisServer,
    cpu_seconds,
    descendants,
    start_server,
    stop_server,
    thread_cpu,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

NET = {
    "dataset": {"name": "spiral", "n_points": 400},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "speed": "max",
}
HELD_FPS = 10.0
CLIENT_WARN = 70.0  # % of a core
WARM_UP = 2.0
MAX_SESSIONS = 300


# --- the load client (one process; the driver may start several) --------------------------


class Counter:
    """One websocket's reader: kind 1 frames counted in the window, first and last step."""

    def __init__(self, ws, errors: list[str], role: str) -> None:
        self.ws, self.errors, self.role = ws, errors, role
        self.frames = 0
        self.first_step: int | None = None
        self.last_step = 0
        self.counting = False
        self.closing = False
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    if self.counting and len(message) > 12 and message[5] == 1:
                        self.frames += 1
                        step = int.from_bytes(message[8:12], "little")
                        if self.first_step is None:
                            self.first_step = step
                        self.last_step = step
                elif '"error"' in message and json.loads(message)["type"] == "error":
                    self.errors.append(f"{self.role}: {json.loads(message).get('code')}")
        except ConnectionClosed as exc:
            if not self.closing:
                self.errors.append(f"{self.role} closed: {exc}")

    def steps(self) -> int:
        return 0 if self.first_step is None else self.last_step - self.first_step


async def open_owner(url: str, compression: str | None, errors: list[str],
                     net: dict | None = None) -> tuple[Counter, str]:  # fmt: skip
    ws = await connect("ws" + url[4:] + "/ws", max_size=None, compression=compression)
    hello = json.loads(await ws.recv())
    if hello["type"] != "hello":
        errors.append(f"connect: {hello.get('code')}")
    await ws.send(json.dumps({"type": "configure", "config": net or NET}))
    await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 100, "fps": 30}))
    await ws.send(json.dumps({"type": "play"}))
    return Counter(ws, errors, "owner"), hello.get("watch_token", "")


async def client_main(spec: dict) -> None:
    """A client process: open its share, print "ready", count a window on "go", print JSON."""
    errors: list[str] = []
    comp = spec["compression"]
    owners = [
        (await open_owner(spec["urls"][i % len(spec["urls"])], comp, errors, spec["net"]))[0]
        for i in range(spec["owners"])
    ]
    watchers = []
    for i in range(spec["watchers"]):
        url = spec["urls"][i % len(spec["urls"])]
        ws = await connect(f"ws{url[4:]}/ws/watch/{spec['token']}", max_size=None, compression=comp)
        watchers.append(Counter(ws, errors, "watcher"))
        await asyncio.sleep(spec["gap"])
    await asyncio.sleep(WARM_UP)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    everyone = owners + watchers
    cpu0, t0 = time.process_time(), time.monotonic()
    for c in everyone:
        c.counting = True
    await asyncio.sleep(spec["seconds"])
    for c in everyone:
        c.counting = False
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    result = {
        "owner_fps": [c.frames / wall for c in owners],
        "owner_steps": [c.steps() for c in owners],
        "watcher_fps": [c.frames / wall for c in watchers],
        "watcher_server": [i % len(spec["urls"]) for i in range(len(watchers))],
        "cpu": cpu,
        "wall": wall,
        "errors": errors[:20],
        "n_errors": len(errors),
    }
    print(json.dumps(result), flush=True)
    for c in everyone:
        c.closing = True
        await c.ws.close()
        c.task.cancel()


# --- the driver --------------------------------------------------------------------------


@dataclass
class Result:
    owner_fps: list[float] = field(default_factory=list)
    owner_steps: list[int] = field(default_factory=list)
    watcher_fps: list[float] = field(default_factory=list)
    watcher_server: list[int] = field(default_factory=list)  # index of the server it used
    client_cpu: list[float] = field(default_factory=list)  # % of a core, per client process
    server_cpu: float = 0.0  # % of a core, every server process together
    per_process: list[float] = field(default_factory=list)
    redis_cpu: float = 0.0
    threads: list[float] = field(default_factory=list)  # busiest threads of the 1st process
    placement: list[int] = field(default_factory=list)  # sessions in each server process
    errors: list[str] = field(default_factory=list)
    n_errors: int = 0
    loadavg: str = ""

    def holds_sessions(self) -> bool:
        return bool(self.owner_fps) and min(self.owner_fps) >= HELD_FPS and not self.n_errors

    def holds_watchers(self) -> bool:
        return bool(self.watcher_fps) and min(self.watcher_fps) >= HELD_FPS and not self.n_errors


class Servers:
    """The server(s) of one measurement: 1 worker in memory, or N sharing Redis + SQLite."""

    def __init__(self, workers: int, sessions: int, redis: RedisServer | None, tmp: Path,
                 separate: bool) -> None:  # fmt: skip
        env = {
            # Not 0: a new session could then be reaped before its owner is attached (it
            # waits for the class registry's store lookup) and get no frame at all; each
            # probe starts a fresh server, so closed sessions need not go at once.
            "MLPG_SESSION_GRACE_SECONDS": "30",
            "MLPG_MAX_SESSIONS": str(max(64, sessions + 8)),
            "MLPG_MAX_SESSIONS_PER_CLIENT": str(max(64, sessions + 8)),  # all from loopback
            "MLPG_MAX_WATCHERS": "1000",
        }
        if workers > 1:
            assert redis is not None
            env |= redis.server_env(tmp)
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        try:
            for _ in range(workers if separate else 1):
                proc, url = start_server(env, workers=1 if separate else workers)
                self.procs.append(proc)
                self.urls.append(url)
            if workers > 1 and not separate:
                time.sleep(1.0)  # every worker up, not only the one that answered /healthz
        except BaseException:
            self.stop()
            raise

    def server_pids(self) -> list[int]:
        """Every server process: the ``--workers`` supervisor (which accepts and places
        each connection) first, then its workers."""
        return [p for proc in self.procs for p in descendants(proc.pid)]

    def placement(self) -> list[int]:
        """Sessions held by each server process, from /healthz (round-robin across a
        ``--workers`` server's processes, so a few asks reach each one)."""
        seen: dict[str, int] = {}
        for url in self.urls:
            for _ in range(8):
                health = httpx.get(url + "/healthz", timeout=5).json()
                if "sessions" not in health:  # one process, no Redis: nothing to spread
                    break
                seen[health["process"]] = health["sessions"]
        return sorted(seen.values())

    def cpu(self) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in self.server_pids()}

    def stop(self) -> None:
        for proc in self.procs:
            stop_server(proc)


async def _spawn(spec: dict) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", json.dumps(spec),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def measure(servers: Servers, owners: int, watchers: int, args, redis) -> Result:
    """One window: ``owners`` sessions, or one session and ``watchers`` watchers."""
    comp = None if args.no_compression else "deflate"
    errors: list[str] = []
    owner = None
    token = ""
    if watchers:  # the watched session: its owner is this process, on the first server
        owner, token = await open_owner(servers.urls[0], comp, errors)
    n = max(1, args.client_procs)
    specs = [
        {"urls": servers.urls, "compression": comp, "seconds": args.seconds, "token": token,
         "gap": args.watcher_gap, "net": {**NET, "speed": getattr(args, "pace", "max")},
         "owners": owners // n + (i < owners % n), "watchers": watchers // n + (i < watchers % n)}
        for i in range(n)
    ]  # fmt: skip
    clients = [await _spawn(s) for s in specs]
    for c in clients:
        assert c.stdout is not None
        line = await c.stdout.readline()
        if line.strip() != b"ready":
            raise LoadClientFailed(f"load client failed to start: {line!r}")
    placement = servers.placement() if owners else []
    pids = servers.server_pids()
    cpu0 = {p: cpu_seconds(p) for p in pids}
    threads0 = thread_cpu(pids[0]) if args.threads else {}
    redis0 = cpu_seconds(redis.proc.pid) if redis else 0.0
    spy = None
    if args.py_spy:  # sample the first server process over the window (collapsed stacks)
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(pids[0]), "-d", str(int(args.seconds)), "-f", "raw",
             "-r", "200", "--threads", "--idle", "-o", args.py_spy, *(["--gil"] if args.gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    own0, t0 = time.process_time(), time.monotonic()
    for c in clients:
        assert c.stdin is not None
        c.stdin.write(b"go\n")
        await c.stdin.drain()
    outs = []
    for c in clients:
        assert c.stdout is not None
        outs.append(json.loads(await c.stdout.readline()))
    wall = time.monotonic() - t0
    r = Result(loadavg=" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    r.placement = placement
    r.per_process = [100 * (cpu_seconds(p) - cpu0[p]) / wall for p in pids]
    r.server_cpu = sum(r.per_process)
    if args.threads:
        t1 = thread_cpu(pids[0])
        busy = sorted(((t1[t] - threads0.get(t, 0.0)) for t in t1), reverse=True)
        r.threads = [100 * b / wall for b in busy[:4]]
    r.redis_cpu = 100 * (cpu_seconds(redis.proc.pid) - redis0) / wall if redis else 0.0
    own = 100 * (time.process_time() - own0) / wall  # the driver: the watched owner's reader
    for o in outs:
        r.owner_fps += o["owner_fps"]
        r.owner_steps += o["owner_steps"]
        r.watcher_fps += o["watcher_fps"]
        r.watcher_server += o["watcher_server"]
        r.client_cpu.append(100 * o["cpu"] / o["wall"])
        r.errors += o["errors"]
        r.n_errors += o["n_errors"]
    r.client_cpu[0] += own if watchers else 0.0
    r.errors += errors
    r.n_errors += len(errors)
    for c in clients:
        await c.wait()
    if spy is not None:
        spy.wait(30)
    if owner is not None:
        owner.closing = True
        await owner.ws.close()
        owner.task.cancel()
    return r


class LoadClientFailed(Exception):
    """A load client could not connect (seen once: a fresh server refused its first
    connections): the probe says nothing of capacity, so it is run again."""


def trial(workers: int, owners: int, watchers: int, args, redis, tmp: Path) -> Result:
    separate = bool(watchers) and workers > 1  # watchers: two processes, two ports
    for attempt in range(3):
        servers = Servers(workers, owners, redis, tmp, separate)
        try:
            r = asyncio.run(measure(servers, owners, watchers, args, redis))
            break
        except LoadClientFailed as exc:
            if attempt == 2:
                raise SystemExit(str(exc)) from None
            print(f"  {exc}; the probe again on a fresh server", flush=True)
        finally:
            servers.stop()
    report(workers, owners, watchers, r, separate)
    return r


def report(workers: int, owners: int, watchers: int, r: Result, separate: bool) -> None:
    how = f"{workers} worker" + ("s" if workers > 1 else "")
    if workers > 1:
        how += " (2 processes on 2 ports)" if separate else f" (--workers {workers})"
    if owners:
        f, s = r.owner_fps, r.owner_steps
        fair = min(s) / max(s) if s and max(s) else float("nan")
        line = (f"{how}: {owners} sessions: frames/s median {statistics.median(f):.1f} "
                f"worst {min(f):.1f}; slowest/fastest steps {fair:.2f}")  # fmt: skip
        if len(r.placement) > 1:
            line += f"; sessions per process {' + '.join(map(str, r.placement))}"
    else:
        w = r.watcher_fps
        line = (f"{how}: 1 session, {watchers} watchers: frames/s median "
                f"{statistics.median(w):.1f} worst {min(w):.1f}")  # fmt: skip
    if watchers and max(r.watcher_server, default=0) > 0:
        for k in sorted(set(r.watcher_server)):
            w = [f for f, i in zip(r.watcher_fps, r.watcher_server, strict=True) if i == k]
            line += (
                f"; on server {k}: {len(w)}, median {statistics.median(w):.1f} worst {min(w):.1f}"
            )
    print(line)
    procs = " + ".join(f"{c:.0f}" for c in r.per_process)
    cpu = (f"  CPU (% of a core): server {r.server_cpu:.0f} ({procs}), client "
           f"{' + '.join(f'{c:.0f}' for c in r.client_cpu)}")  # fmt: skip
    if r.redis_cpu:
        cpu += f", redis {r.redis_cpu:.0f}"
    if r.threads:
        cpu += f"; busiest threads of the first process {[round(t) for t in r.threads]}"
    print(cpu + f"; loadavg {r.loadavg}")
    if max(r.client_cpu) > CLIENT_WARN:
        print(f"  WARNING: a load client used > {CLIENT_WARN:.0f}% of a core: these figures "
              "may be the client's limit (try --client-procs 2)")  # fmt: skip
    if r.n_errors:
        print(f"  errors {r.n_errors}: {r.errors[:5]}")
    sys.stdout.flush()


def find_max(workers: int, start: int, args, redis, tmp: Path) -> tuple[int, Result | None]:
    """Largest N with every session >= 10 frames/s: steps of 25 % up or down, then bisection
    to within 4 sessions (each probe is one server start and one window; a probe that
    fails is run again ``args.retries`` times, for a machine shared with other work)."""
    results: dict[int, Result] = {}

    def holds(n: int) -> bool:
        results[n] = trial(workers, n, 0, args, redis, tmp)
        for _ in range(getattr(args, "retries", 0)):  # a shared machine: one more chance
            if results[n].holds_sessions():
                break
            print(f"  {n} not held: once more")
            results[n] = trial(workers, n, 0, args, redis, tmp)
        return results[n].holds_sessions()

    n = max(1, min(start, MAX_SESSIONS))
    if holds(n):
        lo, hi = n, None
        while hi is None and lo < MAX_SESSIONS:
            m = min(MAX_SESSIONS, int(lo * 1.25) + 1)
            if holds(m):
                lo = m
            else:
                hi = m
        if hi is None:
            return lo, results[lo]
    else:
        lo, hi = 0, n
        while lo == 0 and hi > 1:
            m = max(1, int(hi / 1.25))
            if holds(m):
                lo = m
            else:
                hi = m
    while hi - lo > 4:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid
        else:
            hi = mid
    print(f"{workers} worker(s): largest N at >= {HELD_FPS:g} frames/s per session: {lo}")
    return lo, results.get(lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--sessions", type=int, help="N owner sessions (default 60 per worker)")
    ap.add_argument("--watchers", type=int, default=300)
    ap.add_argument(
        "--watcher-gap", type=float, default=0.0, help="seconds between watcher connects"
    )
    ap.add_argument("--no-watchers", action="store_true", help="skip the watcher measurement")
    ap.add_argument("--no-sessions", action="store_true", help="skip the sessions measurement")
    ap.add_argument("--find-max", action="store_true", help="largest N at >= 10 frames/s")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pace", default="max", help='steps/s of each session, or "max"')
    ap.add_argument("--client-procs", type=int, default=1, help="load client processes")
    ap.add_argument("--threads", action="store_true", help="per-thread CPU of the server")
    ap.add_argument("--no-compression", action="store_true", help="no permessage-deflate")
    ap.add_argument("--py-spy", metavar="FILE", help="py-spy record (raw) of the 1st server")
    ap.add_argument("--gil", action="store_true", help="with --py-spy: GIL holders only")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.pace = args.pace if args.pace == "max" else float(args.pace)
    if args.client:
        asyncio.run(client_main(json.loads(args.client)))
        return
    counts = [int(w) for w in args.workers.split(",")]
    if not all(1 <= w <= 8 for w in counts) or not 1 <= args.seconds <= 120:
        ap.error("workers in 1..8, seconds in 1..120")
    if not 0 <= args.watchers <= 1000 or not 1 <= args.client_procs <= 4:
        ap.error("watchers in 0..1000, client-procs in 1..4")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlpg-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis = RedisServer(tmp) if max(counts) > 1 else None
        try:
            for w in counts:
                sessions = args.sessions or 60 * w
                held, watched = "-", "-"
                cpus: list[float] = []
                if not args.no_sessions:
                    if args.find_max:
                        n, r = find_max(w, sessions, args, redis, tmp)
                        held = str(n)
                    else:
                        r = trial(w, min(sessions, MAX_SESSIONS), 0, args, redis, tmp)
                        n = sessions
                        held = f"{n}: {'yes' if r.holds_sessions() else 'no'}"
                    if r is not None:
                        held += f" (worst {min(r.owner_fps):.1f} fps)"
                        cpus += r.client_cpu
                if not args.no_watchers and args.watchers:
                    r = trial(w, 0, args.watchers, args, redis, tmp)
                    ok = "yes" if r.holds_watchers() else "no"
                    watched = f"{args.watchers}: {ok} (worst {min(r.watcher_fps):.1f} fps)"
                    cpus += r.client_cpu
                rows.append((w, held, watched, max(cpus) if cpus else 0.0))
        finally:
            if redis is not None:
                redis.stop()
    print("\n| workers | sessions held at >= 10 fps | watchers held at >= 10 fps | client CPU |")
    print("| --- | --- | --- | --- |")
    for w, held, watched, cpu in rows:
        print(f"| {w} | {held} | {watched} | {cpu:.0f}% of a core (max per process) |")
    print(
        f"loadavg at the end: {Path('/proc/loadavg').read_text().strip()} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
