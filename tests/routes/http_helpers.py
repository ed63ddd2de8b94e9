"""A real ``python -m mlp_playground`` on a loopback port, for the HTTP guard tests: they
need a real socket (chunked bodies, a client's source address, the server's own log)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The process, its URL, its output and its memory (``/proc/<pid>/status``)."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: object) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        self.log.seek(0)  # type: ignore[attr-defined]
        return self.log.read().decode(errors="replace")  # type: ignore[attr-defined]

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in KiB: the resident size now and its peak so far."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@contextmanager
def running_server(env: dict[str, str] | None = None, *args: str) -> Iterator[Server]:
    port = _free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    full_env = {
        **os.environ,
        "MLPG_DATABASE_URL": "memory://",
        "MLPG_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp_playground", "--port", str(port), *args],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(proc, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{server.output()}")
            try:
                if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def client_from(address: str, base_url: str) -> httpx.Client:
    """An httpx client whose connections leave from ``address`` (127.0.0.2: the attacker)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60)
