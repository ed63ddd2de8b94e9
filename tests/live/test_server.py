"""The live protocol against a real uvicorn server, with the ``websockets`` client library."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mlp_playground.live import frames

pytestmark = pytest.mark.timeout(60)


async def recv(ws, timeout: float = 10.0):
    message = await asyncio.wait_for(ws.recv(), timeout)
    if isinstance(message, bytes):
        return frames.decode_frame(message)
    return json.loads(message)


async def until(ws, kind: str, timeout: float = 10.0, **match):
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv(ws, max(0.01, deadline - time.monotonic()))
        if (
            isinstance(msg, dict)
            and msg["type"] == kind
            and all(msg.get(k) == v for k, v in match.items())
        ):
            return msg


async def send(ws, kind: str, **fields) -> None:
    await ws.send(json.dumps({"type": kind, **fields}))


async def collect(ws, seconds: float) -> list:
    """Every message received during ``seconds``."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(await recv(ws, left))
        except asyncio.TimeoutError:
            break
    return out


async def owner(url: str):
    ws = await connect(url + "/ws", max_size=None)
    hello = await recv(ws)
    assert hello["type"] == "hello"
    await until(ws, "data")
    return ws, hello


def run(coro):
    return asyncio.run(coro)


def test_frame_headers_and_pacing(live_server):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await send(ws, "subscribe", grid_resolution=50, fps=10)
            await send(ws, "play")
            await until(ws, "event", event="playing")
            received = await collect(ws, 2.0)
            decision = [m for m in received if isinstance(m, frames.DecodedFrame)]
            for f in decision:
                assert f.header.version == 1 and f.header.kind == 1 and f.header.channels == 2
                assert (f.header.width, f.header.height) == (50, 50)
            steps = [f.header.step for f in decision]
            assert steps == sorted(steps) and steps[-1] > steps[0]
            # Within the subscribed rate: at most 10/s (+1 for the phase), and not starved.
            assert 8 <= len(decision) <= 22, len(decision)
            metrics = [m for m in received if isinstance(m, dict) and m["type"] == "metrics"]
            assert len(metrics) <= 22

    run(main())


def test_pause_stops_the_step_counter(live_server):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await send(ws, "play")
            await until(ws, "metrics", running=True)
            await send(ws, "pause")
            paused = await until(ws, "event", event="paused")
            later = await collect(ws, 0.5)
            await send(ws, "subscribe", fps=30)  # asks for a fresh frame
            later += await collect(ws, 0.3)
            steps = {m["step"] for m in later if isinstance(m, dict) and m["type"] == "metrics"}
            steps |= {m.header.step for m in later if isinstance(m, frames.DecodedFrame)}
            assert steps == {paused["step"]}

    run(main())


def test_live_learning_rate_change_without_reset(live_server):
    async def main():
        ws, hello = await owner(live_server.ws_url)
        async with ws:
            await send(ws, "play")
            before = await until(ws, "metrics", running=True)
            assert before["learning_rate"] == hello["config"]["optimizer"]["learning_rate"]
            await send(ws, "configure", config={"optimizer": {"learning_rate": 0.1}})
            config = await until(ws, "config")
            assert config["config"]["optimizer"]["learning_rate"] == 0.1
            assert config["changed"] == ["optimizer.learning_rate"]
            after = await until(ws, "metrics")  # produced after the change: sent after it
            assert after["learning_rate"] == 0.1
            assert after["step"] >= before["step"]  # no reset

    run(main())


def test_adding_a_unit_keeps_the_loss_continuous(live_server):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await send(
                ws, "configure", config={"optimizer": {"name": "adam", "learning_rate": 0.03}}
            )
            await until(ws, "config")
            await send(ws, "step", steps=1)
            initial = (await until(ws, "metrics", step=1))["train_loss"]
            await send(ws, "play")
            while True:
                m = await until(ws, "metrics", running=True)
                if m["train_loss"] < 0.3 * initial:
                    break
            await send(ws, "pause")
            paused = await until(ws, "event", event="paused")
            await send(ws, "subscribe", fps=30)
            trained = await until(ws, "metrics", step=paused["step"])
            await send(ws, "configure", config={"network": {"hidden_layers": [5, 2]}})
            config = await until(ws, "config")
            assert config["changed"] == ["network.hidden_layers"]
            grown = await until(ws, "metrics", step=paused["step"])
            assert grown["train_loss"] < (trained["train_loss"] + initial) / 2

    run(main())


def test_watcher_sees_the_same_steps(live_server):
    async def main():
        ws, hello = await owner(live_server.ws_url)
        url = f"{live_server.ws_url}/ws/watch/{hello['watch_token']}"
        async with ws, connect(url, max_size=None) as watch:
            whello = await recv(watch)
            assert whello["role"] == "watcher"
            await until(watch, "data")
            await send(ws, "play")
            await until(watch, "event", event="playing")
            await until(watch, "metrics", running=True)
            await send(ws, "pause")
            mine = await until(ws, "event", event="paused")
            theirs = await until(watch, "event", event="paused")
            assert mine["step"] == theirs["step"] > 0
            await send(ws, "step", steps=3)
            target = mine["step"] + 3
            await until(ws, "metrics", step=target)
            await until(watch, "metrics", step=target)
            await send(watch, "reset")
            err = await until(watch, "error")
            assert err["code"] == "read_only"

    run(main())


def test_bad_input_answered_with_errors_or_close_codes(live_server):
    async def main():
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await ws.send("{oops")
            assert (await until(ws, "error"))["code"] == "invalid_json"
            await send(ws, "teleport")
            assert (await until(ws, "error"))["code"] == "unknown_type"
            await send(ws, "subscribe", fps=100)
            err = await until(ws, "error")
            assert (err["code"], err["field"]) == ("invalid_value", "fps")
            await send(ws, "configure", config={"batch_size": 0})
            err = await until(ws, "error")
            assert (err["code"], err["field"]) == ("invalid_value", "config.batch_size")
            await ws.send(json.dumps({"type": "pause", "pad": "x" * (64 * 1024)}))
            with pytest.raises(ConnectionClosed):
                await collect(ws, 5.0)
                await ws.recv()
            assert ws.close_code == 1009
        ws, _ = await owner(live_server.ws_url)
        async with ws:
            await ws.send(b"\x01\x02")
            with pytest.raises(ConnectionClosed):
                await collect(ws, 5.0)
                await ws.recv()
            assert ws.close_code == 1003
        with pytest.raises(ConnectionClosed):
            async with connect(f"{live_server.ws_url}/ws/watch/not-a-token") as w:
                await w.recv()
        assert w.close_code == 1008

    run(main())
