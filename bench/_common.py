"""What the benchmarks share: a loopback port, a server subprocess, RSS, CPU from /proc, a
private redis-server.

bench/ is a folder of scripts, not a package: ``python bench/x.py`` puts this folder on
``sys.path``, so each script imports ``_common``. The package comes from the installed
project; what the benchmarks share with the tests (the fuzzer, the load generator,
Chromium's flags) lives in ``tests.support``, so this module also puts the checkout's root
on ``sys.path``: a script imports ``_common`` before ``tests.support`` (isort's order,
third-party before first-party, keeps it so).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))  # after bench/ itself, for ``tests.support``


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = 30.0,
    capture: bool = False,
    workers: int = 1,
) -> tuple[subprocess.Popen, str]:
    """``python -m mlp_playground`` on a loopback port, once /healthz answers: (process, http URL).

    ``capture`` keeps its output on a pipe (to look for tracebacks), else it is discarded.
    ``workers`` > 1 passes ``--workers N`` (the environment must then give MLPG_REDIS_URL);
    the process returned is the supervisor (worker_pool.py), the workers are its children.
    """
    port = port or free_port()
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    args = [sys.executable, "-m", "mlp_playground", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        # A benchmark keeps nothing: no runs or snapshots in the user's real database.
        env={"MLPG_DATABASE_URL": "memory://", **os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not answer /healthz in time")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), from /proc/<pid>/stat."""
    return cpu_seconds_path(Path(f"/proc/{pid}/stat"))


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (``--workers`` processes, multiprocessing helpers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid`` (thread id -> seconds)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        out[int(task.name)] = cpu_seconds_path(task / "stat")
    return out


def cpu_seconds_path(stat: Path) -> float:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RedisServer:
    """Debian's ``redis-server`` on a free loopback port, run in ``directory``, no persistence."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise SystemExit("redis-server not found: apt-get install redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(directory)]  # fmt: skip
        self.proc = subprocess.Popen(args, cwd=directory, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("redis-server exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("redis-server did not answer PING in time")

    def server_env(self, directory: Path) -> dict[str, str]:
        """What a server process needs to be one of a cluster on this Redis: its URL, a
        fresh key prefix and a fresh SQLite file in ``directory`` (nothing of an earlier
        measurement carries over)."""
        name = uuid.uuid4().hex[:8]
        return {
            "MLPG_REDIS_URL": self.url,
            "MLPG_REDIS_PREFIX": f"b{name}",
            "MLPG_DATABASE_URL": f"sqlite:///{directory / f'{name}.sqlite'}",
        }

    def stop(self) -> None:
        stop_server(self.proc)
