"""Every refusal: unknown or ended class, nicknames, a full class, tokens, bad messages."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.classroom import join, refused, roster_until, student_hello, teacher
from tests.support.live import recv, send, until


def test_an_unknown_class_is_an_error_then_1008(client):
    with join(client, "ZZZZZZ", "Ada") as ws:
        err, code = refused(ws)
    assert err["code"] == "unknown_class" and code == 1008


def test_an_ended_class_refuses_students_and_ends_the_teachers_stream(make_client):
    c = make_client(class_lifetime_seconds=1.0)
    klass = c.post("/classes").json()
    with teacher(c, klass) as t:
        assert recv(t)["type"] == "hello"
        ended = until(t, "event", event="class_ended")
        assert "ended" in ended["message"]
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect) as exc:
            for _ in range(100):
                recv(t)
        assert exc.value.code == 1000
    with join(c, klass["code"], "Ada") as ws:
        assert refused(ws)[0]["code"] == "unknown_class"


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 25, "a\x00b", "tab\there", "new\nline", "rtl\u202eevil", "\x7f"],
)
def test_bad_nicknames_are_refused_on_field_name_then_1008(client, klass, name):
    with join(client, klass["code"], name) as ws:
        err, code = refused(ws)
    assert err["code"] == "invalid_value" and err["field"] == "name" and code == 1008


def test_a_missing_nickname_is_refused(client, klass):
    with client.websocket_connect(f"/ws?class={klass['code']}") as ws:
        err, code = refused(ws)
    assert err["field"] == "name" and code == 1008


@pytest.mark.parametrize("name", ["x" * 24, "Zoë", "🦊 fox", "<img src=x onerror=alert(1)>"[:24]])
def test_good_nicknames_come_back_verbatim(client, klass, name):
    with join(client, klass["code"], f"  {name} ") as ws:
        assert student_hello(ws)["name"] == name
        with teacher(client, klass) as t:
            rows = roster_until(t, lambda s: len(s) == 1)["students"]
            assert rows[0]["name"] == name


def test_a_full_class_is_too_many_students_then_1013(make_client):
    c = make_client(max_students_per_class=2)
    klass = c.post("/classes").json()
    with join(c, klass["code"], "A") as a, join(c, klass["code"], "B") as b:
        student_hello(a)
        student_hello(b)
        with join(c, klass["code"], "C") as third:
            err, code = refused(third)
        assert err["code"] == "too_many_students" and code == 1013
        # A resume is not a new student.
        sid = None
    del sid


def test_a_student_who_left_frees_a_place(make_client):
    c = make_client(max_students_per_class=1, session_grace_seconds=0)
    klass = c.post("/classes").json()
    with join(c, klass["code"], "A") as a:
        student_hello(a)
    deadline = time.monotonic() + 5
    while True:
        with join(c, klass["code"], "B") as b:
            hello = recv(b)
            if hello["type"] == "hello":
                assert hello["name"] == "B"
                break
        assert time.monotonic() < deadline, "the place was not freed"
        time.sleep(0.05)


@pytest.mark.parametrize("token", ["", "wrong", "x" * 40, "é"])
def test_a_wrong_or_missing_token_closes_1008(client, klass, token):
    url = f"/ws/class/{klass['code']}" + (f"?token={token}" if token else "")
    with client.websocket_connect(url) as t:
        err, code = refused(t)
    assert err["code"] == "forbidden" and code == 1008


def test_a_student_cannot_open_the_class_stream(client, klass):
    with join(client, klass["code"], "Ada") as ws:
        hello = student_hello(ws)
        # Everything a student knows: the code, their session id, their watch token.
        for token in (None, hello["session_id"], hello["watch_token"], klass["code"]):
            url = f"/ws/class/{klass['code']}" + (f"?token={token}" if token else "")
            with client.websocket_connect(url) as t:
                assert refused(t)[1] == 1008


def test_the_teacher_stream_of_an_unknown_class_closes_1008(client):
    with client.websocket_connect("/ws/class/ZZZZZZ?token=abc") as t:
        err, code = refused(t)
    assert err["code"] == "unknown_class" and code == 1008


BAD_MESSAGES = [
    ("not json", "invalid_json", None),
    ("[1]", "invalid_message", None),
    ('{"type": "play"}', "unknown_type", "type"),
    ('{"type": "subscribe", "thumbnail_resolution": 8}', "invalid_value", "thumbnail_resolution"),
    ('{"type": "subscribe", "thumbnail_resolution": 65}', "invalid_value", "thumbnail_resolution"),
    (
        '{"type": "subscribe", "thumbnail_resolution": 32.5}',
        "invalid_value",
        "thumbnail_resolution",
    ),
    ('{"type": "subscribe", "thumbnail_fps": 0.1}', "invalid_value", "thumbnail_fps"),
    ('{"type": "subscribe", "thumbnail_fps": 6}', "invalid_value", "thumbnail_fps"),
    ('{"type": "subscribe", "thumbnail_fps": "2"}', "invalid_value", "thumbnail_fps"),
    ('{"type": "push"}', "invalid_message", "config"),
    ('{"type": "push", "config": {}, "run": "abc"}', "invalid_message", "config"),
    ('{"type": "push", "config": [1]}', "invalid_value", "config"),
    ('{"type": "push", "run": 3}', "invalid_value", "run"),
    ('{"type": "push", "run": "../etc"}', "invalid_value", "run"),
    ('{"type": "push", "run": "unknownrun"}', "not_found", "run"),
    (
        json.dumps({"type": "push", "config": {"optimizer": {"learning_rate": -1}}}),
        "invalid_value",
        "config.optimizer.learning_rate",
    ),
    (json.dumps({"type": "push", "config": {"colour": 1}}), "invalid_value", "config.colour"),
]


def test_bad_teacher_messages_get_an_error_and_the_stream_goes_on(client, klass):
    with join(client, klass["code"], "Ada") as ws:
        student_hello(ws)
        with teacher(client, klass) as t:
            assert recv(t)["type"] == "hello"
            for text, code, field in BAD_MESSAGES:
                t.send_text(text)
                err = until(t, "error")
                assert err["code"] == code, (text, err)
                if field is not None:
                    assert err["field"] == field, (text, err)
            send(t, "subscribe", thumbnail_fps=1)
            assert until(t, "subscribed")["subscription"]["thumbnail_fps"] == 1.0
            roster_until(t, lambda s: len(s) == 1)
        # The student's session saw none of it.
        send(ws, "get_model")
        assert until(ws, "model")["type"] == "model"


def test_binary_from_the_teacher_closes_1003(client, klass):
    from starlette.websockets import WebSocketDisconnect

    with teacher(client, klass) as t:
        recv(t)
        t.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as exc:
            for _ in range(100):
                recv(t)
    assert exc.value.code == 1003
