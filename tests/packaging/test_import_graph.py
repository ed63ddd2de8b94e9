"""Imports point one way and never go round in a circle (docs/design.md, "Layout").

Every module under server/mlp_playground is parsed with ``ast`` (nothing is imported), and
every import counts: top-level ones, those under ``if TYPE_CHECKING:`` and those inside
functions. Why type-only and deferred imports count too: each one is a real dependency
(mypy, a reader and the next refactoring all follow it), and a circle hidden behind
``TYPE_CHECKING`` or a function-level import becomes a runtime circle the day someone
moves the import up.

Checked: (a) no circle between modules; (b) no module imports one of a higher layer
(``LAYERS``); (c) nn/ and data/ import none of the web or storage stack, and nn/ nothing but
numpy, the standard library and itself; (d) a name is imported from the module that
defines it, never from one that only imported it (no re-export hubs). The checker runs on
the real tree and, to show it can fail, on small synthetic packages in ``tmp_path``.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOT = ROOT / "server"
PACKAGE = "mlp_playground"

#: Layer of each top-level module or subpackage of the package: a module may import its
#: own layer or a lower one, never a higher one. The reason says why it sits there.
LAYERS: dict[str, tuple[int, str]] = {
    # 3: serving. Builds the app and its endpoints; nothing below knows HTTP routing.
    "routes": (3, "one APIRouter per concern: the REST and websocket endpoints"),
    "app": (3, "create_app assembles the routers, the registries and the store"),
    "__main__": (3, "the CLI: starts uvicorn on the app"),
    "worker_pool": (3, "--workers N: a supervisor placing connections on worker processes"),
    "worker_feed": (3, "a --workers process: uvicorn serving the sockets the supervisor sends"),
    "deps": (3, "FastAPI dependencies (Annotated aliases) the routers take"),
    "websocket_protocol": (3, "uvicorn's websocket protocol that __main__ serves with"),
    "security_headers": (3, "a FastAPI middleware that app.py installs"),
    "log_redaction": (3, "the log filter app.py and __main__ install (secrets never logged)"),
    "client": (3, "a REST client for scripts: talks HTTP to the routes, never imported here"),
    "notebook": (3, "the notebook widget: a websocket client of a running server"),
    # 2: services. Live sessions, classes, several processes, storage, and what they share.
    "live": (2, "live sessions: commands, pacing, frames, fan-out, snapshots"),
    "classroom": (2, "classes, rosters, thumbnails, push: built on live sessions"),
    "cluster": (2, "Redis leases, directory, pub/sub: used by live's cluster link"),
    "store": (2, "SQLAlchemy runs and snapshots; checks runs with training's config"),
    "export": (2, "Python scripts from a model document: needs training's checks"),
    "config": (2, "Settings (pydantic-settings) the services read; training and nn never do"),
    "public": (2, "the LAN address and public URL, from Settings, for the classroom"),
    "client_address": (2, "who is calling (trusted proxies), asked by live and routes"),
    "tasks": (2, "stopping background tasks without hanging a shutdown (asyncio only)"),
    # 1: the trainer. Composes the engine and the data; knows no server.
    "training": (1, "the Trainer and its parts, and the training configuration"),
    # 0: the engine and the data. NumPy only.
    "nn": (0, "the NumPy engine: numpy and the standard library only"),
    "data": (0, "2D datasets, features, CSV, grid: numpy, no training, no web"),
    "": (0, "the package root (mlp_playground/__init__.py): version and page folder"),
}

#: Package facades for users outside the server, whose ``__all__`` names may be imported from
#: them although another module defines them (a reason each). Nothing else re-exports.
PUBLIC_FACADES: dict[str, str] = {
    "mlp_playground.notebook": "the widget's documented import: mlp_playground.notebook.Playground",
}

#: Neither the engine nor the data may import any of these (checked on the first name).
WEB_AND_STORAGE = {"fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn"}
WEB_AND_STORAGE |= {"sqlalchemy", "redis", "websockets", "httpx", "psycopg"}
ENGINE_THIRD_PARTY = {"numpy"}


@dataclass(frozen=True)
class Import:
    """One import statement's dependency: ``target`` is a module of the package (internal)
    or the first name of an outside module (``external``); ``names`` what it takes."""

    source: str
    target: str
    line: int
    external: bool
    names: tuple[str, ...] = ()


def find_modules(source_root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``), for every .py file."""
    modules = {}
    for path in sorted((source_root / package).rglob("*.py")):
        parts = list(path.relative_to(source_root).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_init else parts)] = (path, is_init)
    return modules


