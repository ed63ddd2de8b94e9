"""Helpers of the cluster tests (and the deploy and two-process page tests): a private
``redis-server`` on loopback, ``run``, ``until``, recognisable frames.

Missing binary: the tests fail with a clear message rather than skip (CI must run them).
The server is killable and restartable on the same port, for the outage tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

REDIS_SERVER = os.environ.get("MLPG_REDIS_SERVER", "redis-server")


class RedisServer:
    """``redis-server --port N`` as a child process; ``kill()`` is SIGKILL, ``start()`` again."""

    def __init__(self, port: int) -> None:
        binary = shutil.which(REDIS_SERVER) or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
        if binary is None:
            pytest.fail(
                "redis-server not found: install Debian's redis-server "
                "(apt-get install redis-server) or set MLPG_REDIS_SERVER; "
                "the cluster tests need a real Redis and are never skipped"
            )
        self.binary = binary
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                pytest.fail(f"redis-server exited at start: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not answer within 10 s")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, as a crash or a pulled cable."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one async scenario with an overall deadline (a hang fails, never blocks CI).

    On a hang the stacks of every task are printed, and the test fails even if the
    scenario swallows the cancellation.
    """

    async def bounded() -> T:
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            for t in asyncio.all_tasks():
                print(f"--- task {t.get_name()}", file=sys.stderr)
                t.print_stack(limit=12, file=sys.stderr)
            task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
            raise AssertionError(f"scenario still running after {timeout} s")
        return task.result()

    return asyncio.run(bounded())


async def until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> None:
    """Wait until ``predicate()`` is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def frame(i: int, size: int = 10_000) -> bytes:
    """A recognisable binary frame: the MLPG magic, the index, then filler."""
    head = b"MLPG" + i.to_bytes(4, "little")
    body = bytes(range(i % 251, i % 251 + 5)) * (size // 5 + 1)
    return head + body[: size - len(head)]
