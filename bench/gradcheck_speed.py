"""Gradient-check speed on the largest allowed net (10 hidden layers of 256) on 32 points.

Prints the wall time of ``POST /gradcheck`` (in-process app, lifespan started so the
registry has pinned BLAS to one thread) and of a live ``gradcheck`` message round trip.
Usage: python bench/gradcheck_speed.py
"""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient
from threadpoolctl import threadpool_info

from mlp_playground.app import create_app

BIG = {"hidden_layers": [256] * 10, "activation": "tanh"}


def main() -> None:
    with TestClient(create_app()) as client:
        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
        print("BLAS thread pools:", blas)
        body = {"dataset": {"name": "circle", "n_points": 200}, "network": BIG, "points": 32}
        for _ in range(3):
            t = time.perf_counter()
            out = client.post("/gradcheck", json=body).json()
            dt = time.perf_counter() - t
            print(
                f"POST /gradcheck 10x256, 32 points: {dt:.3f} s, {len(out['rows'])} rows, "
                f"worst {out['worst_relative_error']:.2e}"
            )
        with client.websocket_connect("/ws") as ws:
            json.loads(ws.receive_text())  # hello
            ws.send_text(json.dumps({"type": "configure", "config": {"network": BIG}}))
            for _ in range(3):
                ws.send_text(json.dumps({"type": "gradcheck", "points": 32}))
                t = time.perf_counter()
                while True:
                    msg = ws.receive()
                    if msg.get("text") and json.loads(msg["text"])["type"] == "gradcheck":
                        break
                print(f"live gradcheck 10x256, 32 points: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
