"""A class on two app processes behind the shipped deploy/nginx.conf (docs/deploy.md, "A
class on two hosts"): opened through nginx, its students land on both processes
(round-robin), and the teacher's wall, wherever nginx puts it, lists every one of them and
its push reaches them all."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlencode

import pytest

from tests.deploy.test_nginx_proxy import open_ws, proxy_client, until_json, upstream
from tests.support.deploy import Stack

pytestmark = pytest.mark.timeout(90)


def test_a_class_spans_both_processes_behind_nginx(stack: Stack) -> None:
    with proxy_client(stack) as client:
        created = client.post("/classes", json={"title": "behind nginx"})
        assert created.status_code == 201, created.text
        klass = created.json()
        pages = {client.get(klass["join_url"]).headers["X-Upstream"] for _ in range(4)}
        assert pages == stack.backends  # the join page answers on both processes

    async def scenario() -> None:
        students, homes = [], set()
        for i in range(4):  # round-robin: the students alternate between the apps
            query = urlencode({"class": klass["code"], "name": f"student {i}"})
            ws = await open_ws(stack, f"/ws?{query}")
            hello = await until_json(ws, "hello")
            assert hello["class"] == klass["code"], hello
            students.append(ws)
            homes.add(upstream(ws))
        assert homes == stack.backends
        wall = await open_ws(stack, f"/ws/class/{klass['code']}?token={klass['teacher_token']}")
        deadline = time.monotonic() + 20
        while True:
            roster = await until_json(wall, "roster")
            if len(roster["students"]) == 4:
                break
            assert time.monotonic() < deadline, roster
        assert sorted(s["name"] for s in roster["students"]) == [f"student {i}" for i in range(4)]
        await wall.send(json.dumps({"type": "push", "config": {"batch_size": 16}}))
        assert (await until_json(wall, "pushed"))["students"] == 4
        for ws in students:
            event = await until_json(ws, "event")
            while event["event"] != "pushed":
                event = await until_json(ws, "event")
            assert event["changed"] == ["batch_size"], event
            await ws.close()
        await wall.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
