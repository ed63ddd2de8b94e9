"""The websocket fuzzer for the live protocol (docs/protocol.md), against a real server.

What a case is: one text message, random or a mutation of a valid message (wrong types,
huge numbers, NaN/Infinity literals, deep nesting, missing or extra fields, truncated JSON,
random text), sent on one owner connection; plus the special cases that must close the
connection with the documented code (binary -> 1003, over 64 KiB / 1 MB -> 1009) and a flood
of 1,000 messages in about a second (-> ``rate_limited`` errors, connection kept).

What must hold (``check_*`` raise AssertionError otherwise): every answer is JSON with a known
``type``; no ``internal_error``; the connection stays open for every text message under the
size cap; and afterwards the same session still trains (play -> the step counter advances).

tests/reliability/test_rel_ws_fuzz.py runs a short form; ``python bench/fuzz_ws.py`` the
long one (20,000 cases, servers of its own).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

SERVER_TYPES = {"hello", "config", "data", "metrics", "error", "event", "model", "stats"}

#: Valid messages the mutations start from (small, so the session stays light).
VALID: list[dict[str, Any]] = [
    {"type": "configure", "config": {"optimizer": {"learning_rate": 0.1}}},
    {"type": "configure", "config": {"network": {"hidden_layers": [3], "activation": "relu"}}},
    {"type": "configure", "config": {"dataset": {"name": "xor", "n_points": 100}}},
    {"type": "configure", "config": {"batch_size": 5, "speed": 100}},
    {"type": "play"},
    {"type": "pause"},
    {"type": "step", "steps": 3},
    {"type": "reset"},
    {"type": "reseed"},
    {"type": "regenerate"},
    {"type": "add_point", "point": [0.5, -0.5], "label": 1},
    {"type": "remove_point", "point": [0.5, -0.5], "radius": 0.2},
    {"type": "set_data", "points": [[0, 0], [1, 1], [2, 0], [0, 2]], "labels": [0, 1, 0, 1]},
    {"type": "set_weight", "parameter": "dense0.W", "index": [0, 0], "value": 0.5},
    {"type": "subscribe", "grid_resolution": 20, "fps": 10, "neurons": True, "stats": True},
    {"type": "get_model"},
]
#: Raw JSON fragments json.dumps cannot produce (Python's json and JS's JSON.parse differ).
WEIRD = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e308", "-0", "1" + "0" * 400]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 10**30, 7])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, 5e-324, 1e6, -1e6 - 1, 3.14])
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return rng.choice(["dense0.W", "relu", "adam", "spiral", "x1", "max", ""])
    if kind == 6:
        return [rng.uniform(-10, 10), rng.uniform(-10, 10)]
    if kind == 7:
        return []
    if kind in (8, 9):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(["type", "config", "optimizer", "network", "steps", "x"]): random_value(
            rng, depth + 1
        )
        for _ in range(rng.randrange(4))
    }


def mutate(rng: random.Random, base: dict[str, Any]) -> str:
    """One fuzz message (text) derived from a valid one."""
    msg = json.loads(json.dumps(base))
    op = rng.randrange(10)
    if op == 0:  # wrong value somewhere (top level or nested one step)
        target = msg
        keys = [k for k in msg if k != "type"]
        if keys and isinstance(msg[keys[0]], dict) and rng.random() < 0.5:
            target = msg[keys[0]]
            keys = list(target)
        if keys:
            target[rng.choice(keys)] = random_value(rng)
    elif op == 1:  # drop a field
        keys = list(msg)
        del msg[rng.choice(keys)]
    elif op == 2:  # extra field
        msg[rng.choice(["extra", "config", "steps", "__proto__"])] = random_value(rng)
    elif op == 3:  # wrong or unknown type
        msg["type"] = random_value(rng) if rng.random() < 0.5 else rng.choice(["Play", "hello"])
    elif op == 4:  # a non-JSON literal in place of a number
        text = json.dumps(msg)
        numbers = [c for c in ("0.5", "0.1", "3", "1", "20", "10", "100", "0.2") if c in text]
        if numbers:
            return text.replace(rng.choice(numbers), rng.choice(WEIRD), 1)
        return text[:-1] + ', "v": ' + rng.choice(WEIRD) + "}"
    elif op == 5:  # truncated JSON
        text = json.dumps(msg)
        return text[: rng.randrange(1, len(text))]
    elif op == 6:  # deep nesting (kept under the size cap)
        depth = rng.choice([50, 500, 5000, 20000])
        return '{"type": "configure", "config": ' + "[" * depth + "]" * depth + "}"
    elif op == 7:  # not an object
        return json.dumps(rng.choice([[msg], "play", 42, None, True]))
    elif op == 8:  # random text
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 200)))
    # op == 9: the valid message itself
    return json.dumps(msg)


class Reader:
    """Reads everything the server sends in the background and keeps counts."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.types: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.frames = 0
        self.last_step = -1
        self.bad: list[str] = []
        self.waiters: list[tuple[str, dict, asyncio.Future]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.frames += 1
                    continue
                obj = json.loads(message)
                kind = obj.get("type")
                if kind not in SERVER_TYPES:
                    self.bad.append(message[:200])
                self.types[kind] += 1
                if kind == "error":
                    self.codes[obj.get("code")] += 1
                    if obj.get("code") == "internal_error":
                        self.bad.append(message[:200])
                if kind == "metrics":
                    self.last_step = obj["step"]
                for waiter in list(self.waiters):
                    want, match, fut = waiter
                    if kind == want and all(obj.get(k) == v for k, v in match.items()):
                        if not fut.done():
                            fut.set_result(obj)
                        self.waiters.remove(waiter)
        except ConnectionClosed:
            pass

    async def wait_for(self, kind: str, timeout: float = 20.0, **match: Any) -> dict:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiters.append((kind, match, fut))
        return await asyncio.wait_for(fut, timeout)


async def open_owner(ws_url: str, **kwargs: Any):
    ws = await connect(ws_url + "/ws", max_size=None, **kwargs)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert hello["type"] == "hello", hello
    return ws, hello


async def check_still_trains(ws, reader: Reader, timeout: float = 30.0) -> int:
    """Put the session back on a small, sane config, play, and see the step advance."""
    await ws.send(json.dumps({"type": "pause"}))
    await ws.send(
        json.dumps(
            {
                "type": "configure",
                "config": {
                    "dataset": {"name": "circle", "n_points": 200},
                    "network": {
                        "hidden_layers": [4],
                        "activation": "tanh",
                        "features": ["x1", "x2"],
                    },
                    "optimizer": {"name": "sgd", "learning_rate": 0.03},
                    "batch_size": 10,
                    "speed": "max",
                },
            }
        )
    )
    await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 20, "fps": 10}))
    await ws.send(json.dumps({"type": "reset"}))
    await reader.wait_for("event", timeout, event="reset")
    start = reader.last_step
    await ws.send(json.dumps({"type": "play"}))
    deadline = time.monotonic() + timeout
    while reader.last_step <= max(start, 0) + 10:
        assert time.monotonic() < deadline, "the session did not train after the fuzzing"
        await asyncio.sleep(0.05)
    await ws.send(json.dumps({"type": "pause"}))
    return reader.last_step


