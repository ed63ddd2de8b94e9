"""Isolation and authority: who may control a session, what a watch token allows, what ids
look like, what /predict needs, what the static mount serves, CORS, the bind address, and
no code-loading primitives in the server."""

from __future__ import annotations

import json
import re
import socket
import string

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.asyncio.client import connect

from mlp_playground.__main__ import main as cli_main
from mlp_playground.app import create_app
from mlp_playground.config import Settings
from tests.support.servers import ROOT
from tests.support.ws import closed_with, owner, recv_json, run, send, until

pytestmark = pytest.mark.timeout(120)
MUTATING = [
    {"type": "configure", "config": {"optimizer": {"learning_rate": 0.5}}},
    {"type": "play"},
    {"type": "pause"},
    {"type": "step", "steps": 5},
    {"type": "reset"},
    {"type": "reseed"},
    {"type": "regenerate"},
    {"type": "add_point", "point": [0, 0], "label": 0},
    {"type": "remove_point", "point": [0, 0]},
    {"type": "clear_points"},
    {"type": "set_data", "points": [[0, 0], [1, 1]], "labels": [0, 1]},
    {"type": "set_weight", "parameter": "dense0.W", "index": [0, 0], "value": 9.0},
    {"type": "subscribe", "fps": 1},
    {"type": "gradcheck", "points": 4},
    {"type": "load_model", "model": {"layers": []}},
]


def test_sessions_are_isolated(live_server):
    async def main():
        a, hello_a = await owner(live_server.ws_url)
        b, hello_b = await owner(live_server.ws_url)
        assert hello_a["session_id"] != hello_b["session_id"]
        assert hello_a["watch_token"] != hello_b["watch_token"]
        await send(a, "configure", config={"optimizer": {"learning_rate": 0.7}})
        assert (await until(a, "config"))["config"]["optimizer"]["learning_rate"] == 0.7
        await send(b, "get_model")
        await until(b, "model")
        await send(b, "configure", config={})
        assert (await until(b, "config"))["config"]["optimizer"]["learning_rate"] == 0.03
        await a.close()
        await b.close()

    run(main())


def test_resuming_a_session_takes_it_from_the_previous_connection(live_server):
    """Knowing the id and the resume key is being the owner: there is one controlling
    connection at a time."""

    async def main():
        a, hello = await owner(live_server.ws_url)
        b, again = await owner(
            live_server.ws_url, f"?session={hello['session_id']}&resume_key={hello['resume_key']}"
        )
        assert again["resumed"] is True and again["session_id"] == hello["session_id"]
        assert await closed_with(a) == 1008
        await send(b, "configure", config={"optimizer": {"learning_rate": 0.2}})
        assert (await until(b, "config"))["config"]["optimizer"]["learning_rate"] == 0.2
        await b.close()

    run(main())


def test_watch_token_is_read_only(live_server):
    async def main():
        ws, hello = await owner(live_server.ws_url)
        watcher = await connect(f"{live_server.ws_url}/ws/watch/{hello['watch_token']}")
        whello = await recv_json(watcher)
        assert whello["role"] == "watcher" and "session_id" not in whello
        for msg in MUTATING:
            await watcher.send(json.dumps(msg))
            err = await until(watcher, "error")
            assert err["code"] == "read_only" and err["request_type"] == msg["type"], err
        await send(watcher, "get_model")
        assert (await until(watcher, "model"))["model"]["format"] == "mlp-playground.model/1"
        # Nothing the watcher sent reached the session.
        await send(ws, "configure", config={})
        config = (await until(ws, "config"))["config"]
        assert config["optimizer"]["learning_rate"] == 0.03
        await send(ws, "get_model")
        model = (await until(ws, "model"))["model"]
        assert model["layers"][0]["weights"][0][0] != 9.0
        # A watch token is not a session id, and an unknown token is refused (1008).
        other, h2 = await owner(live_server.ws_url, f"?session={hello['watch_token']}")
        assert h2["session_id"] != hello["session_id"]
        stranger = await connect(f"{live_server.ws_url}/ws/watch/{'A' * 22}")
        assert await closed_with(stranger) == 1008
        for sock in (ws, watcher, other):
            await sock.close()

    run(main())


def test_ids_and_tokens_are_long_random_and_from_secrets(live_server):
    async def main():
        seen = set()
        for _ in range(10):
            ws, hello = await owner(live_server.ws_url)
            await ws.close()
            for value in (hello["session_id"], hello["watch_token"]):
                assert len(value) >= 22  # 16 random bytes, base64url
                assert set(value) <= set(string.ascii_letters + string.digits + "-_")
                seen.add(value)
        assert len(seen) == 20

    run(main())
    source = (ROOT / "server" / "mlp_playground" / "live" / "registry.py").read_text()
    assert source.count("secrets.token_urlsafe(16)") == 2
    assert not re.search(r"^import random|uuid", source, re.M)


