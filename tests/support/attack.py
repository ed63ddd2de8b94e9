"""The attacker's side of the safety tests: a real server (``ServerProcess``) whose memory
can be read, and HTTP clients and websockets whose connections leave from a chosen
loopback address (127.0.0.2: the attacker; 127.0.0.1 and 127.0.0.3: everyone else), so
every per-client limit sees two different clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.support.servers import ServerProcess, free_port


class Server(ServerProcess):
    """A server process whose resident memory the test can read."""

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in KiB: the resident size now and its peak so far."""
        assert self.proc is not None
        lines = Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@contextmanager
def running_server(env: dict[str, str] | None = None, *args: str) -> Iterator[Server]:
    """A fresh server (in-memory store, loopback host names) for one test."""
    full_env = {
        "MLPG_DATABASE_URL": "memory://",
        "MLPG_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
        **(env or {}),
    }
    server = Server(free_port(), env=full_env, args=args)
    server.start(timeout=30)
    try:
        yield server
    finally:
        server.stop()


def client_from(address: str, base_url: str) -> httpx.Client:
    """An httpx client whose connections leave from ``address``."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60)


@contextmanager
def ws_from(address: str, url: str, max_size: int | None = 2**20) -> Iterator[ClientConnection]:
    """A websocket whose connection leaves from ``address`` (``max_size``: its largest
    message; None for any, a model document of the largest net is ~12 MB)."""
    with connect(url, source_address=(address, 0), open_timeout=20, max_size=max_size) as ws:
        yield ws