def _owner(name: str, modules: dict) -> str | None:
    """The longest prefix of dotted ``name`` that is a module of the package."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, is_init: bool, modules: dict) -> list[Import]:
    """Every import in ``path``, wherever it is (``ast.walk``: TYPE_CHECKING, functions)."""
    found = []
    package_of = module if is_init else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                owner = _owner(alias.name, modules)
                target = owner or alias.name.split(".")[0]
                found.append(Import(module, target, node.lineno, owner is None))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                full = f"{base}.{node.module}" if node.module else base
            else:
                full = node.module or ""
            owner = _owner(full, modules)
            if owner is None:
                found.append(Import(module, full.split(".")[0], node.lineno, True))
                continue
            taken = []
            for alias in node.names:
                sub = f"{full}.{alias.name}"
                if sub in modules:  # ``from pkg import submodule``: depends on the submodule
                    found.append(Import(module, sub, node.lineno, False))
                else:
                    taken.append(alias.name)
            if taken:
                found.append(Import(module, owner, node.lineno, False, tuple(taken)))
    return found


def all_imports(source_root: Path, package: str) -> list[Import]:
    modules = find_modules(source_root, package)
    return [
        imp
        for module, (path, is_init) in modules.items()
        for imp in imports_of(module, path, is_init, modules)
    ]


def module_graph(source_root: Path, package: str) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first such import} (internal only), for
    every module of the package, those that import nothing included."""
    graph: dict[str, dict[str, int]] = {name: {} for name in find_modules(source_root, package)}
    for imp in all_imports(source_root, package):
        if not imp.external and imp.target != imp.source:
            graph[imp.source].setdefault(imp.target, imp.line)
    return graph


def _components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def find_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """One concrete circle per group of mutually importing modules, as
    ``a (line 3) -> b (line 9) -> a``: the shortest way from the group's first module back
    to itself."""
    cycles = []
    for component in _components(graph):
        members, start = set(component), component[0]
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if start in graph[node]:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                path.reverse()
                break
            for child in sorted(graph[node]):
                if child in members and child not in came_from and child != start:
                    came_from[child] = node
                    queue.append(child)
        hops = [*path, start]
        text = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(hops))
        cycles.append(f"{text} -> {start}")
    return cycles


def layer_key(module: str, package: str = PACKAGE) -> str:
    """``mlp_playground.live.session`` -> ``live``; the package root -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(imports: list[Import], layers: dict[str, tuple[int, str]]) -> list[str]:
    """Imports of a higher layer, and modules with no layer in the table."""
    bad = []
    for imp in imports:
        if imp.external:
            continue
        here, there = layer_key(imp.source), layer_key(imp.target)
        for key in (here, there):
            if key not in layers:
                bad.append(f"{key!r} has no layer: add it to LAYERS in {Path(__file__).name}")
        if here in layers and there in layers and layers[there][0] > layers[here][0]:
            bad.append(
                f"{imp.source} (layer {layers[here][0]}) imports {imp.target} "
                f"(layer {layers[there][0]}) at line {imp.line}"
            )
    return sorted(set(bad))


def outside_imports(imports: list[Import], subpackage: str) -> list[Import]:
    """The imports of modules in ``subpackage`` that leave the package."""
    prefix = f"{PACKAGE}.{subpackage}"
    return [
        imp
        for imp in imports
        if imp.external and (imp.source == prefix or imp.source.startswith(prefix + "."))
    ]


def defined_names(path: Path) -> set[str]:
    """Names a module binds itself at its top level (def, class, assignment; also inside
    top-level if/try/with blocks), as opposed to names it imports."""
    names: set[str] = set()
    todo = list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            todo.extend(node.body)
    return names


def public_names(path: Path) -> set[str]:
    """The names in a module's top-level ``__all__`` list or tuple."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
    return set()


def reexport_uses(
    importers: list[Import],
    modules: dict[str, tuple[Path, bool]],
    facades: dict[str, str] | None = None,
) -> list[str]:
    """Names imported from a module of the package that does not define them itself
    (except the ``__all__`` names of a module in ``facades``)."""
    defined = {name: defined_names(path) for name, (path, _) in modules.items()}
    for name in facades or {}:
        if name in modules:
            defined[name] |= public_names(modules[name][0])
    bad = []
    for imp in importers:
        if imp.external:
            continue
        for name in imp.names:
            if name != "*" and name not in defined[imp.target]:
                bad.append(f"{imp.source}:{imp.line} takes {name} from {imp.target}")
    return sorted(bad)


