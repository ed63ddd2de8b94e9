"""The code stays readable in an afternoon: a source file in server/ or static/js/ holds
one concept, and a function does one thing (docs/internals.md, "The map").

Line counts are the guide, not the rule: past 400 lines a file is usually two concepts and
should be cut where they part; a file that is one concept past 400 lines (one class over
one data structure, say) stays whole and is listed in ``LONG_FILES`` with the reason.
Cutting a concept in two by line count only scatters it. A new file over the limit that
is not listed fails, and so does a listed file that no longer needs its entry (it is gone
or back under the limit), so the list stays true. A function over 60 lines says in its
docstring why it must stay whole.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.servers import ROOT

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
SOURCES = sorted([*(ROOT / "server").rglob("*.py"), *(ROOT / "static" / "js").glob("*.js")])

#: Files that may pass MAX_FILE_LINES, each with why it is one concept (repository paths).
LONG_FILES: dict[str, str] = {
    "server/mlp_playground/live/registry.py": (
        "the session registry: one table of sessions and the rules that create, find, "
        "resume and drop them, with the caps and per-client shares they are counted by; "
        "the scheduler, durability, the cluster link and fan-out are already their own modules"
    ),
    "server/mlp_playground/nn/model.py": (
        "the MLP class: forward, backward and the flat parameter buffer its views share; "
        "the layer maths is already in layers.py, activations.py and losses.py, and shape "
        "surgery in surgery.py; what remains is one object's methods over one buffer"
    ),
}


def lines_of(path: Path) -> int:
    return path.read_text(encoding="utf-8").count("\n")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_over_400_lines_unless_listed_with_its_reason(path: Path) -> None:
    name = path.relative_to(ROOT).as_posix()
    if name in LONG_FILES:
        return  # checked by the test below
    lines = lines_of(path)
    assert lines <= MAX_FILE_LINES, (
        f"{name}: {lines} lines. Cut it where two concepts part; if it is one concept, "
        f"add it to LONG_FILES in {Path(__file__).relative_to(ROOT)} with the reason"
    )


@pytest.mark.parametrize("name", sorted(LONG_FILES))
def test_each_long_file_entry_is_still_needed_and_says_why(name: str) -> None:
    path = ROOT / name
    assert path.is_file(), f"{name} is listed in LONG_FILES but does not exist"
    assert lines_of(path) > MAX_FILE_LINES, f"{name} is back under the limit: drop its entry"
    assert len(LONG_FILES[name].split()) >= 8, f"{name}: say why it is one concept"


def test_no_function_over_60_lines_without_saying_why() -> None:
    long = []
    for path in (p for p in SOURCES if p.suffix == ".py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                why = "whole" in (ast.get_docstring(node) or "")
                if length > MAX_FUNCTION_LINES and not why:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert not long, long
