"""The page, served by two processes sharing one Redis (docs/design.md, "Several processes"): a watch link
made on one process follows the session from the other, shows "reconnecting" while Redis
is down (close 1013, retried) and follows again when it is back; a teacher's wall shows
the students of both processes and names those it cannot see while Redis is down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_classroom import _student, _teacher
from tests.browser.test_page import READY, open_app, steps, wait_steps_above
from tests.support.cluster import RedisServer
from tests.support.servers import ServerProcess, free_port


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[RedisServer, ServerProcess, ServerProcess]]:
    redis = RedisServer(free_port())
    redis.start()
    env = {"MLPG_REDIS_URL": redis.url, "MLPG_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    servers = [ServerProcess(free_port(), env), ServerProcess(free_port(), env)]
    try:
        for server in servers:
            server.start()
        yield redis, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        redis.stop()


def test_a_watch_link_is_followed_from_the_other_process(two_processes, new_page) -> None:
    redis, a, b = two_processes
    owner: Page = open_app(new_page(), a.url)
    owner.get_by_test_id("share").click()
    href = owner.get_by_test_id("watch-link").get_attribute("href")
    assert href and "?watch=" in href
    owner.get_by_text("Close").click()
    owner.get_by_test_id("play").click()
    watcher = new_page()
    watcher.goto(re.sub(r"//127\.0\.0\.1:\d+", f"//127.0.0.1:{b.port}", href))
    watcher.wait_for_function(READY)
    expect(watcher.get_by_test_id("watch-note")).to_be_visible()
    wait_steps_above(watcher, 0)
    wait_steps_above(watcher, steps(watcher) + 10)
    assert watcher.get_by_test_id("noise").is_disabled()

    redis.stop()
    expect(watcher.get_by_test_id("banner")).to_contain_text(re.compile("reconnecting", re.I))
    wait_steps_above(owner, steps(owner) + 10)  # the owner's page never noticed
    expect(owner.get_by_test_id("banner")).to_be_hidden()
    redis.start()
    expect(watcher.get_by_test_id("banner")).to_be_hidden(timeout=30_000)
    wait_steps_above(watcher, steps(watcher) + 10)


def test_the_teachers_wall_shows_both_processes_and_names_what_it_cannot_see(
    two_processes, new_page, page_errors, artifacts
) -> None:
    """A class opened on A, Ada joined on A and Bob on B: the wall on A shows both, with a
    thumbnail each; Redis down, it keeps Ada and names Bob as not shown; Redis back, both.

    Nobody plays, so Bob's only thumbnails are his first frames', which reach A before A's
    roster lists him: the page keeps them for the tile the roster makes (it used to drop
    them, and Bob's tile stayed blank)."""
    redis, a, b = two_processes
    teacher, code = _teacher(new_page, a.url)
    _student(new_page, a.url, code, "Ada")
    _student(new_page, b.url, code, "Bob")
    names = teacher.get_by_test_id("student-name")
    expect(names).to_have_text(["Ada", "Bob"], timeout=20_000)
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=student-thumb]')]"
        ".filter((c) => c.dataset.step !== undefined).length === 2",
        timeout=20_000,
    )
    count = teacher.get_by_test_id("class-count")
    expect(count).to_have_text("2 students")

    redis.stop()
    expect(count).to_contain_text("not shown (1): Bob", timeout=30_000)
    expect(names).to_have_text(["Ada"])
    teacher.screenshot(path=str(artifacts / "teacher-wall-redis-down.png"))
    redis.start()
    expect(count).to_have_text("2 students", timeout=30_000)
    expect(names).to_have_text(["Ada", "Bob"])
    assert page_errors == []