async def fuzz_messages(ws_url: str, cases: int, seed: int, rate: float = 400.0) -> dict:
    """``cases`` random/mutated text messages on one owner connection; returns the counts."""
    rng = random.Random(seed)
    ws, _ = await open_owner(ws_url)
    reader = Reader(ws)
    sent = 0
    try:
        for _ in range(cases):
            text = (
                mutate(rng, rng.choice(VALID))
                if rng.random() < 0.9
                else mutate(rng, {"type": rng.choice(["configure", "set_data", "subscribe"])})
            )
            await ws.send(text)
            sent += 1
            if sent % 20 == 0:
                await asyncio.sleep(20 / rate)
            assert ws.close_code is None, f"closed {ws.close_code} after {text[:200]!r}"
        model = reader.wait_for("model")
        await ws.send(json.dumps({"type": "get_model"}))
        await model
        assert ws.close_code is None
        steps = await check_still_trains(ws, reader)
        assert not reader.bad, reader.bad[:5]
    finally:
        await ws.close()
        reader.task.cancel()
    return {
        "cases": sent,
        "errors": sum(reader.codes.values()),
        "codes": dict(reader.codes),
        "answers": dict(reader.types),
        "steps_after": steps,
    }


async def expect_close(ws_url: str, payload: str | bytes, code: int) -> int:
    """Send one payload; the server must close with ``code``; a new session still trains."""
    ws, _ = await open_owner(ws_url)
    await ws.send(payload)
    try:
        await asyncio.wait_for(ws.wait_closed(), 20)
    except asyncio.TimeoutError as exc:
        raise AssertionError(f"not closed after a {len(payload)}-byte payload") from exc
    assert ws.close_code == code, (ws.close_code, code)
    return 1


async def close_cases(ws_url: str, max_bytes: int = 65_536) -> int:
    cases = [
        (b"\x00\x01binary", 1003),
        (json.dumps({"type": "get_model"}).encode(), 1003),
        ("x" * (max_bytes + 1), 1009),
        ('{"type": "configure", "config": {"a": "' + "y" * 1_048_576 + '"}}', 1009),
        ("é" * (max_bytes // 2 + 1), 1009),  # under the cap in characters, over it in bytes
    ]
    n = 0
    for payload, code in cases:
        n += await expect_close(ws_url, payload, code)
    # Just under the cap is fine: a 60 KB set_data is an ordinary message.
    ws, _ = await open_owner(ws_url)
    reader = Reader(ws)
    points = [[round(i * 1e-3, 3), 0.5] for i in range(3000)]
    msg = json.dumps({"type": "set_data", "points": points, "labels": [i % 2 for i in range(3000)]})
    assert len(msg) < max_bytes
    await ws.send(msg)
    data = await reader.wait_for("data", points=points)
    assert len(data["labels"]) == 3000 and ws.close_code is None
    await ws.close()
    reader.task.cancel()
    return n + 1


async def flood(ws_url: str, messages: int = 1000, seconds: float = 1.0) -> dict:
    """``messages`` messages in about ``seconds``: rate_limited errors, connection kept."""
    ws, _ = await open_owner(ws_url)
    reader = Reader(ws)
    kinds = [
        {"type": "step", "steps": 1},
        {"type": "configure", "config": {"optimizer": {"learning_rate": 0.05}}},
        {"type": "nope"},
    ]
    t0 = time.monotonic()
    for i in range(messages):
        await ws.send(json.dumps(kinds[i % len(kinds)]))
        if i % 50 == 49:
            await asyncio.sleep(max(0.0, t0 + seconds * (i + 1) / messages - time.monotonic()))
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1.5)  # let the bucket refill
    assert ws.close_code is None, ws.close_code
    steps = await check_still_trains(ws, reader)
    await ws.close()
    reader.task.cancel()
    return {
        "sent": messages,
        "seconds": round(elapsed, 2),
        "rate_limited": reader.codes.get("rate_limited", 0),
        "answers": dict(reader.types),
        "steps_after": steps,
    }
