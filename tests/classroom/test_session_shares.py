"""Live sessions that one client cannot take from the others, tried against a real server:
the attacker connects from 127.0.0.2, its victims from 127.0.0.1 and 127.0.0.3.

Covers: a session id alone (as the roster, kind 5 frames and logs show it) does not resume
a session (``forbidden``, 1008) while the owner's ``resume_key`` does; the per-client share
of sessions (``max_sessions_per_client``, ``too_many_sessions`` and 1013), grace-period
sessions counted for their creator only; the places kept for students of open classes.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from urllib.parse import quote

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.classroom.test_classroom_safety import next_of, refusal, trains, ws_url
from tests.support.attack import client_from, running_server

pytestmark = pytest.mark.slow

ATTACKER, OWNER, OTHER = "127.0.0.2", "127.0.0.1", "127.0.0.3"


def open_from(stack: ExitStack, address: str, url: str) -> ClientConnection:
    """A websocket from ``address``, closed when ``stack`` ends."""
    return stack.enter_context(connect(url, source_address=(address, 0), open_timeout=20))


def greeting(ws: ClientConnection) -> dict:
    """The first JSON message: a ``hello`` or an ``error``."""
    raw = ws.recv(timeout=20)
    while isinstance(raw, bytes):
        raw = ws.recv(timeout=20)
    msg: dict = json.loads(raw)
    return msg


def close_code(ws: ClientConnection) -> int | None:
    """Wait for a refused socket's close; its code."""
    try:
        while True:
            ws.recv(timeout=10)
    except Exception:
        pass
    return ws.close_code


def test_an_id_alone_does_not_take_a_session_over() -> None:
    with running_server({"MLPG_SESSION_GRACE_SECONDS": "30"}) as server, ExitStack() as stack:
        base = ws_url(server.url) + "/ws"
        victim = open_from(stack, OWNER, base)
        hello = next_of(victim, "hello")
        sid, key = hello["session_id"], hello["resume_key"]
        assert len(key) >= 32 and key != sid  # 24 random bytes: 192 bits
        trains(victim, 5)
        for query in (
            f"?session={sid}",
            f"?session={sid}&resume_key=",
            f"?session={sid}&resume_key={quote(key[:-1] + ('A' if key[-1] != 'A' else 'B'))}",
        ):
            attacker = open_from(stack, ATTACKER, base + query)
            err, code = refusal(attacker)
            assert err["code"] == "forbidden" and code == 1008, (query, err, code)
        # The owner's connection was not touched: it still trains.
        assert trains(victim, 12) >= 12
        # The owner's key resumes it (from another socket: the first one is replaced).
        again = open_from(stack, OWNER, f"{base}?session={sid}&resume_key={quote(key)}")
        back = next_of(again, "hello")
        assert back["resumed"] is True and back["session_id"] == sid and back["step"] >= 12
        assert back["resume_key"] == key
        assert sid in server.output() and key not in server.output()  # the log: id only


