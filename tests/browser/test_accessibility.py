"""Accessibility: axe-core (axe-playwright-python) finds no WCAG 2.0/2.1 A or AA violation on
any page of ours, on a projector (1024x768) and on a phone (390x844).

The pages: the main page once the hello has arrived and again mid-training (play pressed),
the student page /c/<code> before and after joining, the teacher's class view (/?teacher), a
saved run /r/<id>, and the not-found pages of /c/<bad> and /r/<bad>. On the phone the main
and student pages must not be wider than the screen (a sideways scroll hides controls), and
on the projector the lesson panel's text must not be cut off.

/docs and /redoc (vendored Swagger UI and ReDoc) are checked too, with one operation opened
on /docs: routes/docs.py adds ``lang``, turns off Swagger's deep links (a link inside each
operation's button) and links static/docs.css, our darker colours over Swagger's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.test_page import READY, open_app, wait_steps_above

SIZES = {"projector": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844}}
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
AXE = Axe()


def violations(page: Page) -> list[str]:
    """axe's WCAG A/AA violations on the page as it is now, one line each: rule id, impact,
    how many nodes, the first target selectors (enough to find the element)."""
    results = AXE.run(page, options=WCAG_AA)
    out = []
    for v in results.response["violations"]:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        out.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {targets}")
    return out


def check_sizes(page: Page, label: str, settle: Callable[[Page], None] | None = None) -> None:
    """axe at both sizes; all violations of both sizes in one failure message."""
    found: list[str] = []
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # the layout (and any resize-driven repaint) settles
        if settle is not None:
            settle(page)
        found += [f"{label} @ {name}: {line}" for line in violations(page)]
    assert not found, "axe WCAG 2.1 AA violations:\n" + "\n".join(found)


def not_wider_than_phone(page: Page, label: str) -> None:
    page.set_viewport_size(SIZES["phone"])
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES["phone"]["width"], f"{label}: {width}px wide on a 390px phone"


def _teacher(new_page, base: str) -> tuple[Page, str]:
    page: Page = new_page()
    page.goto(base + "/?teacher#h=3,3&opt=sgd&lr=0.05&data=xor")
    page.wait_for_function(READY)
    expect(page.get_by_test_id("class-view")).to_be_visible()
    code = page.get_by_test_id("class-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    return page, code.text_content() or ""


def test_main_page_after_hello_and_while_training(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=4,2&speed=max&seed=3")
    check_sizes(page, "main page")
    not_wider_than_phone(page, "main page")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 20)
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "true")
    check_sizes(page, "main page, training")
    assert page_errors == []


def test_student_page_before_and_after_joining(live_server, new_page, page_errors) -> None:
    _, code = _teacher(new_page, live_server.url)
    student: Page = new_page()
    student.goto(f"{live_server.url}/c/{code}")
    expect(student.get_by_test_id("join-view")).to_be_visible()
    check_sizes(student, "student page, nickname form")
    not_wider_than_phone(student, "student page, nickname form")
    student.get_by_test_id("join-name").fill("Ada")
    student.get_by_test_id("join-submit").click()
    student.wait_for_function(READY)
    expect(student.get_by_test_id("class-badge")).to_have_text(f"Class {code} · Ada")
    check_sizes(student, "student page, joined")
    not_wider_than_phone(student, "student page, joined")
    assert page_errors == []


def test_teacher_class_view(live_server, new_page, page_errors) -> None:
    teacher, code = _teacher(new_page, live_server.url)
    student: Page = new_page()
    student.goto(f"{live_server.url}/c/{code}")
    student.get_by_test_id("join-name").fill("Linus")
    student.get_by_test_id("join-submit").click()
    student.wait_for_function(READY)
    expect(teacher.get_by_test_id("student-tile")).to_have_count(1, timeout=10_000)
    check_sizes(teacher, "teacher's class view")
    assert page_errors == []


def test_saved_run_page(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=xor&h=5&n=120&speed=max&seed=4")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 50)
    page.get_by_test_id("play").click()
    page.get_by_test_id("save-share").click()
    page.get_by_test_id("save-title").fill("XOR five units")
    page.get_by_test_id("save-run").click()
    expect(page.get_by_test_id("save-result")).to_be_visible(timeout=10_000)
    url = page.get_by_test_id("run-link").get_attribute("href") or ""
    assert "/r/" in url
    page.goto(url)
    page.wait_for_function(READY)
    check_sizes(page, "saved run")
    assert page_errors == []


@pytest.mark.parametrize("path", ["/c/ZZZZZZ", "/r/doesnotexist1"])
def test_not_found_pages(live_server, page: Page, path: str) -> None:
    response = page.goto(live_server.url + path)
    assert response is not None and response.status == 404
    check_sizes(page, path)


def test_api_docs_pages(live_server, page: Page) -> None:
    page.goto(live_server.url + "/docs")
    summary = page.locator("#operations-default-train_train_post .opblock-summary-control")
    expect(summary).to_be_visible(timeout=15_000)
    check_sizes(page, "/docs")
    summary.click()
    expect(page.locator("#operations-default-train_train_post .opblock-body")).to_be_visible()
    check_sizes(page, "/docs, /train opened")
    page.goto(live_server.url + "/redoc")
    expect(page.locator(".api-content")).to_be_visible(timeout=15_000)
    check_sizes(page, "/redoc")


LESSON_CUT = """() => [...document.querySelectorAll('#lesson-panel, #lesson-panel *')]
  .filter((e) => e.getClientRects().length > 0)
  .filter((e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1)
  .map((e) => `${e.id || e.tagName}: ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x${e.clientHeight}`)"""


def test_lesson_panel_on_a_projector(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#h=8,8&data=spiral")
    page.set_viewport_size(SIZES["projector"])
    page.get_by_test_id("lesson").click()
    expect(page.get_by_test_id("lesson-panel")).to_be_visible()
    check_sizes(page, "main page, lesson panel")
    page.set_viewport_size(SIZES["projector"])
    count = page.get_by_test_id("lesson-count")
    total = int((count.text_content() or "").rsplit(" ", 1)[1])
    cut: list[str] = []
    # Every step forwards in normal type, then backwards in large type.
    for large, order in ((False, range(total)), (True, range(total - 1, -1, -1))):
        if large:
            page.get_by_test_id("large-type").click()
        for i in order:
            expect(count).to_have_text(f"Step {i + 1} of {total}")
            page.wait_for_timeout(100)
            cut += [f"large={large} step {i + 1}: {c}" for c in page.evaluate(LESSON_CUT)]
            step = "lesson-prev" if large else "lesson-next"
            if (large and i > 0) or (not large and i + 1 < total):
                page.get_by_test_id(step).click()
    assert not cut, "lesson text cut off at 1024x768:\n" + "\n".join(cut)
    assert page_errors == []
