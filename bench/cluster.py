"""Cross-process stream benchmark: publish -> Redis pub/sub -> local fan-out (issue 12).

    python bench/cluster.py                 # about 25 s; prints the figures
    python bench/cluster.py --seconds 10 --watchers 300 --size 10000 --fps 30

One owner process publishes 10 KB binary frames (slot ``frame``) for one session; two
watcher processes (two ``Cluster`` objects, as two server workers) each hold half of the
watchers, every watcher a ``LatestWinsInbox`` drained by its own task (as a websocket
sender would). A private ``redis-server`` on a free loopback port carries the stream.
Run twice: paced at the asked frame rate, then unpaced (as fast as the owner can publish)
to show the headroom. Figures: frames/s per watcher (min / median), CPU per frame in the
owner, in each watcher process (per frame and per delivery) and in redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.inbox import LatestWinsInbox, StreamEnded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (for redis-server)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(8).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


# --- a watcher process ---------------------------------------------------------------------


async def watcher_main(url: str, prefix: str, n: int) -> None:
    """Watch session ``sid`` with ``n`` inboxes; print ready, then the stats at the end."""
    cluster = Cluster(url, prefix=prefix)
    await cluster.start()
    entry = await cluster.lookup_watch_token("tok")
    assert entry is not None, "owner not registered"
    counts = [0] * n
    first: list[float] = []
    cpu0: list[float] = []

    async def drain(i: int, box: LatestWinsInbox) -> None:
        try:
            while True:
                await box.get()
                if not first:
                    first.append(time.monotonic())
                    cpu0.append(time.process_time())
                counts[i] += 1
        except StreamEnded:
            return

    boxes = [LatestWinsInbox() for _ in range(n)]
    for box in boxes:
        assert await cluster.watch(entry, box) is not None
    print("ready", flush=True)
    await asyncio.gather(*(drain(i, b) for i, b in enumerate(boxes)))
    cpu, wall = time.process_time() - cpu0[0], time.monotonic() - first[0]
    print(json.dumps({"counts": counts, "cpu": cpu, "wall": wall,
                      "frames": cluster.subscriber.messages,
                      "replaced": sum(b.replaced for b in boxes)}), flush=True)  # fmt: skip
    await cluster.close()


# --- the owner -----------------------------------------------------------------------------


async def owner_run(url: str, watchers: int, seconds: float, size: int, fps: float) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    owner = Cluster(url, prefix=prefix)
    await owner.start()
    await owner.register_session("sid", "tok")
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--watcher", url, prefix, str(watchers // 2)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None
        line = await asyncio.to_thread(p.stdout.readline)
        assert line.strip() == "ready", line
    while not owner.is_watched_elsewhere("sid"):
        await asyncio.sleep(0.01)
    head = b"MLPG\x01\x01\x02\x00"
    payloads = [head + i.to_bytes(4, "little") + bytes(size - 12) for i in range(256)]
    loop = asyncio.get_running_loop()
    cpu0, t0 = time.process_time(), loop.time()
    sent = 0
    while loop.time() - t0 < seconds:
        owner.publish("sid", payloads[sent % 256], "frame")
        sent += 1
        if fps > 0:
            await asyncio.sleep(max(0.0, t0 + sent / fps - loop.time()))
        else:
            await asyncio.sleep(0)
    wall, cpu = loop.time() - t0, time.process_time() - cpu0
    await asyncio.sleep(0.2)
    owner.end_stream("sid", 1000, "done")
    stats = []
    for p in procs:
        assert p.stdout is not None
        stats.append(json.loads(await asyncio.to_thread(p.stdout.readline)))
        p.wait(10)
    published = owner.publisher.published - 1  # the end message
    await owner.close()
    return {"sent": sent, "wall": wall, "owner_cpu": cpu, "published": published,
            "stats": stats}  # fmt: skip


def report(label: str, r: dict, redis_cpu: float, watchers: int) -> None:
    per = [c / r["wall"] for s in r["stats"] for c in s["counts"]]
    print(f"{label}: {r['sent'] / r['wall']:.1f} frames/s published "
          f"({r['published']} Redis PUBLISH for {r['sent']} publish calls)")  # fmt: skip
    print(f"  {watchers} watchers over 2 processes: frames/s each min {min(per):.1f}, "
          f"median {statistics.median(per):.1f}, max {max(per):.1f}")  # fmt: skip
    print(f"  owner CPU {1e6 * r['owner_cpu'] / max(1, r['sent']):.0f} us/frame "
          f"({100 * r['owner_cpu'] / r['wall']:.1f}% of a core)")  # fmt: skip
    for i, s in enumerate(r["stats"]):
        n, frames = len(s["counts"]), max(1, s["frames"])
        print(f"  watcher process {i}: {frames} channel messages, CPU "
              f"{1e6 * s['cpu'] / frames:.0f} us/message, "
              f"{1e6 * s['cpu'] / (frames * n):.1f} us/delivery to {n} watchers "
              f"({100 * s['cpu'] / s['wall']:.1f}% of a core), "
              f"{s['replaced']} frames replaced unsent")  # fmt: skip
    print(f"  redis-server CPU {1e6 * redis_cpu / max(1, r['published']):.0f} us/frame "
          f"({100 * redis_cpu / r['wall']:.1f}% of a core)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--watchers", type=int, default=300)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--watcher", nargs=3, metavar=("URL", "PREFIX", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.watcher:
        url, prefix, n = args.watcher
        asyncio.run(watcher_main(url, prefix, int(n)))
        return
    redis_proc, url = start_redis()
    try:
        for label, fps in ((f"paced at {args.fps:g} fps", args.fps), ("unpaced", 0.0)):
            before = proc_cpu(redis_proc.pid)
            r = asyncio.run(owner_run(url, args.watchers, args.seconds, args.size, fps))
            report(f"{label}, {args.size} B frames", r, proc_cpu(redis_proc.pid) - before,
                   args.watchers)  # fmt: skip
    finally:
        redis_proc.terminate()
        redis_proc.wait(5)


if __name__ == "__main__":
    main()
