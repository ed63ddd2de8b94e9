"""Snapshot churn: what one client opening and closing big sessions costs the database.

    python bench/snapshot_churn.py                  # 20 s, two loops, both attacks
    python bench/snapshot_churn.py --seconds 20 --loops 2

The attack of the classroom-safety issue, from 127.0.0.2 against a real server on an
SQLite file: each loop connects, configures ten hidden layers of 256 units, closes, and
starts again. "configure only" is that attack as reported (the sessions never train, so
they get no snapshot); "configure and train" also plays each session for a moment before
closing, so that every session has a snapshot worth keeping (~5 MB of weights, ~16 MB
with Adam's moments): there the per-client share (``max_snapshot_bytes_per_client``,
64 MiB) bounds the growth. Meanwhile a victim on 127.0.0.1 trains a session, leaves it,
and after the churn resumes it: its snapshot must still be there.

Printed: the database's growth (file + WAL), the server's resident memory growth, how many
sessions the attacker opened, and whether the victim resumed its session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from _common import start_server
from websockets.asyncio.client import connect

BIG = {"network": {"hidden_layers": [256] * 10}, "optimizer": {"name": "adam"}}


def db_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("bench.db*"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _recv_until(ws, kind: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        if isinstance(msg, str):
            data = json.loads(msg)
            if data.get("type") == kind:
                return data


async def _churn(ws_url: str, train: bool, stop: asyncio.Event, opened: list[int]) -> None:
    while not stop.is_set():
        try:
            async with connect(
                ws_url + "/ws", max_size=None, open_timeout=20, local_addr=("127.0.0.2", 0)
            ) as ws:
                hello = json.loads(await ws.recv())
                if hello.get("type") != "hello":  # refused: over its share of sessions
                    await asyncio.sleep(0.05)
                    continue
                opened[0] += 1
                await ws.send(json.dumps({"type": "configure", "config": BIG}))
                if train:
                    await ws.send(json.dumps({"type": "step", "n": 3}))
                    await _recv_until(ws, "metrics")
        except Exception:  # a refusal (1013) or a timeout: try again, as an attacker would
            await asyncio.sleep(0.05)


async def _victim_leaves(ws_url: str) -> tuple[str, str, int]:
    async with connect(ws_url + "/ws", max_size=None) as ws:
        hello = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "step", "n": 50}))
        step = (await _recv_until(ws, "metrics"))["step"]
    return hello["session_id"], hello["resume_key"], int(step)


async def _victim_resumes(ws_url: str, sid: str, key: str) -> int | None:
    async with connect(f"{ws_url}/ws?session={sid}&resume_key={key}", max_size=None) as ws:
        hello = json.loads(await ws.recv())
        if hello.get("session_id") != sid:
            return None
        return int(hello.get("step", -1))


def run(seconds: float, loops: int, train: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            "MLPG_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "MLPG_SESSION_GRACE_SECONDS": "1",
        }
        proc, url = start_server(env)
        ws_url = url.replace("http", "ws")

        async def main() -> dict[str, float]:
            sid, key, step = await _victim_leaves(ws_url)
            await asyncio.sleep(2.5)  # the victim's session leaves memory: only its snapshot
            db0, rss0 = db_bytes(folder), rss_kib(proc.pid)
            stop, opened = asyncio.Event(), [0]
            tasks = [asyncio.create_task(_churn(ws_url, train, stop, opened)) for _ in range(loops)]
            peak_rss = rss0
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds:
                await asyncio.sleep(0.25)
                peak_rss = max(peak_rss, rss_kib(proc.pid))
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(3)  # grace periods end, final snapshots are written
            growth = db_bytes(folder) - db0
            resumed = await _victim_resumes(ws_url, sid, key)
            return {
                "opened": opened[0],
                "db_mb": growth / 1e6,
                "rss_mb": (peak_rss - rss0) / 1024,
                "victim_ok": float(resumed is not None and resumed >= step),
            }

        try:
            return asyncio.run(main())
        finally:
            proc.terminate()
            proc.communicate(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--loops", type=int, default=2)
    args = ap.parse_args()
    print(f"{args.loops} churn loops from 127.0.0.2 for {args.seconds:g} s, SQLite file")
    for train, label in ((False, "configure only"), (True, "configure and train")):
        r = run(args.seconds, args.loops, train)
        print(
            f"  {label:20s}: {r['opened']:.0f} sessions opened, database +{r['db_mb']:.1f} MB, "
            f"server memory peak +{r['rss_mb']:.0f} MB, victim resumed: "
            f"{'yes' if r['victim_ok'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
