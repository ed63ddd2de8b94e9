"""Durable sessions' cost: snapshot writes under N training sessions on a real server (SQLite).

    python bench/snapshots.py                 # 30 sessions, 20 s, every 5 s
    python bench/snapshots.py --sessions 30 --seconds 20 --interval 5 --points 400

Starts ``python -m mlp_playground`` on a temporary SQLite file, opens N owner sessions (the
page's default net and data, frames at 10 fps), plays them all, and after the window stops
the server with SIGTERM (which snapshots every session). The server logs its snapshot
counters at shutdown (``live.durable``: capture time on the training thread, encode + write
time in the writer's thread, bytes); printed here per write and per session per second.
Then the same window with snapshots every 10^6 s, for the training rate without them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import tempfile
import time
from pathlib import Path

from _common import start_server
from websockets.asyncio.client import connect


async def _session(ws_url: str, points: int, stop: asyncio.Event, steps: dict[int, int]) -> None:
    async with connect(ws_url + "/ws", max_size=None) as ws:
        await ws.recv()  # hello
        me = id(ws)
        await ws.send(json.dumps({"type": "subscribe", "fps": 10}))
        if points != 400:
            cfg = {"dataset": {"n_points": points}}
            await ws.send(json.dumps({"type": "configure", "config": cfg}))
        await ws.send(json.dumps({"type": "play"}))
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            if isinstance(msg, str) and '"metrics"' in msg:
                steps[me] = json.loads(msg)["step"]


def run(n: int, seconds: float, interval: float, points: int) -> tuple[dict[str, float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "MLPG_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "MLPG_SNAPSHOT_INTERVAL_SECONDS": str(interval),
        }
        proc, url = start_server(env, capture=True)
        ws_url = url.replace("http", "ws")

        async def main() -> float:
            stop = asyncio.Event()
            steps: dict[int, int] = {}
            tasks = [asyncio.create_task(_session(ws_url, points, stop, steps)) for _ in range(n)]
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            rate = sum(steps.values()) / (time.monotonic() - t0)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            return rate

        rate = asyncio.run(main())
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
    m = re.search(r"snapshots: (.*)", out)
    if m is None:
        raise RuntimeError("no snapshot summary in the server's log:\n" + out[-2000:])
    counters = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m.group(1))}
    return counters, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--points", type=int, default=400)
    args = ap.parse_args()
    n, secs = args.sessions, args.seconds
    c, rate_on = run(n, secs, args.interval, args.points)
    _, rate_off = run(n, secs, 1e6, args.points)
    writes = max(c["writes"], 1)
    cost_ms = c["capture_ms"] + c["write_ms"]
    print(f"{n} training sessions, {secs:g} s, a snapshot every {args.interval:g} s, SQLite")
    print(
        f"  snapshots written: {c['writes']:.0f} ({c['captures']:.0f} captured, with the "
        f"SIGTERM round), {c['bytes'] / writes / 1e3:.1f} KB each"
    )
    print(
        f"  per write: capture {c['capture_ms'] / max(c['captures'], 1):.2f} ms on the "
        f"training thread, encode + write {c['write_ms'] / writes:.2f} ms in the writer thread"
    )
    print(
        f"  cost per session per second: {cost_ms / (n * secs):.3f} ms "
        f"({100 * cost_ms / (n * secs * 1e3):.3f} % of a core per session)"
    )
    print(
        f"  steps/s, all sessions: {rate_on:,.0f} with snapshots, {rate_off:,.0f} without "
        f"(noise on a shared machine is larger than the difference)"
    )


if __name__ == "__main__":
    main()
