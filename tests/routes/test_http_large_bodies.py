"""Large REST bodies take turns: parsing one costs ~28x its size in memory, so a client may
have one large body (over large_body_bytes) in flight, a second at once is a 429 with
``Connection: close`` before more of it is read, and the server parses max_large_bodies at
a time while other clients' large bodies are still served. JSON nested too deeply for the
parser is a 422 ``json_invalid`` naming ``body``, not a 500."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from mlp_playground.routes import instruments
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer
from tests.routes.test_http_compute_share import ATTACKER, THIRD, VICTIM, clients, until
from tests.support.attack import running_server
from tests.support.ws import run

pytestmark = pytest.mark.timeout(180)

MODEL = instruments.PREDICT_EXAMPLES["model"]["value"]["model"]


def predict_body(n_points: int, digits: int = 3) -> bytes:
    points = ",".join(
        f"[{(i % 97) / 50 - 1:.{digits}f},{(i % 89) / 45 - 1:.{digits}f}]" for i in range(n_points)
    )
    return b'{"model":%s,"points":[%s]}' % (json.dumps(MODEL).encode(), points.encode())


class BlockedPredict:
    """Stands in for /predict's compute: records each call's number of points and waits."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.go = threading.Event()

    def __call__(self, body: Any, *rest: Any) -> JSONResponse:
        self.started.append(len(body.points))
        self.go.wait(20)
        return JSONResponse({"points": len(body.points)})


def test_one_large_body_per_client_at_a_time_and_others_are_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked = BlockedPredict()
    monkeypatch.setattr(instruments, "_predict", blocked)
    settings = Settings(
        database_url="memory://",
        large_body_bytes=20_000,
        max_large_bodies=2,
        max_rest_jobs=4,
    )
    large, other, small = predict_body(2000), predict_body(1900), predict_body(10)
    headers = {"content-type": "application/json"}

    async def main() -> None:
        async with clients(settings, ATTACKER, VICTIM, THIRD) as (attacker, victim, third):

            def post(client: Any, body: bytes) -> asyncio.Task[Any]:
                return asyncio.create_task(client.post("/predict", content=body, headers=headers))

            first = post(attacker, large)
            await until(lambda: blocked.started == [2000])
            again = await attacker.post("/predict", content=large, headers=headers)
            assert again.status_code == 429, again.text
            assert "max_large_bodies_per_client" in again.json()["detail"]
            assert again.headers["connection"] == "close" and again.headers["retry-after"]
            tasks = [post(attacker, small)]  # a small body does not wait for a large one
            await until(lambda: 10 in blocked.started)
            tasks.append(post(victim, other))  # another client: the second large place
            await until(lambda: 1900 in blocked.started)
            tasks.append(post(third, large))  # both places held: it waits its turn
            await asyncio.sleep(0.2)
            assert blocked.started.count(2000) == 1
            blocked.go.set()
            answers = [await t for t in (first, *tasks)]
            assert [a.status_code for a in answers] == [200] * 4
            assert blocked.started.count(2000) == 2  # the third client's was parsed too

    run(main())


def test_a_large_predict_body_with_too_many_points_is_refused_before_it_is_parsed() -> None:
    settings = Settings(database_url="memory://")
    (route,) = instruments._predict_router.routes
    assert isinstance(route, instruments.PredictRoute)
    # The largest legal body: 200,000 points and a model of 10 hidden layers of 256 units.
    config = {"network": {"hidden_layers": [256] * 10}, "dataset": {"n_points": 20}}
    model = Trainer(TrainConfig.from_dict(config)).model_document()
    points = predict_body(200_000).partition(b',"points":')[2]
    legal = b'{"model":%s,"points":%s' % (json.dumps(model).encode(), points)
    assert route.refuse_unparsed(legal, settings) is None
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/predict", content=predict_body(400_000), headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["field"] == "points" and "max_points_predict" in detail["msg"]


@pytest.mark.parametrize("depth", [3_000, 70_000])
def test_json_nested_too_deeply_is_422_json_invalid_naming_body(depth: int) -> None:
    body = b"[" * depth
    with TestClient(create_app(Settings(database_url="memory://"))) as client:
        for path in ("/predict", "/train"):
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (path, r.status_code, r.text[:200])
            detail = r.json()["detail"][0]
            assert detail["field"] == "body" and detail["type"] == "json_invalid", detail


# ----------------------------------------------------------------- against a real server


def post_raw(port: int, source: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    """POST ``body`` with its Content-Length from ``source``, stopping early if the answer
    comes first; (status, head, body of the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=120)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    view = memoryview(body)
    try:
        for start in range(0, len(body), 65536):
            if select.select([sock], [], [], 0)[0]:
                break  # answered before the body was all sent
            sock.sendall(view[start : start + 65536])
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while True:
            head, sep, rest = answer.partition(b"\r\n\r\n")
            length = [int(v) for k, v in _headers(head) if k == "content-length"]
            if sep and length and len(rest) >= length[0]:
                break
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode().lower(), rest


def _headers(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode(errors="replace").split("\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]


def test_three_large_bodies_at_once_from_one_address_cost_the_memory_of_one() -> None:
    body = predict_body(200_000, digits=16)  # ~7.6 MiB: the largest legal /predict
    legal = predict_body(200_000)  # another legal one, from another address
    with running_server() as server:
        base, _ = server.memory_kib()
        status, _, _ = post_raw(server.port, ATTACKER, "/predict", body)
        assert status == 200
        _, one_peak = server.memory_kib()
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(post_raw, server.port, ATTACKER, "/predict", body) for _ in range(3)
            ]
            answers = [f.result() for f in futures]
        _, three_peak = server.memory_kib()
        one, three = (one_peak - base) / 1024, (three_peak - base) / 1024
        # One of them and another address's at once: each has a place of its own.
        with ThreadPoolExecutor(2) as pool:
            mine = pool.submit(post_raw, server.port, ATTACKER, "/predict", body)
            theirs = pool.submit(post_raw, server.port, VICTIM, "/predict", legal)
            both = [mine.result()[0], theirs.result()[0]]
        print(
            f"\n{len(body) / 2**20:.1f} MiB /predict bodies from one address: peak RSS growth "
            f"{one:.0f} MiB for one, {three:.0f} MiB after three at once "
            f"(answers {sorted(a[0] for a in answers)}); with another address at once {both}"
        )
        assert sorted(a[0] for a in answers) == [200, 429, 429]
        for status, head, rest in answers:
            if status == 429:
                assert "connection: close" in head and "retry-after" in head
                assert "max_large_bodies_per_client" in json.loads(rest)["detail"]
        assert both == [200, 200]
        assert three < one * 1.5, (one, three)  # three parsed at once would be ~3x one
