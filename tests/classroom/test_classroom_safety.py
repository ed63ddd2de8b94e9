"""A class that one student's script cannot break, tried against a real server: the
attacker connects from 127.0.0.2, the teacher and the other students from 127.0.0.1 (or
127.0.0.3), and every test checks that the others are unharmed.

Covers: the per-client cap on ``POST /classes``, reclaiming a class whose teacher never
came, ``DELETE /classes/{code}``, the per-client limit on unknown codes (``/c/``,
``/ws?class=``, ``/ws/class/``), and nicknames (NFKC, visible, unique up to case and
look-alikes).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from mlp_playground.classroom.names import check_nickname, name_key
from tests.support.attack import client_from, running_server, ws_from

pytestmark = pytest.mark.slow


def next_of(ws: ClientConnection, kind: str, timeout: float = 20.0, **match: Any) -> dict:
    """The next JSON message of type ``kind`` (binary frames and other types skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(raw, bytes):
            continue
        msg = json.loads(raw)
        if msg.get("type") == kind and all(msg.get(k) == v for k, v in match.items()):
            return msg


def trains(ws: ClientConnection, steps: int = 5, timeout: float = 20.0) -> int:
    """Ask for ``steps`` steps; the step the session's metrics reach (>= steps)."""
    ws.send(json.dumps({"type": "step", "steps": steps}))
    deadline = time.monotonic() + timeout
    while True:
        step = next_of(ws, "metrics", max(0.1, deadline - time.monotonic()))["step"]
        if step >= steps:
            return step


def refusal(ws: ClientConnection) -> tuple[dict, int | None]:
    """The ``error`` a refused socket gets, and its close code."""
    msg = next_of(ws, "error")
    try:
        while True:
            ws.recv(timeout=10)
    except Exception:
        pass
    return msg, ws.close_code


def ws_url(server_url: str) -> str:
    return server_url.replace("http://", "ws://")


def test_one_address_cannot_take_every_class() -> None:
    env = {"MLPG_MAX_CLASSROOMS_PER_CLIENT": "3", "MLPG_MAX_CLASSROOMS": "10"}
    with running_server(env) as server, client_from("127.0.0.2", server.url) as attacker:
        made = [attacker.post("/classes") for _ in range(20)]
        assert [r.status_code for r in made[:3]] == [201, 201, 201]
        assert {r.status_code for r in made[3:]} == {429}
        assert "max_classrooms_per_client" in made[3].json()["detail"]
        assert int(made[3].headers["Retry-After"]) >= 1
        with client_from("127.0.0.1", server.url) as teacher:  # unharmed
            assert teacher.post("/classes").status_code == 201
        # The attacker ending one of its own classes gives it room again.
        first = made[0].json()
        token = {"Authorization": f"Bearer {first['teacher_token']}"}
        assert attacker.delete(f"/classes/{first['code']}", headers=token).status_code == 204
        assert attacker.post("/classes").status_code == 201


def test_a_class_whose_teacher_never_comes_is_reclaimed_and_a_claimed_one_stays() -> None:
    env = {"MLPG_CLASS_CLAIM_SECONDS": "1.0", "MLPG_MAX_CLASSROOMS_PER_CLIENT": "2"}
    with running_server(env) as server, client_from("127.0.0.1", server.url) as http:
        abandoned = http.post("/classes").json()
        claimed = http.post("/classes").json()
        assert http.post("/classes").status_code == 429
        url = f"{ws_url(server.url)}/ws/class/{claimed['code']}?token={claimed['teacher_token']}"
        with ws_from("127.0.0.1", url) as teacher:
            assert next_of(teacher, "hello")["class"] == claimed["code"]
            time.sleep(1.5)
            assert http.get(f"/c/{abandoned['code']}").status_code == 404
            assert http.get(f"/c/{claimed['code']}").status_code == 200
            next_of(teacher, "roster")  # the teacher's stream goes on
        assert http.post("/classes").status_code == 201  # the reclaimed slot is free


def test_ending_a_class_closes_the_teacher_and_keeps_the_students_sessions() -> None:
    with running_server() as server, client_from("127.0.0.1", server.url) as http:
        klass = http.post("/classes").json()
        code, token = klass["code"], klass["teacher_token"]
        base = ws_url(server.url)
        with (
            ws_from("127.0.0.1", f"{base}/ws/class/{code}?token={token}") as teacher,
            ws_from("127.0.0.1", f"{base}/ws?class={code}&name=Ada") as student,
        ):
            next_of(teacher, "hello")
            hello = next_of(student, "hello")
            assert hello["class"] == code
            assert http.delete(f"/classes/{code}").status_code == 403
            assert http.delete(f"/classes/{code}?token=wrong").status_code == 403
            bad = http.delete(f"/classes/{code}", headers={"Authorization": "Bearer wrong"})
            assert bad.status_code == 403
            assert http.delete("/classes/ZZZZZZ?token=x").status_code == 404
            ended = http.delete(f"/classes/{code}", headers={"Authorization": f"Bearer {token}"})
            assert ended.status_code == 204
            assert next_of(student, "event", event="class_ended")["class"] == code
            assert next_of(teacher, "event", event="class_ended")
            with pytest.raises(ConnectionClosed):  # the teacher's stream closes
                while True:
                    teacher.recv(timeout=10)
            assert teacher.close_code == 1000
            # The student's session is an ordinary one now: it still trains.
            assert trains(student) >= 5
            assert http.get(f"/c/{code}").status_code == 404
            assert http.delete(f"/classes/{code}?token={token}").status_code == 404
            # The students' page and joining now say the class is gone.
            with ws_from("127.0.0.1", f"{base}/ws?class={code}&name=Bob") as late:
                msg, close = refusal(late)
                assert msg["code"] == "unknown_class" and close == 1008


def test_guessing_codes_locks_out_the_guesser_only() -> None:
    env = {"MLPG_MAX_UNKNOWN_CODES_PER_MINUTE": "5"}
    with running_server(env) as server:
        with client_from("127.0.0.1", server.url) as teacher:
            klass = teacher.post("/classes").json()
        code, base = klass["code"], ws_url(server.url)
        with client_from("127.0.0.2", server.url) as attacker:
            tries = [attacker.get(f"/c/GUESS{i}").status_code for i in range(5)]
            assert tries == [404] * 5
            locked = attacker.get(f"/c/{code}")  # even the right code, once over the limit
            assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
            for url in (f"{base}/ws?class={code}&name=Eve", f"{base}/ws/class/{code}?token=x"):
                with ws_from("127.0.0.2", url) as ws:
                    msg, close = refusal(ws)
                    assert msg["code"] == "too_many_attempts" and close == 1013
        # Everyone else joins as usual.
        with client_from("127.0.0.3", server.url) as student:
            assert student.get(f"/c/{code}").status_code == 200
        with ws_from("127.0.0.3", f"{base}/ws?class={code}&name=Ada") as ws:
            assert next_of(ws, "hello")["class"] == code


def test_another_sites_page_cannot_spend_a_students_guesses() -> None:
    """``<img src=".../c/XXXX">`` on a hostile page, in the student's own browser: those
    misses count in a cross-site bucket, and the student still opens their class."""
    env = {"MLPG_MAX_UNKNOWN_CODES_PER_MINUTE": "3"}
    with running_server(env) as server:
        with client_from("127.0.0.1", server.url) as teacher:
            code = teacher.post("/classes").json()["code"]
        with client_from("127.0.0.2", server.url) as browser:
            hostile = {"Sec-Fetch-Site": "cross-site"}
            tries = [browser.get(f"/c/BAD{i}", headers=hostile).status_code for i in range(4)]
            assert tries == [404, 404, 404, 429]  # the cross-site bucket has its limit too
            typed = browser.get(f"/c/{code}", headers={"Sec-Fetch-Site": "none"})
            assert typed.status_code == 200
            with ws_from("127.0.0.2", f"{ws_url(server.url)}/ws?class={code}&name=Ada") as ws:
                assert next_of(ws, "hello")["class"] == code


def test_wrong_teacher_tokens_count_as_guesses() -> None:
    env = {"MLPG_MAX_UNKNOWN_CODES_PER_MINUTE": "3"}
    with running_server(env) as server, client_from("127.0.0.1", server.url) as http:
        klass = http.post("/classes").json()
        code, token = klass["code"], klass["teacher_token"]
        base = ws_url(server.url)
        with client_from("127.0.0.2", server.url) as attacker:
            codes = [attacker.delete(f"/classes/{code}?token=t{i}").status_code for i in range(4)]
            assert codes == [403, 403, 403, 429]
        with ws_from("127.0.0.1", f"{base}/ws/class/{code}?token={token}") as teacher:
            assert next_of(teacher, "hello")["class"] == code  # the real teacher is unharmed


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("\u200b\u200b", "visible"),  # zero-width spaces only: nothing left
        ("", "1 to"),
        ("\u3164", "visible"),  # Hangul filler
        ("\u2800\u2800", "visible"),  # Braille blank
        ("\uffa0", "visible"),  # half-width Hangul filler
        ("...", "visible"),
    ],
)
def test_invisible_nicknames_are_refused(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_nickname(name)


def test_nicknames_are_nfkc_and_compared_up_to_look_alikes() -> None:
    assert check_nickname("Ａｄａ") == "Ada"  # full-width letters
    assert check_nickname("A\u200bda") == "Ada"  # a hidden zero-width space is dropped
    assert check_nickname("ﬁona") == "fiona"  # ligature
    keys = {name_key(n) for n in ("Ada", "ADA", "A da", "\u0410da", "\u0391da", "Аdа")}
    assert len(keys) == 1
    assert name_key("Adá") != name_key("Ada")  # an accent is visible: another name
    assert name_key("B0b") == name_key("Bob")
    # Blanks that are letters or symbols (not Cf) go too, so no "Ada" + filler twin.
    for hidden in ("\u3164", "\u2800", "\u034f", "\ufe0f", "\U000e0100", "\u180b"):
        assert check_nickname(f"Ada{hidden}") == "Ada", repr(hidden)
        assert check_nickname(f"A{hidden}da") == "Ada", repr(hidden)
    # Latin small capitals and alpha, Armenian and Cherokee look-alikes.
    for twin in ("\u0251da", "\u1d00da", "\u13aada", "\uab7ada", "B\u0585b"):
        assert name_key(twin) in (name_key("Ada"), name_key("Bob")), repr(twin)
    assert name_key("Bo") != name_key("Bob")


def test_a_taken_nickname_is_told_to_pick_another() -> None:
    with running_server() as server, client_from("127.0.0.1", server.url) as http:
        code = http.post("/classes").json()["code"]
        base = ws_url(server.url)
        with ws_from("127.0.0.1", f"{base}/ws?class={code}&name=Ada") as ada:
            next_of(ada, "hello")
            for twin in ("Ada", "ada", "\u0410da", "Ａｄａ", "A\u200bda"):
                url = f"{base}/ws?class={code}&name={quote(twin)}"
                with ws_from("127.0.0.2", url) as ws:
                    msg, close = refusal(ws)
                    assert (msg["code"], msg["field"], close) == ("name_taken", "name", 1008)
                    assert "pick another" in msg["message"]
            with ws_from("127.0.0.2", f"{base}/ws?class={code}&name=Ad%C3%A1") as other:
                assert next_of(other, "hello")["name"] == "Adá"
            assert trains(ada) >= 5  # Ada is unharmed
