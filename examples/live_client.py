"""A minimal live client: connect, configure, train for a few seconds, print the loss.

    python examples/live_client.py --url ws://127.0.0.1:8000 --seconds 3

It uses only the ``websockets`` library and the standard library, and shows the whole
protocol loop (docs/protocol.md): read ``hello`` and ``data``, send ``configure`` and
``subscribe``, ``play``, read ``metrics`` and binary frames, ``pause``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import time

from websockets.asyncio.client import connect

HEADER = struct.Struct("<4sBBHIHH")  # magic, version, kind, channels, step, width, height


async def main(url: str, seconds: float) -> None:
    async with connect(url.rstrip("/") + "/ws", max_size=None) as ws:
        hello = json.loads(await ws.recv())
        print(f"session {hello['session_id']} (watch token {hello['watch_token']})")
        await ws.send(
            json.dumps(
                {
                    "type": "configure",
                    "config": {
                        "dataset": {"name": "spiral", "n_points": 300},
                        "network": {"hidden_layers": [16, 16], "activation": "relu"},
                        "optimizer": {"name": "adam", "learning_rate": 0.01},
                    },
                }
            )
        )
        await ws.send(json.dumps({"type": "subscribe", "grid_resolution": 50, "fps": 5}))
        await ws.send(json.dumps({"type": "play"}))
        frames = 0
        last = None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if isinstance(message, bytes):
                magic, _version, kind, _channels, _step, _w, _h = HEADER.unpack_from(message)
                assert magic == b"MLPG"
                frames += kind == 1
                continue
            msg = json.loads(message)
            if msg["type"] == "metrics":
                last = msg
                print(
                    f"step {msg['step']:>6}  loss {msg['train_loss']:.4f}  "
                    f"accuracy {msg['train_accuracy']:.3f}  {msg['steps_per_second']:.0f} steps/s"
                )
            elif msg["type"] == "error":
                print(f"error {msg['code']}: {msg['message']}")
        await ws.send(json.dumps({"type": "pause"}))
        if last is not None:
            print(
                f"final loss {last['train_loss']:.4f} after {last['step']} steps, {frames} frames"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8000", help="server (ws://host:port)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to train")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.seconds))
