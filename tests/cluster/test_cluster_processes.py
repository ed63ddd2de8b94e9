"""Two real OS processes: frames published by one arrive byte-identical in the other."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.inbox import LatestWinsInbox, StreamEnded
from tests.support.cluster import RedisServer, frame, run
from tests.support.servers import ROOT

OWNER = "tests.support.owner_process"


def test_frames_cross_two_os_processes(redis_server: RedisServer, prefix: str) -> None:
    n = 40
    owner = subprocess.Popen(
        [sys.executable, "-m", OWNER, redis_server.url, prefix, str(n)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline().split()
        assert line[:1] == ["ready"], line

        async def scenario() -> None:
            b = Cluster(redis_server.url, prefix=prefix)
            await b.start()
            try:
                entry = await b.lookup_watch_token("tok")
                assert entry is not None and entry.process == line[1] != b.process_id
                box = LatestWinsInbox()
                watch = await b.watch(entry, box, cap=5)
                assert watch is not None
                got = []
                try:
                    while True:
                        got.append(await asyncio.wait_for(box.get(), 20))
                except StreamEnded as end:
                    assert (end.code, end.reason) == (1000, "owner done")
                assert got == [*(frame(i) for i in range(n)), '{"type":"done"}']
                await b.unwatch(watch)
            finally:
                await b.close()

        run(scenario())
        assert owner.wait(20) == 0
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(5)
