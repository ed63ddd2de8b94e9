#!/usr/bin/env python3
"""Print the module map (docs/internals.md) from the code itself: one line per module.

    python scripts/module_map.py > docs/internals.md

Why generated: a hand-kept list of files and signatures drifts from the code within weeks,
and a reader cannot tell which half is stale. Here each module says what it is in the first
sentence of its own docstring (for a page module, of its leading ``//`` comment), next to the
code that makes it true, and this script only collects those sentences: per package of
``server/mlp_playground`` a heading and its ``__init__`` docstring's first sentence, then each
module's path and first sentence; then the page's modules (``static/js``). The why and the
rules are in docs/design.md; tests/packaging/test_docs.py fails when the map is stale.
Standard library only, and it never imports the package (so it runs without the server's
dependencies installed).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "server" / "mlp_playground"
PAGE = ROOT / "static" / "js"
DOCS = ROOT / "docs"

#: The end of a sentence: a full stop (or ! ?) followed by white space and a capital, a
#: quote or a backtick. "e.g. the", "token=... (roster" and "docs/design.md" end none.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'])")

HEADER = """\
# Module map

Generated from the code by `python scripts/module_map.py > docs/internals.md`: do not edit
by hand. Each line is the first sentence of that module's docstring (for the page, of its
leading comment), so a module's one-line summary is changed in the module. Why the code is
cut this way, which package may import which, and the threads are in
[the design document](design.md); its table "Where to change what" goes from a change to
the files it touches.
"""


def first_sentence(text: str | None) -> str:
    """The first sentence of a docstring's first paragraph, on one line, in Markdown.

    reStructuredText's double backticks become Markdown's single ones; a module without a
    docstring gets a visible placeholder rather than an empty line.
    """
    if not text or not text.strip():
        return "(no docstring)"
    paragraph = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    one_line = " ".join(paragraph.split())
    sentence = _SENTENCE_END.split(one_line, maxsplit=1)[0]
    return sentence.replace("``", "`")


def python_summary(path: Path) -> str:
    """First sentence of a Python module's docstring (parsed, never imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return first_sentence(ast.get_docstring(tree))


def js_summary(path: Path) -> str:
    """First sentence of a page module's leading ``//`` comment block."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            break
        lines.append(stripped[2:].strip())
    return first_sentence("\n".join(lines))


def link(path: Path) -> str:
    """A Markdown link to ``path`` relative to docs/, shown as its path from the root."""
    shown = path.relative_to(ROOT).as_posix()
    target = Path("..", path.relative_to(ROOT)).as_posix()
    return f"[`{shown}`]({target})"


def packages() -> list[Path]:
    """The package and every subpackage (a folder with ``__init__.py``), sorted by name."""
    found = [PACKAGE, *(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)]
    return sorted(found, key=lambda p: p.relative_to(PACKAGE).parts)


def package_section(package: Path) -> list[str]:
    """A heading named by the import name, the package's summary, one line per module."""
    parts = package.relative_to(PACKAGE.parent).parts
    lines = [f"## `{'.'.join(parts)}`", ""]
    init = package / "__init__.py"
    summary = python_summary(init) if init.exists() else ""
    if summary != "(no docstring)" and summary:  # an empty __init__ says nothing
        lines += [summary, ""]
    modules = sorted(p for p in package.glob("*.py") if p.name != "__init__.py")
    lines += [f"- {link(m)}: {python_summary(m)}" for m in modules]
    return [*lines, ""]


def page_section() -> list[str]:
    """The page's ES modules, one line each."""
    lines = ["## The page: `static/js`", ""]
    lines += [f"- {link(m)}: {js_summary(m)}" for m in sorted(PAGE.glob("*.js"))]
    return [*lines, ""]


def render() -> str:
    """The whole map, as docs/internals.md holds it."""
    lines = [HEADER]
    for package in packages():
        lines += package_section(package)
    lines += page_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