def test_one_address_gets_its_share_and_the_others_still_get_sessions() -> None:
    env = {
        "MLPG_MAX_SESSIONS": "12",
        "MLPG_MAX_SESSIONS_PER_CLIENT": "5",
        "MLPG_MAX_STUDENTS_PER_CLASS": "3",
    }
    with running_server(env) as server, ExitStack() as stack:
        base = ws_url(server.url) + "/ws"
        with client_from(OWNER, server.url) as teacher:
            made = teacher.post("/classes").json()
            unclaimed = teacher.post("/classes").json()["code"]  # reserves nothing
        code = made["code"]
        wall = f"{ws_url(server.url)}/ws/class/{code}?token={made['teacher_token']}"
        next_of(open_from(stack, OWNER, wall), "roster")  # claimed: its places are kept
        mine = []
        for i in range(20):  # the attacker's 20 sockets
            ws = open_from(stack, ATTACKER, base)
            msg = greeting(ws)
            if i < 5:
                assert msg["type"] == "hello", (i, msg)
                mine.append(ws)
            else:
                assert msg["code"] == "too_many_sessions", (i, msg)
                assert "max_sessions_per_client" in msg["message"]
                assert close_code(ws) == 1013
        # Its own sessions are unharmed.
        assert trains(mine[0], 5) >= 5
        # Another client opens sessions until only the students' places are left:
        # 12 - 3 (the claimed class's cap, no student yet) = 9 places, 5 taken: 4 more
        # (the unclaimed class, whose teacher never connected, keeps no place).
        others = []
        for _ in range(4):
            ws = open_from(stack, OTHER, base)
            assert greeting(ws)["type"] == "hello"
            others.append(ws)
        ws = open_from(stack, OTHER, base)
        err, closed = refusal(ws)
        assert err["code"] == "too_many_sessions" and closed == 1013
        assert "students" in err["message"]
        # ... and every student of the open class still gets in (the server is then full),
        # the attacker's address too (a student counts in the address's share of students,
        # not in its share of sessions).
        for address, name in ((OWNER, "Ada"), (OTHER, "Grace"), (ATTACKER, "Alan")):
            url = f"{base}?class={code}&name={name}"
            student = open_from(stack, address, url)
            hello = greeting(student)
            assert hello["type"] == "hello" and hello["class"] == code, hello
        assert trains(others[0], 5) >= 5
        assert unclaimed


def test_one_address_cannot_fill_the_server_with_its_own_students() -> None:
    """The attacker opens its own class and joins it as 30 "students": it gets its share of
    students (``max_students_per_client``), and a real class's students and everyone's
    ordinary sessions still get in."""
    env = {"MLPG_MAX_SESSIONS": "16", "MLPG_MAX_STUDENTS_PER_CLIENT": "3"}
    with running_server(env) as server, ExitStack() as stack:
        base = ws_url(server.url) + "/ws"
        with client_from(ATTACKER, server.url) as attacker:
            own = attacker.post("/classes").json()["code"]
        with client_from(OWNER, server.url) as teacher:
            real = teacher.post("/classes").json()["code"]
        joined = 0
        for i in range(30):
            ws = open_from(stack, ATTACKER, f"{base}?class={own}&name=bot{i}")
            msg = greeting(ws)
            if msg["type"] == "hello":
                joined += 1
                continue
            assert msg["code"] == "too_many_sessions", (i, msg)
            assert "max_students_per_client" in msg["message"]
            assert close_code(ws) == 1013
        assert joined == 3
        for address, name in ((OWNER, "Ada"), (OTHER, "Grace")):
            student = open_from(stack, address, f"{base}?class={real}&name={name}")
            assert greeting(student)["type"] == "hello"
        for address in (OWNER, OTHER):
            assert greeting(open_from(stack, address, base))["type"] == "hello"


def test_churn_cannot_fill_the_server() -> None:
    """Open and close a socket every few ms: the closed sessions wait out their grace period
    (10 s) counted for the attacker, so it stops at its share and the server has room."""
    env = {"MLPG_MAX_SESSIONS": "12", "MLPG_MAX_SESSIONS_PER_CLIENT": "4"}
    with running_server(env) as server:
        base = ws_url(server.url) + "/ws"
        outcomes = []
        t0 = time.monotonic()
        for _ in range(40):
            with connect(base, source_address=(ATTACKER, 0), open_timeout=20) as ws:
                outcomes.append(greeting(ws).get("code", "hello"))
            time.sleep(0.04)
        assert time.monotonic() - t0 < 10  # all of it within the grace period
        assert outcomes[:4] == ["hello"] * 4
        assert set(outcomes[4:]) == {"too_many_sessions"}
        with ExitStack() as stack:  # the other 8 places are free for everyone else
            for address in (OTHER, "127.0.0.4"):
                for _ in range(4):
                    ws = open_from(stack, address, base)
                    assert greeting(ws)["type"] == "hello"
