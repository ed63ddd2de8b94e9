"""The built wheel installs in a fresh virtual environment and serves from anywhere.

A checkout keeps ``static/`` beside ``server/``; an installed wheel must carry the page
inside its ``mlp_playground`` package, start from any working directory and serve the
page, its scripts, the vendored API docs, and ``--version``.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlp_playground import __version__
from tests.support.servers import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv's python with only the built wheel installed as mlp_playground.

    The venv sees this interpreter's packages (numpy, fastapi...) so nothing is downloaded
    but the build backend; the wheel itself goes into the venv's own site-packages, which
    come before the editable checkout on its path.
    """
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(root), str(ROOT)],
        check=True,
        cwd=root,
    )
    (wheel,) = root.glob("mlp_playground-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    yield python


def test_the_wheel_carries_the_package_and_not_the_checkout(installed: Path) -> None:
    where = subprocess.run(
        [str(installed), "-c", "import mlp_playground as m; print(m.__file__, m.STATIC_DIR)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=installed.parent,
    ).stdout.split()
    venv_dir = installed.parent.parent
    assert Path(where[0]).is_relative_to(venv_dir), where
    assert Path(where[1]).is_relative_to(venv_dir) and (Path(where[1]) / "index.html").is_file()
    blocked = subprocess.run(
        [str(installed), "-c", "import server"], capture_output=True, cwd=installed.parent
    )
    assert blocked.returncode != 0  # no generic top-level name installed


def test_the_installed_command_prints_its_version(installed: Path) -> None:
    out = subprocess.run(
        [str(installed.parent / "mlp-playground"), "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=installed.parent,
    )
    assert out.stdout.strip() == f"mlp-playground {__version__}"


def test_the_installed_server_serves_page_scripts_and_docs(installed: Path, tmp_path: Path) -> None:
    server = ServerProcess(free_port(), python=str(installed), cwd=tmp_path)
    server.start(timeout=30)
    try:
        page = httpx.get(server.url + "/", timeout=10)
        assert page.status_code == 200 and "<canvas" in page.text
        script = httpx.get(server.url + "/js/main.js", timeout=10)
        assert script.status_code == 200 and "import" in script.text
        assert "javascript" in script.headers["content-type"]
        docs = httpx.get(server.url + "/docs", timeout=10)
        assert docs.status_code == 200 and "/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
        bundle = httpx.get(server.url + "/vendor/swagger-ui/swagger-ui-bundle.js", timeout=10)
        assert bundle.status_code == 200 and len(bundle.content) > 100_000
        assert httpx.get(server.url + "/api/options", timeout=10).status_code == 200
        lessons = httpx.get(server.url + "/api/lessons", timeout=10).json()  # data files ship
        assert "multilayer-networks" in [lesson["id"] for lesson in lessons]
    finally:
        server.stop()