def test_predict_with_a_session_needs_its_id(live_server):
    async def main():
        ws, hello = await owner(live_server.ws_url)
        points = [[0.0, 0.0], [3.0, 3.0]]
        ok = httpx.post(
            live_server.url + "/predict",
            json={"session": hello["session_id"], "points": points},
            timeout=20,
        )
        assert ok.status_code == 200 and len(ok.json()["labels"]) == 2
        for guess in (hello["watch_token"], hello["session_id"][:-1], "0" * 22, ""):
            r = httpx.post(
                live_server.url + "/predict", json={"session": guess, "points": points}, timeout=20
            )
            assert r.status_code == 422, (guess, r.status_code)
            assert r.json()["detail"][0]["field"] == "session"
        await ws.close()

    run(main())


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """An HTTP request with the target exactly as written (clients normalise ``..``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


@pytest.mark.parametrize(
    "target",
    [
        "/../server/mlp_playground/config.py",
        "/../../etc/passwd",
        "/%2e%2e/server/mlp_playground/config.py",
        "/%2e%2e%2fserver%2fconfig.py",
        "/..%2fserver%2fconfig.py",
        "/static/../../etc/passwd",
        "/js/../../server/mlp_playground/config.py",
        "/js/%2e%2e/%2e%2e/server/mlp_playground/config.py",
        "/%252e%252e/server/mlp_playground/config.py",
        "//etc/passwd",
        "/..\\server\\config.py",
        "/js/..%5c..%5cserver%5cconfig.py",
        "/index.html/../../pyproject.toml",
    ],
)
def test_static_files_cannot_escape_static(live_server, target):
    port = int(live_server.url.rsplit(":", 1)[1])
    status, body = raw_get(port, target)
    assert status in (400, 404), (target, status)
    for secret in (b"class Settings", b"root:x:0", b"[project]", b"BaseSettings"):
        assert secret not in body


def test_static_files_are_served(live_server):
    port = int(live_server.url.rsplit(":", 1)[1])
    assert raw_get(port, "/")[0] == 200
    assert raw_get(port, "/js/main.js")[0] == 200


def test_cors_closed_by_default(live_server):
    evil = {"Origin": "http://evil.example"}
    r = httpx.get(live_server.url + "/api/options", headers=evil, timeout=20)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = httpx.options(
        live_server.url + "/train",
        headers={**evil, "Access-Control-Request-Method": "POST"},
        timeout=20,
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_the_listed_origins():
    app = create_app(Settings(cors_origins=["http://school.example"]))
    with TestClient(app) as client:
        good = client.get("/api/options", headers={"Origin": "http://school.example"})
        assert good.headers["access-control-allow-origin"] == "http://school.example"
        bad = client.get("/api/options", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in bad.headers
        pre = client.options(
            "/train",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in pre.headers


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_binds_to_loopback_by_default(live_server, monkeypatch):
    assert Settings().host == "127.0.0.1"
    captured = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(kw))
    cli_main([])
    assert captured["host"] == "127.0.0.1"
    address = _non_loopback_address()
    if address is not None:  # the real server is not reachable from another interface
        port = int(live_server.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=5).close()


def test_no_pickle_eval_or_exec_in_the_server():
    pattern = re.compile(
        # The builtins eval/exec, not a method of that name (torch's ``net.eval()`` in the
        # text of an exported script).
        r"\bimport pickle\b|\bpickle\.|\bmarshal\b|\bshelve\b|(?<![.\w])eval\(|(?<![.\w])exec\(|"
        r"__import__\(|allow_pickle\s*=\s*True|yaml\.load\(|subprocess|os\.system"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "server").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
    js = [
        p
        for p in (ROOT / "static").rglob("*.js")
        # The project's own scripts; static/vendor/ is Swagger UI and ReDoc, served on /docs.
        if "vendor" not in p.relative_to(ROOT / "static").parts
        and re.search(r"\beval\(|new Function\(", p.read_text())
    ]
    assert not js, js


@pytest.mark.parametrize("path", ["/ws", "/ws/watch/anything"])
def test_websocket_from_a_foreign_page_is_refused(path):
    """Websockets are outside CORS: a page from another origin gets an error and 1008."""
    evil = {"Origin": "http://evil.example"}
    with TestClient(create_app()) as client, client.websocket_connect(path, headers=evil) as ws:
        error = json.loads(ws.receive_text())
        assert error["type"] == "error" and error["code"] == "forbidden_origin"
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 1008


def test_websocket_from_own_origin_listed_origin_or_a_script_is_served():
    app = create_app(Settings(cors_origins=["http://school.example"]))
    with TestClient(app) as client:
        for headers in ({"Origin": "http://testserver"}, {"Origin": "http://school.example"}, {}):
            with client.websocket_connect("/ws", headers=headers) as ws:
                assert json.loads(ws.receive_text())["type"] == "hello"


def _status_line(port: int, request: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request.encode())
        return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_a_rebound_host_name_is_refused_on_loopback(live_server):
    """DNS rebinding: a page at evil.example:PORT whose name now resolves to 127.0.0.1 sends
    ``Host: evil.example:PORT`` (and a matching Origin); the loopback server refuses it,
    over REST and on the websocket handshake, and still serves its own names."""
    port = int(live_server.url.rsplit(":", 1)[1])
    for host, status in ((f"evil.example:{port}", 400), (f"localhost:{port}", 200)):
        r = httpx.get(live_server.url + "/api/options", headers={"Host": host}, timeout=20)
        assert r.status_code == status, host
    upgrade = (
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert " 400 " in _status_line(port, upgrade.format(host=f"evil.example:{port}"))
    assert " 101 " in _status_line(port, upgrade.format(host=f"127.0.0.1:{port}"))


def test_host_names_are_checked_only_when_bound_to_loopback(monkeypatch):
    monkeypatch.delenv("MLPG_ALLOWED_HOSTS", raising=False)
    captured = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(app=app, **kw))
    cli_main([])
    assert captured["app"].state.settings.allowed_hosts == ["127.0.0.1", "localhost"]
    cli_main(["--host", "0.0.0.0"])  # a classroom server: reached by its LAN name or address
    assert captured["app"].state.settings.allowed_hosts == []
