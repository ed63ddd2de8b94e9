"""A private, offline JupyterLab for the widget test: its own config, data, runtime and
settings folders under a temporary root, a kernel that runs this Python, and nothing that
reaches the internet (no news feed, no update check, a read-only extension manager; any
HTTP(S) the server or kernel still tried would go to a dead proxy on loopback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

LAB_CONFIG = """\
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.IdentityProvider.token = {token!r}
c.ServerApp.allow_root = True  # CI runs as root
c.ServerApp.root_dir = {root!r}
c.ServerApp.terminals_enabled = False
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.LabApp.expose_app_in_browser = True
c.LabApp.user_settings_dir = {settings!r}
c.LabApp.workspaces_dir = {workspaces!r}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# JupyterLab's own "fetch news / check for updates?" question, answered no in advance.
NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}


class JupyterLab:
    """``jupyter lab`` on a free loopback port; ``stop()`` ends it and its kernels."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.token = "mlpg-" + os.urandom(8).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        home = Path(tempfile.mkdtemp(prefix="mlpg-jupyter-"))
        self.home = home
        config, data, settings = home / "config", home / "path", home / "settings"
        kernel_dir = data / "kernels" / "python3"
        kernel_dir.mkdir(parents=True)
        # The kernel is this interpreter (the one with mlp_playground installed), whatever
        # `python` on PATH is.
        (kernel_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                }
            )
        )
        notif = settings / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True)
        (notif / "notification.jupyterlab-settings").write_text(json.dumps(NOTIFICATION_SETTINGS))
        config.mkdir()
        (config / "jupyter_lab_config.py").write_text(
            LAB_CONFIG.format(
                token=self.token,
                root=str(root),
                settings=str(settings),
                workspaces=str(home / "workspaces"),
            )
        )
        dead_proxy = "http://127.0.0.1:9"
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_PATH": str(data),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "HTTP_PROXY": dead_proxy,
            "HTTPS_PROXY": dead_proxy,
            "http_proxy": dead_proxy,
            "https_proxy": dead_proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}"],
            cwd=self.root,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.output()}")
            try:
                answer = httpx.get(f"{self.url}/api/status?token={self.token}", timeout=2)
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not answer in time:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        """Shut the server down (it shuts its kernels down), then make sure it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            httpx.post(f"{self.url}/api/shutdown?token={self.token}", timeout=5)
            self.proc.wait(timeout=20)
        except (httpx.HTTPError, subprocess.TimeoutExpired):
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def notebook(cells: list[str]) -> dict:
    """A minimal nbformat 4 notebook of code cells, for the Python 3 kernel."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
