"""The classroom, as the issue asks: a teacher's class page and three student pages, each in
its own browser context. The roster shows three names and a thumbnail per student, a push
reaches all three (their config changes, a toast says so), a reload gives a student the same
session back, and a student's page cannot open the class stream (1008 without the token).
Screenshots of the teacher's page (1280x720) and of the nickname page go to artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_page import READY

NAMES = ["Ada", "<i>Zoé</i>", "Linus"]

RAW_CLASS_SOCKET = """(url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onclose = (ev) => resolve(ev.code);
  setTimeout(() => resolve('timeout'), 8000);
})"""


def _teacher(new_page, base: str) -> tuple[Page, str]:
    page: Page = new_page()
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base + "/?teacher#h=3,3&opt=sgd&lr=0.05&data=xor")
    page.wait_for_function(READY)
    expect(page.get_by_test_id("class-view")).to_be_visible()
    code = page.get_by_test_id("class-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    return page, code.text_content()


def _student(new_page, base: str, code: str, name: str, artifacts=None) -> Page:
    page: Page = new_page()
    page.goto(f"{base}/c/{code}")
    expect(page.get_by_test_id("join-view")).to_be_visible()
    expect(page.get_by_test_id("join-code")).to_contain_text(code)
    if artifacts is not None:
        page.set_viewport_size({"width": 1280, "height": 720})
        page.get_by_test_id("join-name").fill(name)
        page.screenshot(path=str(artifacts / "student-nickname.png"))
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("join-submit").click()
    page.wait_for_function(READY)
    expect(page.get_by_test_id("join-view")).to_be_hidden()
    expect(page.get_by_test_id("class-badge")).to_have_text(f"Class {code} · {name}")
    return page


def test_teacher_and_three_students(live_server, new_page, page_errors, artifacts) -> None:
    base = live_server.url
    teacher, code = _teacher(new_page, base)
    expect(teacher.get_by_test_id("class-url")).to_contain_text(f"/c/{code}")
    qr = teacher.get_by_test_id("class-qr")
    assert code in qr.get_attribute("src") or "%2Fc%2F" + code in qr.get_attribute("src")
    teacher.wait_for_function(
        "() => document.querySelector('[data-testid=class-qr]').naturalWidth > 0"
    )
    students = [
        _student(new_page, base, code, name, artifacts if i == 0 else None)
        for i, name in enumerate(NAMES)
    ]
    # The roster: three tiles, three names (as text), a thumbnail painted for each.
    tiles = teacher.get_by_test_id("student-tile")
    expect(tiles).to_have_count(3, timeout=10_000)
    expect(teacher.get_by_test_id("student-name")).to_have_text(NAMES, timeout=10_000)
    assert teacher.locator("[data-testid=class-wall] i").count() == 0
    expect(teacher.get_by_test_id("class-count")).to_have_text("3 students")
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=student-thumb]')]"
        ".filter((c) => c.dataset.step !== undefined).length === 3",
        timeout=15_000,
    )
    # The students train; the wall follows (accuracy shown under each thumbnail).
    for s in students:
        s.get_by_test_id("play").click()
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=student-acc]')]"
        ".every((e) => /%/.test(e.textContent))",
        timeout=15_000,
    )
    students[0].wait_for_function("() => window.__mlpg.lastStep > 150", timeout=30_000)
    teacher.wait_for_timeout(1200)  # a roster and a thumbnail or two after that
    teacher.get_by_test_id("class-sort").select_option("board")
    expect(teacher.locator(".student-tile .rank").first).to_have_text("1.")
    teacher.screenshot(path=str(artifacts / "teacher-class.png"))

    # Push the teacher's settings: every student's network changes, and each is told.
    teacher.get_by_test_id("class-push").click()
    for s in students:
        s.wait_for_function(
            "() => JSON.stringify(window.__mlpg.config.network.hidden_layers) === '[3,3]'"
        )
        assert s.evaluate("window.__mlpg.config.optimizer.name") == "sgd"
        toast = s.get_by_test_id("pushed-toast").last
        expect(toast).to_contain_text("Pushed by your teacher")
        expect(toast).to_contain_text("network")  # what changed, never a bare dash
    # The same push again changes nothing, and the students are told so.
    teacher.get_by_test_id("class-push").click()
    for s in students:
        expect(s.get_by_test_id("pushed-toast").last).to_contain_text("nothing changed")

    # In a class, entering a lesson step pushes it to every student.
    teacher.get_by_test_id("class-close").click()
    expect(teacher.get_by_test_id("class-view")).to_be_hidden()
    teacher.get_by_test_id("lesson").click()
    expect(teacher.get_by_test_id("lesson-push")).to_be_visible()
    teacher.get_by_test_id("lesson-next").click()
    expect(teacher.get_by_test_id("lesson-count")).to_contain_text("Step 2")
    want = teacher.evaluate("window.__mlpg.lessons.step().config.network.hidden_layers")
    for s in students:
        s.wait_for_function(
            "(want) => JSON.stringify(window.__mlpg.config.network.hidden_layers)"
            " === JSON.stringify(want)",
            arg=want,
        )

    # A saved run pushed to the class: every student gets its points (and weights).
    teacher.get_by_test_id("save-share").click()
    teacher.get_by_test_id("save-run").click()
    expect(teacher.get_by_test_id("save-result")).to_be_visible(timeout=10_000)
    points = teacher.evaluate("window.__mlpg.data.points")
    teacher.get_by_test_id("saved-run-push").first.click()
    for s in students:
        s.wait_for_function(
            "(want) => JSON.stringify(window.__mlpg.data.points) === JSON.stringify(want)",
            arg=points,
        )
    teacher.get_by_test_id("close-save").click()

    # A reload resumes the same session.
    first = students[0]
    before = first.evaluate("window.__mlpg.socket.sessionId")
    first.reload()
    first.wait_for_function(READY)
    assert first.evaluate("window.__mlpg.socket.sessionId") == before
    expect(first.get_by_test_id("join-view")).to_be_hidden()
    expect(tiles).to_have_count(3)

    # A student's page cannot open the class stream: no token, or a wrong one -> 1008.
    ws_base = base.replace("http", "ws", 1)
    for url in (f"{ws_base}/ws/class/{code}", f"{ws_base}/ws/class/{code}?token=guess"):
        assert students[1].evaluate(RAW_CLASS_SOCKET, url) == 1008

    # Back to the class page (the same class), then a click on a student opens their
    # session full size, read-only.
    teacher.get_by_test_id("start-class").click()
    expect(teacher.get_by_test_id("class-code")).to_have_text(code)
    with teacher.context.expect_page() as popup:
        tiles.first.click()
    watcher = popup.value
    watcher.wait_for_function("() => window.__mlpg && window.__mlpg.config")
    assert "watch=" in watcher.url
    expect(watcher.get_by_test_id("watch-note")).to_be_visible()
    assert page_errors == []


def test_unknown_class_code_is_a_clear_page(live_server, page: Page) -> None:
    response = page.goto(f"{live_server.url}/c/ZZZZZZ")
    assert response.status == 404
    expect(page.locator("h1")).to_be_visible()


def test_ended_class_is_a_clear_message(server_factory, new_page, page_errors) -> None:
    """A class that ends while its pages are open: the student who joins too late sees a
    clear message (not a blank page, no endless retries); the teacher's page says so too."""
    server = server_factory({"MLPG_CLASS_LIFETIME_SECONDS": "4"})
    teacher, code = _teacher(new_page, server.url)
    student: Page = new_page()
    student.goto(f"{server.url}/c/{code}")
    expect(student.get_by_test_id("join-view")).to_be_visible()
    expect(teacher.get_by_test_id("message-warn")).to_contain_text(
        "class has ended", timeout=15_000
    )
    expect(teacher.get_by_test_id("class-view")).to_be_hidden()
    assert teacher.evaluate("localStorage.getItem('mlpg.class')") is None
    student.get_by_test_id("join-name").fill("Late")
    student.get_by_test_id("join-submit").click()
    expect(student.get_by_test_id("join-error")).to_contain_text("unknown or the class has ended")
    expect(student.get_by_test_id("join-view")).to_be_visible()
    student.wait_for_timeout(1500)
    assert student.evaluate("window.__mlpg.socket.ws") is None  # stopped retrying
    expect(student.get_by_test_id("banner")).to_be_hidden()


def test_a_remembered_class_that_is_gone_is_replaced(live_server, page: Page) -> None:
    """The teacher's browser remembers a class the server no longer has (it restarted): the
    class page starts a new one instead of showing a dead code."""
    page.goto(live_server.url + "/")
    page.wait_for_function(READY)
    stale = {"code": "ABCDEF", "teacher_token": "stale", "join_url": "/c/ABCDEF"}
    page.evaluate("(k) => localStorage.setItem('mlpg.class', JSON.stringify(k))", stale)
    page.goto(live_server.url + "/?teacher")
    page.wait_for_function(
        "() => (JSON.parse(localStorage.getItem('mlpg.class')) || {}).code !== 'ABCDEF'",
        timeout=10_000,
    )
    fresh = page.evaluate("JSON.parse(localStorage.getItem('mlpg.class')).code")
    expect(page.get_by_test_id("class-code")).to_have_text(fresh)
    expect(page.get_by_test_id("class-view")).to_be_visible()
    page.wait_for_function("() => window.__mlpg.classroom.connected")
