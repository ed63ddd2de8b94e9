"""The app assembles and serves health and the page."""

import os
import subprocess
import sys


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_index_served(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "MLP Playground" in r.text


def test_cli_starts_a_real_server(live_server):
    import httpx

    assert httpx.get(live_server.url + "/healthz").status_code == 200


BLOCK_REDIS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "redis" or name.startswith("redis."):
            raise ImportError("redis is not installed here")
sys.meta_path.insert(0, Block())
from fastapi.testclient import TestClient
from mlp_playground.app import create_app
with TestClient(create_app()) as client, client.websocket_connect("/ws") as ws:
    assert ws.receive_json()["type"] == "hello"
    client.get("/healthz").raise_for_status()
print("cluster" if "mlp_playground.cluster" in sys.modules else "alone")
"""


def test_the_single_process_server_runs_without_the_redis_package():
    """Redis is an optional extra: without MLPG_REDIS_URL nothing imports it."""
    env = {k: v for k, v in os.environ.items() if k != "MLPG_REDIS_URL"}
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_REDIS], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alone"