def importers_outside(modules: dict) -> list[Import]:
    """Imports of the package's modules by tests, bench, scripts and examples."""
    found = []
    for folder in ("tests", "bench", "scripts", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "artifacts" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found += [imp for imp in imports_of(name, path, False, modules) if not imp.external]
    return found


# --- the real tree --------------------------------------------------------------------------

IMPORTS = all_imports(SOURCE_ROOT, PACKAGE)


def test_the_checker_sees_the_whole_package():
    graph = module_graph(SOURCE_ROOT, PACKAGE)
    assert len(graph) > 50 and graph["mlp_playground.nn.activations"] == {}
    # A type-only import and a function-level one are both edges.
    assert "mlp_playground.live.session" in graph["mlp_playground.live.commands"]
    assert "mlp_playground.cluster.cluster" in graph["mlp_playground.live.registry"]


def test_no_import_circle():
    cycles = find_cycles(module_graph(SOURCE_ROOT, PACKAGE))
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_imports_point_down_the_layers():
    bad = layer_violations(IMPORTS, LAYERS)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("subpackage", ["nn", "data"])
def test_engine_and_data_import_no_web_or_storage_stack(subpackage):
    bad = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in outside_imports(IMPORTS, subpackage)
        if imp.target in WEB_AND_STORAGE
    ]
    assert not bad, bad


def test_engine_imports_only_numpy_and_the_standard_library():
    bad = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in outside_imports(IMPORTS, "nn")
        if imp.target not in ENGINE_THIRD_PARTY and imp.target not in sys.stdlib_module_names
    ]
    bad += [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if imp.source.startswith(f"{PACKAGE}.nn")
        and not imp.external
        and not imp.target.startswith(f"{PACKAGE}.nn")
    ]
    assert not bad, bad


def test_names_come_from_the_module_that_defines_them():
    modules = find_modules(SOURCE_ROOT, PACKAGE)
    bad = reexport_uses(IMPORTS + importers_outside(modules), modules, PUBLIC_FACADES)
    assert not bad, "re-exported names (import them from where they are defined):\n" + "\n".join(
        bad
    )


# --- the checker can fail -------------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_type_only_circle_is_reported_with_its_path(tmp_path):
    root = write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import B\n\nclass A: ...\n",
            "b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.a import A\n"
                "class B: ...\n"
            ),
            "c.py": "def later():\n    from . import a\n",
        },
    )
    graph = module_graph(root, "pkg")
    assert find_cycles(graph) == ["pkg.a (line 1) -> pkg.b (line 3) -> pkg.a"]
    assert graph["pkg.c"] == {"pkg.a": 2}  # function-level, relative: still an edge


def test_a_circle_through_a_function_level_import_is_reported(tmp_path):
    root = write(
        tmp_path,
        {
            "__init__.py": "",
            "x.py": "import pkg.y\n",
            "y.py": "from . import z\n",
            "z.py": "def f():\n    from .x import g\n    return g\n",
        },
    )
    cycles = find_cycles(module_graph(root, "pkg"))
    assert cycles == ["pkg.x (line 1) -> pkg.y (line 1) -> pkg.z (line 2) -> pkg.x"]


def test_an_upward_import_and_a_missing_layer_are_reported(tmp_path):
    root = write(
        tmp_path,
        {"__init__.py": "", "low.py": "from pkg.high import f\n", "high.py": "def f(): ...\n"},
    )
    imports = [imp for imp in all_imports(root, "pkg") if imp.source == "pkg.low"]
    layers = {"low": (0, "test"), "high": (1, "test"), "": (0, "test")}
    assert layer_violations(imports, layers) == [
        "pkg.low (layer 0) imports pkg.high (layer 1) at line 1"
    ]
    assert layer_violations(imports, {"low": (0, "test")})[0].startswith("'high' has no layer")


def test_a_reexported_name_is_reported(tmp_path):
    root = write(
        tmp_path,
        {
            "__init__.py": "from pkg.core import Thing\n",
            "core.py": "class Thing: ...\nif True:\n    LIMIT = 3\n",
            "user.py": "from pkg import Thing\nfrom pkg.core import LIMIT, Thing as T\n",
        },
    )
    modules = find_modules(root, "pkg")
    uses = [imp for imp in all_imports(root, "pkg") if imp.source == "pkg.user"]
    assert reexport_uses(uses, modules) == ["pkg.user:1 takes Thing from pkg"]
    (root / "pkg" / "__init__.py").write_text('from pkg.core import Thing\n__all__ = ["Thing"]\n')
    assert reexport_uses(uses, modules, {"pkg": "a facade"}) == []
