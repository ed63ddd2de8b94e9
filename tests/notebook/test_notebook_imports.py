"""The notebook package is a client: the engine and the server never import it, and it
imports nothing of the server's live side or routes (it talks HTTP and the websocket)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PACKAGE = ROOT / "server" / "mlp_playground"
NOTEBOOK = PACKAGE / "notebook"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_outside_notebook_imports_it():
    offenders = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if NOTEBOOK not in p.parents
        and any(n.startswith("mlp_playground.notebook") for n in imported(p))
    ]
    assert not offenders, offenders


def test_notebook_imports_no_server_internals():
    forbidden = ("mlp_playground.live", "mlp_playground.routes", "mlp_playground.app")
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in imported(p) if n.startswith(forbidden))
        for p in NOTEBOOK.rglob("*.py")
    }
    assert not any(offenders.values()), offenders


def test_widget_front_end_ships_with_the_package():
    js = (NOTEBOOK / "widget.js").read_text()
    assert "export default" in js and "http" not in js.replace("https://", "")  # no CDN
    assert "import " not in js  # one self-contained module, no build step
    assert (NOTEBOOK / "widget.css").is_file()
