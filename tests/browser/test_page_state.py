"""The page's state has one writer per piece: session.js and page.js keep sealed records and
hand out frozen read-only views. In the real page, a write or a new field through a view (or
through window.__mlpg) throws; in the sources, no module assigns to a view's fields, nothing
reaches through a global `app` or window.__mlpg, and no message object is tagged."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page

from tests.browser.test_page import READY, open_app

JS = Path(__file__).resolve().parents[2] / "static" / "js"
OWNERS = {"session.js", "page.js"}  # the only modules with a `record` to write

# Each check runs in strict mode (page.evaluate's own code is sloppy, where writes fail silently).
WRITES_FAIL = """async () => {
  const { session } = await import('/js/session.js');
  const { ui } = await import('/js/page.js');
  const attempt = (fn) => { try { fn(); return 'written'; } catch (e) { return e.constructor.name; } };
  return {
    live: session.config !== null && session.status === 'open',
    frozen: [Object.isFrozen(session), Object.isFrozen(ui), Object.isFrozen(window.__mlpg)],
    results: [
      attempt(() => { 'use strict'; session.config = {}; }),
      attempt(() => { 'use strict'; session.running = true; }),
      attempt(() => { 'use strict'; session.extra = 1; }),
      attempt(() => { 'use strict'; ui.large = true; }),
      attempt(() => { 'use strict'; ui.newSetting = 1; }),
      attempt(() => { 'use strict'; window.__mlpg.config = {}; }),
      attempt(() => { 'use strict'; window.__mlpg.dataCustom = true; }),
    ],
    unchanged: session.running === false && ui.large === false && !('extra' in session),
  };
}"""


def test_state_views_refuse_writes_and_new_fields(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=xor&h=3")
    page.wait_for_function(READY)
    out = page.evaluate(WRITES_FAIL)
    assert out["live"], "the imported module is not the page's own instance"
    assert out["frozen"] == [True, True, True]
    assert out["results"] == ["TypeError"] * 7
    assert out["unchanged"]
    assert not page_errors


def _code(src: str) -> str:
    """The source without its comments (a `//` after a space or at a line's start, `/* */`)."""
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"(^|\s)//.*$", r"\1", src, flags=re.M)


def _sources() -> dict[str, str]:
    files = {p.name: _code(p.read_text(encoding="utf-8")) for p in sorted(JS.glob("*.js"))}
    assert {"session.js", "page.js", "main.js"} <= files.keys()
    return files


ASSIGN = r"(?:=(?!=)|\+\+|--|[-+*/|&]=)"


def test_only_the_owners_write_their_state() -> None:
    for name, src in _sources().items():
        # A view's fields (`session.x = ...`, `ui.x = ...`) are never assigned, in any module.
        hits = re.findall(rf"\b(?:session|ui)\.\w+(?:\[[^\]]*\])?\s*{ASSIGN}", src)
        assert not hits, f"{name} assigns to shared state: {hits}"
        if name not in OWNERS:
            assert not re.search(r"\brecord\b", src), f"{name} touches an owner's record"
        # No global `app` object, and the debug handle is written once (main.js) and never read.
        assert not re.search(r"\bapp\.\w+", src.replace("'app.title'", "")), f"{name} uses `app`"
        assert not re.search(r"from '\./app\.js'", src)
        reads = re.findall(r"window\.__mlpg\b(?!\s*=)", src)
        assert not reads, f"{name} reads window.__mlpg"
        # Reconnect/resume information travels as arguments, not fields tagged on a message.
        assert not re.search(r"\b_reconnect\b|\b_resumed\b", src), f"{name} tags a message"


def test_state_records_are_sealed() -> None:
    files = _sources()
    for name in OWNERS:
        assert re.search(r"const record = Object\.seal\(", files[name]), name
        assert re.search(r"export const \w+ = readOnly\(record\)", files[name]), name
