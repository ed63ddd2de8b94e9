"""The load generator: N live sessions training and streaming, M watchers, REST traffic,
against a running server; what it saw, in ``Stats``.

Every session is a 2-8-8-2 net (spiral data, tanh, sgd) playing at full speed with a
100x100 decision grid subscribed at 30 frames/s; watchers follow sessions round-robin; two
REST clients send ``rest_rate`` requests a second in all: one in four a ``POST /train``
(a small 200-step run), the others ``POST /predict`` on a live session, by its id. Pauses
are measured on one session in four: ``pause`` -> the ``paused`` event, then ``play``
again, once a second. Errors (error messages, unexpected closes, non-200 answers) are
collected, never raised.

tests/reliability/test_rel_load.py runs a short form; ``python bench/load.py`` the long one
(its own server, RSS figures, the search for the largest N).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

NET = {
    "dataset": {"name": "spiral", "n_points": 400},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "speed": "max",
}
TRAIN_BODY = {
    "dataset": {"name": "xor", "n_points": 200},
    "network": {"hidden_layers": [8, 8]},
    "steps": 200,
}


@dataclass
class Stats:
    frames: list[int] = field(default_factory=list)  # per session, during the window
    watcher_frames: list[int] = field(default_factory=list)
    pause_ms: list[float] = field(default_factory=list)
    predict_ms: list[float] = field(default_factory=list)
    train_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Client:
    """One websocket (owner or watcher) whose reader counts decision frames."""

    def __init__(self, ws, stats: Stats, role: str) -> None:
        self.ws = ws
        self.stats = stats
        self.role = role
        self.frames = 0
        self.counting = False
        self.closing = False
        self.paused: asyncio.Event = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    if self.counting and len(message) > 5 and message[5] == 1:
                        self.frames += 1
                    continue
                obj = json.loads(message)
                if obj["type"] == "error":
                    self.stats.errors.append(f"{self.role}: {obj.get('code')}")
                elif obj["type"] == "event" and obj.get("event") == "paused":
                    self.paused.set()
        except ConnectionClosed as exc:
            if not self.closing:
                self.stats.errors.append(f"{self.role} closed: {exc}")


async def _pauser(client: Client, stop: float, stats: Stats) -> None:
    while time.monotonic() < stop - 1.5:
        await asyncio.sleep(1.0)
        client.paused.clear()
        t0 = time.perf_counter()
        await client.ws.send('{"type": "pause"}')
        try:
            await asyncio.wait_for(client.paused.wait(), 10)
            stats.pause_ms.append((time.perf_counter() - t0) * 1000)
        except asyncio.TimeoutError:
            stats.errors.append("pause: no paused event within 10 s")
        await client.ws.send('{"type": "play"}')


async def _rest(
    url: str, session_ids: list[str], stop: float, stats: Stats, k: int, period: float
) -> None:
    """One REST client: a request every ``period`` seconds, one in four a ``/train``."""
    points = [[i / 10 - 2, (i * 7 % 40) / 10 - 2] for i in range(40)]
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        i = k
        next_at = time.monotonic()
        while time.monotonic() < stop:
            next_at += period
            i += 1
            if i % 4 == 0:
                t0 = time.perf_counter()
                r = await http.post("/train", json=TRAIN_BODY)
                stats.train_ms.append((time.perf_counter() - t0) * 1000)
            else:
                body = {"session": session_ids[i % len(session_ids)], "points": points}
                t0 = time.perf_counter()
                r = await http.post("/predict", json=body)
                stats.predict_ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                stats.errors.append(f"REST {r.status_code}: {r.text[:100]}")
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def run_load(
    url: str, sessions: int, watchers: int, seconds: float, rest_rate: float = 4.0
) -> Stats:
    stats = Stats()
    ws_url = "ws" + url[4:]
    owners: list[Client] = []
    ids: list[str] = []
    tokens: list[str] = []
    for _ in range(sessions):
        ws = await connect(ws_url + "/ws", max_size=None)
        hello = json.loads(await ws.recv())
        if hello["type"] != "hello":
            stats.errors.append(f"connect: {hello.get('code')}")
            await ws.close()
            continue
        ids.append(hello["session_id"])
        tokens.append(hello["watch_token"])
        await ws.send(json.dumps({"type": "configure", "config": NET}))
        await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 100, "fps": 30}))
        await ws.send(json.dumps({"type": "play"}))
        owners.append(Client(ws, stats, "owner"))
    viewers: list[Client] = []
    for i in range(watchers if tokens else 0):
        ws = await connect(f"{ws_url}/ws/watch/{tokens[i % len(tokens)]}", max_size=None)
        viewers.append(Client(ws, stats, "watcher"))
    await asyncio.sleep(2.0)  # warm-up: every session playing, grids cached
    for c in owners + viewers:
        c.counting = True
    t0 = time.monotonic()
    stop = t0 + seconds
    tasks = [asyncio.create_task(_pauser(c, stop, stats)) for c in owners[::4]]
    if ids:
        period = 2 / rest_rate  # two clients share the rate
        tasks += [asyncio.create_task(_rest(url, ids, stop, stats, k, period)) for k in range(2)]
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    for c in owners + viewers:
        c.counting = False
    await asyncio.gather(*tasks, return_exceptions=True)
    stats.frames = [c.frames / elapsed for c in owners]
    stats.watcher_frames = [c.frames / elapsed for c in viewers]
    for c in owners + viewers:
        c.closing = True
        await c.ws.close()
        c.task.cancel()
    return stats


def report(n: int, m: int, seconds: float, stats: Stats, rss: tuple[float, float] | None) -> None:
    f = stats.frames
    line = (
        f"sessions={n} watchers={m} seconds={seconds:g}: frames/s per session median "
        f"{statistics.median(f) if f else float('nan'):.1f} worst {min(f) if f else 0:.1f}"
    )
    if stats.watcher_frames:
        w = stats.watcher_frames
        line += f"; watchers median {statistics.median(w):.1f} worst {min(w):.1f}"
    print(line)
    print(
        f"  pause latency p50 {p(stats.pause_ms, 0.5):.0f} ms p95 {p(stats.pause_ms, 0.95):.0f} ms"
        f" (n={len(stats.pause_ms)}); /predict p50 {p(stats.predict_ms, 0.5):.0f} ms p95 "
        f"{p(stats.predict_ms, 0.95):.0f} ms (n={len(stats.predict_ms)}); /train p95 "
        f"{p(stats.train_ms, 0.95):.0f} ms (n={len(stats.train_ms)})"
    )
    errs = f"  errors {len(stats.errors)}" + (f" {stats.errors[:5]}" if stats.errors else "")
    if rss:
        errs += f"; server RSS {rss[0]:.0f} MB before, {rss[1]:.0f} MB after"
    print(errs, flush=True)
