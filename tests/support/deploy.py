"""Helpers of the deployment tests: Debian's nginx, run on loopback from deploy/nginx.conf.

What is tested is what ships: the shipped file is read and only its ``server`` lines (the
upstream addresses), its ``listen`` line and ``worker_processes`` are rewritten; what a
non-root run in a temp dir needs (pid, temp paths, logs in that dir, no daemon) and one
response header naming the backend (``X-Upstream: $upstream_addr``, so a test can tell
the two app processes apart) are added. Missing nginx: the tests fail with a clear
message rather than skip (CI must run them; scripts/test installs it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cluster import RedisServer
from tests.support.servers import ROOT, ServerProcess

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
COMPOSE_FILE = ROOT / "docker-compose.yml"


def nginx_binary() -> str:
    """Debian's nginx lives in /usr/sbin, which a non-root PATH may leave out."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if binary is None:
        pytest.fail(
            "nginx not found: install Debian's nginx (apt-get install nginx; scripts/test "
            "does it); the reverse-proxy test runs deploy/nginx.conf for real and is never "
            "skipped"
        )
    return binary


def _replace_once(pattern: str, replacement: str, text: str) -> str:
    """Substitute exactly one match: if the shipped file changes shape, say so loudly."""
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"deploy/nginx.conf: expected one match of {pattern!r}, found {count}"
    return new


def loopback_config(shipped: str, listen_port: int, backends: list[int], workdir: Path) -> str:
    """deploy/nginx.conf with loopback addresses, made runnable by this user in ``workdir``."""
    upstream = re.findall(r"^\s*server\s+\S+:\d+;", shipped, flags=re.MULTILINE)
    assert len(upstream) == len(backends), f"deploy/nginx.conf upstream servers: {upstream}"
    ports = iter(backends)
    text = re.sub(
        r"^(\s*)server\s+\S+:\d+;",
        lambda m: f"{m.group(1)}server 127.0.0.1:{next(ports)};",
        shipped,
        flags=re.MULTILINE,
    )
    text = _replace_once(r"^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{listen_port};", text)
    # The machine's two cores are shared; one worker also makes round-robin exact.
    text = _replace_once(r"^worker_processes auto;", "worker_processes 1;", text)
    head = [
        "daemon off;",
        f"pid {workdir}/nginx.pid;",
        f"error_log {workdir}/error.log info;",
    ]
    if os.geteuid() == 0:
        # As root, workers would switch to `nobody`, who cannot enter pytest's temp dir.
        head.append("user root;")
    temp = "\n".join(
        f"    {kind}_temp_path {workdir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = _replace_once(r"^http \{", f"http {{\n{temp}", text)
    text = _replace_once(
        r"^(\s*)access_log /var/log/nginx/access.log playground;",
        rf"\g<1>access_log {workdir}/access.log playground;",
        text,
    )
    text = _replace_once(
        r"^(\s*)server_name _;",
        r"\g<0>\n\g<1>add_header X-Upstream $upstream_addr always;",
        text,
    )
    return "\n".join(head) + "\n" + text


class Nginx:
    """nginx in the foreground as a child process, on a loopback port."""

    def __init__(self, port: int, backends: list[int], workdir: Path) -> None:
        self.binary = nginx_binary()
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.workdir = workdir
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(
            loopback_config(NGINX_CONF.read_text(), port, backends, workdir), encoding="utf-8"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def _command(self, *extra: str) -> list[str]:
        # -e: the error log before the config is read (Debian's default is root's file).
        return [
            self.binary,
            "-p",
            str(self.workdir),
            "-c",
            str(self.conf),
            "-e",
            str(self.workdir / "error.log"),
            *extra,
        ]

    def start(self, timeout: float = 10.0) -> None:
        check = subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx -t refused the config:\n{check.stderr}"
        # A session (process group) of its own: stop() can end the master and its workers
        # together, by that group's id, even if the master dies first.
        self.proc = subprocess.Popen(
            self._command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited at start:\n{self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen within {timeout} s:\n{self.errors()}")

    def errors(self) -> str:
        log = self.workdir / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        """SIGTERM (nginx's fast shutdown: open websockets do not hold it), then SIGKILL
        to its whole process group: neither the master nor a worker outlives the test."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stray workers of this nginx only
        self.proc = None


#: The name the test's clients give nginx, which passes it on in ``Host``. 127.0.0.1 too:
#: ServerProcess asks each app's /healthz directly.
PROXY_NAME = "playground.test"


@dataclass
class Stack:
    """What the deploy tests run against: Redis, two app processes, nginx in front."""

    redis: RedisServer
    apps: list[ServerProcess]
    nginx: Nginx

    @property
    def backends(self) -> set[str]:
        """The upstream addresses nginx reports (``$upstream_addr``), one per app."""
        return {f"127.0.0.1:{app.port}" for app in self.apps}
