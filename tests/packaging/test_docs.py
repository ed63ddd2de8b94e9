"""The documents stay true to the tree: the module map is the generator's output, every
relative link and every path named in `code` leads to a file that exists, and nothing the
repository tracks points outside it.

Why: docs/internals.md is generated (scripts/module_map.py) so it cannot drift; the other
pages are written by hand, and a file moved or renamed leaves their links and paths dead
without anyone noticing. A file outside the repository is not there for a reader of a
clone, so no tracked file may name one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])

#: Strings that name a place outside the repository (assembled, so this file names none).
OUTSIDE = ("../" + "shared", "DESIGN" + ".md", "/work" + "/")

#: Top-level folders whose paths the documents name in `code`.
TOP = ("server", "static", "docs", "tests", "bench", "scripts", "deploy", "examples")

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"!?\[(?:[^\]\n]|\][^(\n])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_PATH = re.compile(rf"(?:{'|'.join(TOP)})/[\w./-]*")


def _prose(text: str) -> str:
    """The text without fenced code blocks (links and paths in examples are not claims)."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file's headings make (repeats get -1, -2, as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(_prose(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of a Markdown file that lead nowhere: a missing file, a file outside
    ``root``, or an anchor that is no heading of its target."""
    text = _CODE_SPAN.sub("", _prose(path.read_text(encoding="utf-8")))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path.resolve()
        if not dest.is_relative_to(root.resolve()):
            broken.append(f"{target}: outside the repository")
        elif not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading makes #{anchor}")
    return broken


def missing_code_paths(path: Path, root: Path = ROOT) -> list[str]:
    """Paths from the repository's root named in `code` (``server/...``, ``tests/...``)
    that exist neither as a file nor as a folder."""
    missing = []
    for span in _CODE_SPAN.findall(_prose(path.read_text(encoding="utf-8"))):
        candidate = span.split("::")[0].strip()  # tests/x.py::test_name names the file
        if not _PATH.fullmatch(candidate) or any(c in candidate for c in "*<{"):
            continue
        if not (root / candidate.rstrip("/")).exists():
            missing.append(candidate)
    return missing


def outside_references(text: str) -> list[str]:
    """The strings of ``OUTSIDE`` that ``text`` contains."""
    return [s for s in OUTSIDE if s in text]


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


# --- the checks ---------------------------------------------------------------------------


def test_the_module_map_is_the_generators_output():
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "module_map.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    current = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    assert current == generated, "run python scripts/module_map.py > docs/internals.md"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path):
    assert broken_links(path) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_named_in_code_exists(path: Path):
    assert missing_code_paths(path) == []


def test_no_tracked_file_refers_to_a_path_outside_the_repository():
    found = []
    for path in tracked_files():
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a picture, a font: no paths in there
            continue
        found += [f"{path.relative_to(ROOT)}: {s}" for s in outside_references(text)]
    assert found == []


def test_design_document_has_the_sections_the_code_cites():
    """Docstrings cite docs/design.md by section title; each title is a heading there."""
    cited = set()
    sources = [p for d in ("server", "bench", "scripts", "tests") for p in (ROOT / d).rglob("*.py")]
    for path in [*sources, *(ROOT / "static" / "js").glob("*.js")]:
        text = path.read_text(encoding="utf-8")
        for quoted in re.findall(r'docs/design\.md, "([^"]+)"', text):
            cited.add(quoted)
    headings = set(_HEADING.findall((ROOT / "docs" / "design.md").read_text(encoding="utf-8")))
    assert cited, "no docstring cites docs/design.md: the pattern above is out of date"
    assert sorted(cited - headings) == []


# --- the checkers can fail ----------------------------------------------------------------


def test_the_link_checker_finds_a_broken_link(tmp_path: Path):
    (tmp_path / "there.md").write_text("# A title\n\n## Second part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[fine](there.md) [fine too](there.md#second-part) [web](https://example.org/x)\n"
        "[gone](missing.md) [no such heading](there.md#third-part) [up](../../x.md)\n"
        "`[not a link](nowhere.md)`\n```\n[in a code block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "missing.md: no such file",
        "there.md#third-part: no heading makes #third-part",
        "../../x.md: outside the repository",
    ]


def test_the_path_checker_finds_a_missing_path(tmp_path: Path):
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "here.py").write_text("", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "`server/here.py` `server/here.py::test_x` `server/` `server/gone.py` `tests/*.py`\n",
        encoding="utf-8",
    )
    assert missing_code_paths(page, root=tmp_path) == ["server/gone.py"]


def test_the_outside_check_finds_a_reference():
    assert outside_references("see " + OUTSIDE[0] + "/x and " + OUTSIDE[1]) == list(OUTSIDE[:2])
    assert outside_references("see docs/design.md") == []


def test_slugs_are_githubs():
    assert slug("The page: `static/js`") == "the-page-staticjs"
    assert slug("Saved runs and durable sessions") == "saved-runs-and-durable-sessions"
