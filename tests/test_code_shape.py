"""The code stays readable in an afternoon: no source file in server/ or static/js/ over
400 lines, no Python function over 60 lines unless its docstring says why it must stay
whole (docs/internals.md, "The map")."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
SOURCES = sorted([*(ROOT / "server").rglob("*.py"), *(ROOT / "static" / "js").glob("*.js")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_over_400_lines(path):
    lines = path.read_text().count("\n")
    assert lines <= MAX_FILE_LINES, f"{path.relative_to(ROOT)}: {lines} lines"


def test_no_function_over_60_lines_without_saying_why():
    long = []
    for path in (p for p in SOURCES if p.suffix == ".py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                why = "whole" in (ast.get_docstring(node) or "")
                if length > MAX_FUNCTION_LINES and not why:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert not long, long
