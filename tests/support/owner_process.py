"""A tiny owner process for the two-process test:
``python -m tests.support.owner_process URL PREFIX N`` (from the repository's root).

Registers session ``sid`` (watch token ``tok``), prints ``ready``, and when a watcher joins
publishes N frames (frame i is ``tests.support.cluster.frame(i)``) and one text message, then
ends the stream with 1000 and exits.
"""

from __future__ import annotations

import asyncio
import sys

from mlp_playground.cluster.cluster import Cluster
from tests.support.cluster import frame


async def main(url: str, prefix: str, n: int) -> None:
    cluster = Cluster(url, prefix=prefix, heartbeat=0.2, lease_ttl=1.0)
    await cluster.start()
    joined = asyncio.Event()
    cluster.on_join = lambda sid, watcher: joined.set()
    await cluster.register_session("sid", "tok")
    print("ready", cluster.process_id, flush=True)
    await asyncio.wait_for(joined.wait(), 20)
    for i in range(n):
        cluster.publish("sid", frame(i))
        await asyncio.sleep(1 / 200)
    cluster.publish("sid", '{"type":"done"}')
    cluster.end_stream("sid", 1000, "owner done")
    await asyncio.sleep(0.3)
    await cluster.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
