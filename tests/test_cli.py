"""The CLI and the Dockerfile's CMD start a real server whose /healthz answers."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read().decode()}")
        try:
            r = httpx.get(url + "/healthz", timeout=1)
            if r.status_code == 200:
                return r.json()["status"]
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("no answer on /healthz")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode()


def test_python_m_server_answers_healthz(server_factory):
    server = server_factory()
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/api/options").status_code == 200


def test_cli_binds_loopback_and_prints_the_url():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp_playground", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_healthy(proc, f"http://127.0.0.1:{port}") == "ok"
    finally:
        out = _stop(proc)
    assert f"http://127.0.0.1:{port}" in out


def _docker_cmd() -> list[str]:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile has no exec-form CMD"
    return json.loads(match.group(1))


def test_dockerfile_cmd_starts_the_server_outside_docker():
    cmd = _docker_cmd()
    assert cmd[:1] == ["mlp-playground"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    port = free_port()
    cmd[cmd.index("--port") + 1] = str(port)  # the container's 8000 may be taken here
    exe = shutil.which(cmd[0])
    if exe is None:  # not installed as a script: run the same entry point
        cmd = [sys.executable, "-m", "mlp_playground", *cmd[1:]]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    try:
        assert _wait_healthy(proc, f"http://127.0.0.1:{port}") == "ok"
    finally:
        _stop(proc)


def test_dockerfile_healthcheck_command_passes_against_a_server(live_server):
    match = re.search(r"^HEALTHCHECK [^\[]*?CMD\s+(\[[^\n]*\])$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile has no exec-form HEALTHCHECK"
    cmd = json.loads(match.group(1))
    assert cmd[0] == "python"
    cmd = [sys.executable, *(arg.replace(":8000/", f":{live_server.port}/") for arg in cmd[1:])]
    assert subprocess.run(cmd, timeout=30).returncode == 0
    dead = [a.replace(f":{live_server.port}/", f":{free_port()}/") for a in cmd]
    assert subprocess.run(dead, timeout=30, capture_output=True).returncode != 0


@pytest.mark.parametrize(
    "pattern",
    [
        r"^FROM python:3\.11-slim",
        r"^USER (?!root)\w+",
        r"^HEALTHCHECK .*CMD .*urllib.*/healthz",
        r"^EXPOSE 8000",
    ],
)
def test_dockerfile_has(pattern):
    assert re.search(pattern, DOCKERFILE, re.MULTILINE | re.DOTALL), pattern


def test_dockerfile_installs_dependencies_before_copying_the_code():
    lines = DOCKERFILE.splitlines()
    pyproject = next(i for i, line in enumerate(lines) if line.startswith("COPY pyproject.toml"))
    install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY server"))
    assert pyproject < install < code
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", "tests", "**/__pycache__"} <= set(ignored)
