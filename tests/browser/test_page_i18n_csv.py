"""Numbers, counts and CSV files as a French class sees them, on the real page.

The CSV cases are shared with the server's parser (tests/csv_cases.json, when present): the
page's csv.js, imported in the page, must agree with every one of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_page import open_app, wait_steps_above

CASES_FILE = Path(__file__).resolve().parents[1] / "csv_cases.json"

# The rules of csv.js, case by case (the shared file adds the server's cases).
OWN_CASES = [
    {"text": "x1,x2,label\n0.5,1.0,0\n-1,2,1\n", "points": [[0.5, 1.0], [-1, 2]], "labels": [0, 1]},
    {
        "text": "x1;x2;label\r\n0,5;1,2;0\r\n-1,25;2;1\r\n",
        "points": [[0.5, 1.2], [-1.25, 2]],
        "labels": [0, 1],
    },
    {"text": "0,5\t1,5e-1\t1\n", "points": [[0.5, 0.15]], "labels": [1]},
    {"text": '"x1","x2","label"\n"0,5","1",0\n', "points": [[0.5, 1]], "labels": [0]},
    {"text": '# comment\n\n  "1" , "2" , 1 \n', "points": [[1, 2]], "labels": [1]},
    {"text": '"a ""b""",x2,label\n1,2,0\n', "points": [[1, 2]], "labels": [0]},
    {"text": "x1,x2,label\n0,5,1,2,0\n", "error": 2},
    {"text": "1;2;0\n3;oops;1\n", "error": 2},
    {"text": '1,2,0\n"3,4,1\n', "error": 2},
    {"text": "1,2,0\n1,2,1.5\n", "error": 2},
    {"text": "1;2;0\n1,5.0;2;1\n", "error": 2},
]

RUN_CASES = """async (cases) => {
  const { parseCsv } = await import('/js/csv.js');
  const max = window.__mlpg.options.limits.max_classes;
  return cases.map((c) => parseCsv(c.text, max));
}"""


def line_of(case: dict) -> int | None:
    """The line a refused case fails on: the shared file's "line" (null for "no data rows"),
    or the page's own cases' "error"."""
    return case["line"] if "line" in case else case["error"]


def _cases() -> list[dict]:
    shared = json.loads(CASES_FILE.read_text())["cases"] if CASES_FILE.exists() else []
    return OWN_CASES + shared


def test_csv_parser_agrees_with_every_case(live_server, page: Page) -> None:
    open_app(page, live_server.url)
    cases = _cases()
    results = page.evaluate(RUN_CASES, cases)
    for case, got in zip(cases, results, strict=True):
        where = json.dumps(case["text"])
        if "error" in case:
            # Refused: with an error on the case's line, or (no line: "no data rows") with
            # no points, which the page reports as an empty file.
            line = line_of(case)
            if line is None:
                assert "error" in got or not got["points"], f"{where} should be refused: {got}"
                continue
            assert "error" in got, f"{where} should fail on line {line}, got {got}"
            assert got["error"]["line"] == line, where
        else:
            assert "error" not in got, f"{where}: {got}"
            flat = [v for p in got["points"] for v in p]
            assert flat == pytest.approx([v for p in case["points"] for v in p]), where
            assert len(got["points"]) == len(case["points"]), where
            assert got["labels"] == case["labels"], where


def test_french_spreadsheet_upload_and_plural(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#lang=fr")
    one = "x1;x2;classe\n0,5;1,2;0\n"
    page.get_by_test_id("csv-input").set_input_files(
        files=[{"name": "un.csv", "mimeType": "text/csv", "buffer": one.encode()}]
    )
    expect(page.get_by_test_id("message-info").last).to_have_text(
        re.compile(r"^1 point chargé depuis un\.csv\.")
    )
    page.wait_for_function("() => window.__mlpg.data.points.length === 1")
    assert page.evaluate("window.__mlpg.data.points") == [[0.5, 1.2]]
    two = "0,5;1,2;0\n-0,5;-1,2;1\n"
    page.get_by_test_id("csv-input").set_input_files(
        files=[{"name": "deux.csv", "mimeType": "text/csv", "buffer": two.encode()}]
    )
    expect(page.get_by_test_id("message-info").last).to_have_text(
        re.compile(r"^2 points chargés depuis deux\.csv\.")
    )


def test_french_numbers_use_a_decimal_comma(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#data=circle&k=2&h=4,2&lang=fr")
    expect(page.get_by_test_id("initial-loss-expected")).to_have_text("ln 2 ≈ 0,693")
    expect(page.get_by_test_id("noise-value")).to_have_text("0,1")
    page.get_by_test_id("step").click()
    wait_steps_above(page, 0)
    expect(page.get_by_test_id("train-loss")).to_have_text(re.compile(r"^\d+,\d{3,4}$"))
    expect(page.get_by_test_id("train-acc")).to_have_text(re.compile(r"^\d+,\d\s%$"))
    expect(page.get_by_test_id("layer-count")).to_have_text("2 couches cachées")
    # Inputs hold JavaScript's spelling (a localised "0,5" would empty an <input type=number>).
    page.get_by_test_id("inst-schedule").locator("summary").click()
    page.get_by_test_id("sched-kind").select_option("step")
    expect(page.get_by_test_id("sched-gamma")).to_have_value("0.5")
    got = page.evaluate(
        """async () => {
        const i18n = await import('/js/i18n.js');
        const out = {};
        for (const l of ['fr', 'en']) {
          i18n.setLanguage(l);
          out[l] = [i18n.fmt(0.5), i18n.fmt(1.5e-5, 3), i18n.fmtPercent(0.975), i18n.formatInt(12345),
            i18n.t('diagram.units', { n: 1 }), i18n.t('diagram.units', { n: 2 }),
            i18n.t('layers.count', { n: 0 }), i18n.t('layers.count', { n: 1 })];
        }
        i18n.setLanguage('fr');
        return out;
    }"""
    )
    nb = "\u202f"  # French groups thousands with a narrow no-break space
    assert got["fr"][:4] == ["0,5", "1,50e-5", "97,5\u00a0%", f"12{nb}345"]
    assert got["fr"][4:] == ["1 neurone", "2 neurones", "aucune couche cachée", "1 couche cachée"]
    assert got["en"] == [
        "0.5",
        "1.50e-5",
        "97.5%",
        "12,345",
        "1 unit",
        "2 units",
        "no hidden layer",
        "1 hidden layer",
    ]
