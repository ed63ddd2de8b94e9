"""Live-session benchmark: a real server subprocess and real websocket clients on loopback.

    python bench/live.py            # about a minute; prints one line per figure

Figures (issue 4's targets in brackets):
- one client, 2-8-8-2 net, 100x100 grid: frames/s [>= 30] and steps/s vs the engine's
  headless steps/s [>= 60 %];
- pause latency, from sending ``pause`` to receiving the ``paused`` event, p50/p95 [< 50 ms];
- 30 concurrent sessions: frames/s each (min/median) [>= 10] and slowest/fastest steps
  [>= 0.5];
- server RSS growth while a client stops reading a 200x200 + unit-grid stream [none];
- server RSS growth over 1,000 connect/disconnect cycles [< 20 MB].

The server runs with ``MLPG_SESSION_GRACE_SECONDS=0`` so that closed sessions go at once
(otherwise 1,000 cycles would hit the session cap) and ``MLPG_MAX_SESSIONS=64``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from _common import rss_mb, start_server, stop_server
from websockets.asyncio.client import connect

from mlp_playground.live.registry import limit_blas_threads
from mlp_playground.live.state import LIVE_DEFAULTS
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

NET = {"network": {"hidden_layers": [8, 8]}}


def headless_steps_per_second(seconds: float = 2.0) -> float:
    limit_blas_threads()  # as the server does
    trainer = Trainer(TrainConfig.from_dict({**LIVE_DEFAULTS, **NET}), record_history=False)
    trainer.run_steps(200)
    best = 0.0
    for _ in range(3):  # best of three: the machine may be busy with something else
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 3:
            steps += trainer.run_steps(500).steps_done
        best = max(best, steps / (time.perf_counter() - start))
    return best


async def send(ws, kind: str, **fields) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


async def until(ws, kind: str, **match) -> dict:
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            msg = json.loads(message)
            if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
                return msg


async def open_owner(url: str, grid: int = 100, fps: float = 30):
    ws = await connect(url + "/ws", max_size=None)
    await until(ws, "data")
    await send(ws, "configure", config=NET)
    await until(ws, "config")
    await send(ws, "subscribe", grid_resolution=grid, fps=fps)
    return ws


async def measure_stream(ws, seconds: float) -> tuple[float, float]:
    """(frames/s, steps/s) of a playing session over ``seconds``."""
    frames = 0
    first_step = last_step = None
    start = time.monotonic()
    t_first = t_last = start
    while (left := start + seconds - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        if isinstance(message, bytes):
            frames += message[5] == 1
        else:
            msg = json.loads(message)
            if msg["type"] == "metrics":
                if first_step is None:
                    first_step, t_first = msg["step"], time.monotonic()
                last_step, t_last = msg["step"], time.monotonic()
    elapsed = time.monotonic() - start
    steps = (last_step - first_step) / (t_last - t_first) if t_last > t_first else 0.0
    return frames / elapsed, steps


async def one_client(url: str, fps: float) -> tuple[float, float]:
    ws = await open_owner(url, 100, fps)
    async with ws:
        await send(ws, "play")
        await until(ws, "event", event="playing")
        await measure_stream(ws, 0.5)  # warm up
        return await measure_stream(ws, 3.0)


async def pause_latency(url: str, rounds: int = 40) -> list[float]:
    ws = await open_owner(url, 100, 30)
    out = []
    async with ws:
        for _ in range(rounds):
            await send(ws, "play")
            await until(ws, "event", event="playing")
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            await send(ws, "pause")
            await until(ws, "event", event="paused")
            out.append(time.perf_counter() - t0)
    return out


async def many_sessions(url: str, n: int = 30, seconds: float = 5.0) -> list[tuple[float, float]]:
    sockets = [await open_owner(url, 100, 30) for _ in range(n)]
    try:
        for ws in sockets:
            await send(ws, "play")
        await asyncio.sleep(1.0)
        return await asyncio.gather(*(measure_stream(ws, seconds) for ws in sockets))
    finally:
        for ws in sockets:
            await ws.close()


async def stalled_reader(url: str, pid: int, seconds: float = 12.0) -> list[float]:
    """Server RSS every 3 s while a client that never reads is streamed 200x200 frames."""
    ws = await connect(url + "/ws", max_size=None, max_queue=1)
    await until(ws, "data")
    await send(ws, "subscribe", grid_resolution=200, fps=60, neurons=True, neuron_resolution=64)
    await send(ws, "configure", config={"network": {"hidden_layers": [16, 16, 16]}})
    await send(ws, "play")
    await asyncio.sleep(2.0)  # the socket buffers fill up, and we never read again
    samples = []
    for _ in range(int(seconds / 3) + 1):
        samples.append(rss_mb(pid))
        await asyncio.sleep(3.0)
    ws.transport.abort()
    return samples


async def cycles(url: str, pid: int, n: int = 1000) -> tuple[float, float]:
    async def one() -> None:
        async with connect(url + "/ws", max_size=None) as ws:
            await until(ws, "data")

    for _ in range(50):
        await one()
    await asyncio.sleep(0.5)
    before = rss_mb(pid)
    for _ in range(n):
        await one()
    await asyncio.sleep(1.0)
    return before, rss_mb(pid)


def main() -> None:
    headless = headless_steps_per_second()
    print(f"headless engine, 2-8-8-2, batch 10, one BLAS thread: {headless:,.0f} steps/s")
    proc, http_url = start_server(
        {"MLPG_SESSION_GRACE_SECONDS": "0", "MLPG_MAX_SESSIONS": "64"}, timeout=20
    )
    url = http_url.replace("http://", "ws://")
    try:
        for fps in (30, 60):
            fps_got, steps = asyncio.run(one_client(url, fps))
            print(
                f"one client, 100x100 grid, subscribed {fps} fps: {fps_got:.1f} frames/s, "
                f"{steps:,.0f} steps/s = {100 * steps / headless:.0f}% of headless"
            )
        lat = sorted(asyncio.run(pause_latency(url)))
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(
            f"pause latency over {len(lat)} pauses: p50 {1000 * statistics.median(lat):.1f} ms, "
            f"p95 {1000 * p95:.1f} ms, max {1000 * lat[-1]:.1f} ms"
        )
        results = asyncio.run(many_sessions(url))
        fps_each = sorted(r[0] for r in results)
        steps_each = sorted(r[1] for r in results)
        print(
            f"30 sessions, 100x100 grid at 30 fps: frames/s min {fps_each[0]:.1f} "
            f"median {statistics.median(fps_each):.1f}; steps/s min {steps_each[0]:,.0f} "
            f"max {steps_each[-1]:,.0f}, slowest/fastest {steps_each[0] / steps_each[-1]:.2f}"
        )
        time.sleep(1.0)
        rss = asyncio.run(stalled_reader(url, proc.pid))
        print(
            "client that stops reading (200x200 + 64x64 unit grids at 60 fps): server RSS "
            + " -> ".join(f"{v:.1f}" for v in rss)
            + f" MB every 3 s ({rss[-1] - rss[0]:+.1f} MB)"
        )
        time.sleep(1.0)
        before, after = asyncio.run(cycles(url, proc.pid))
        print(
            f"1,000 connect/disconnect cycles: server RSS {before:.1f} -> {after:.1f} MB "
            f"({after - before:+.1f} MB)"
        )
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
