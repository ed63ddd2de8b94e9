"""A teacher and three students through TestClient websockets: roster, thumbnails, pushes."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest

from mlp_playground.live import commands, frames
from tests.support.classroom import join, roster_until, student_hello, teacher, thumbnails
from tests.support.live import recv, send, until

NAMES = ["Ada", "<b>Bob</b>", "Chloé & Co"]
STEPS = [3, 5, 7]


@contextlib.contextmanager
def three_students(client, code):
    with (
        join(client, code, NAMES[0]) as a,
        join(client, code, NAMES[1]) as b,
        join(client, code, NAMES[2]) as c,
    ):
        yield [a, b, c]


def prepared(students) -> list[str]:
    """Each student paused at its own step: their session ids."""
    ids = []
    for ws, steps in zip(students, STEPS, strict=True):
        hello = student_hello(ws)
        ids.append(hello["session_id"])
        send(ws, "step", steps=steps)
        until(ws, "metrics", step=steps)
    return ids


def test_roster_thumbnails_and_push_reach_all_three(client, klass):
    with three_students(client, klass["code"]) as students:
        ids = prepared(students)
        with teacher(client, klass) as t:
            hello = recv(t)
            assert hello["type"] == "hello" and hello["role"] == "teacher"
            assert hello["class"] == klass["code"] and hello["join_url"] == klass["join_url"]
            assert hello["subscription"] == {"thumbnail_resolution": 32, "thumbnail_fps": 2.0}
            roster = roster_until(
                t, lambda s: [r["step"] for r in s] == STEPS and all(r["parameters"] for r in s)
            )
            rows = roster["students"]
            assert [r["name"] for r in rows] == NAMES  # verbatim text, join order
            assert [r["session_id"] for r in rows] == ids
            for row in rows:
                assert set(row) >= {
                    "session_id",
                    "name",
                    "step",
                    "train_loss",
                    "validation_loss",
                    "train_accuracy",
                    "validation_accuracy",
                    "parameters",
                    "running",
                }
                assert row["running"] is False and row["connected"] is True
                assert row["parameters"] == 2 * 4 + 4 + 4 * 2 + 2 + 2 * 2 + 2
                assert 0 <= row["train_accuracy"] <= 1 and row["train_loss"] > 0
            got = thumbnails(t, dict(zip(ids, STEPS, strict=True)))
            for sid, frame in got.items():
                assert frame.header.kind == 5 and frame.header.channels == 2
                assert (frame.header.width, frame.header.height) == (32, 32)
                assert frame.session_id == sid and frame.cells.shape == (32, 32, 2)
            send(t, "push", config={"optimizer": {"learning_rate": 0.1}})
            assert until(t, "pushed") == {"type": "pushed", "what": "config", "students": 3}
            for ws in students:
                config = until(ws, "config")
                assert config["changed"] == ["optimizer.learning_rate"]
                assert config["config"]["optimizer"]["learning_rate"] == 0.1
                event = until(ws, "event", event="pushed")
                assert event["changed"] == ["optimizer.learning_rate"]


def test_hello_carries_the_class_and_the_nickname_verbatim(client, klass):
    with join(client, klass["code"].lower(), " <script>alert(1)</s> ") as ws:
        hello = student_hello(ws)
        assert hello["class"] == klass["code"]
        assert hello["name"] == "<script>alert(1)</s>"  # trimmed, never altered
        assert hello["role"] == "owner" and hello["resumed"] is False


def test_a_paused_student_sends_a_thumbnail_only_after_a_change(client, klass):
    with join(client, klass["code"], "Ada") as ws:
        sid = student_hello(ws)["session_id"]
        with teacher(client, klass) as t:
            send(t, "subscribe", thumbnail_fps=5, thumbnail_resolution=16)
            until(t, "subscribed")
            # A default-size thumbnail already in the frame thread may still arrive first.
            first = thumbnails(t, {sid: 0})[sid]
            for _ in range(5):
                if first.header.width == 16:
                    break
                assert first.header.width == 32, "only the default size came before"
                first = thumbnails(t, {sid: 0})[sid]
            assert first.header.width == 16
            # Unchanged: rosters keep coming, thumbnails do not.
            for _ in range(4):
                msg = recv(t)
                while not isinstance(msg, dict):
                    assert msg.header.step != 0 or msg.header.width != 16, "a repeat"
                    msg = recv(t)
                assert msg["type"] == "roster"
            send(ws, "step", steps=2)
            assert thumbnails(t, {sid: 2})[sid].header.step == 2


def test_subscribe_changes_resolution_and_answers_the_subscription(client, klass):
    with join(client, klass["code"], "Ada") as ws:
        sid = student_hello(ws)["session_id"]
        with teacher(client, klass) as t:
            thumbnails(t, {sid: None})
            send(t, "subscribe", thumbnail_resolution=48, thumbnail_fps=0.2)
            sub = until(t, "subscribed")["subscription"]
            assert sub == {"thumbnail_resolution": 48, "thumbnail_fps": 0.2}
            frame = thumbnails(t, {sid: None})[sid]  # due again at once, at the new size
            assert frame.header.width == 48 and len(frame.cells) == 48


def test_students_see_nothing_of_the_class(client, klass):
    with join(client, klass["code"], "Ada") as a, join(client, klass["code"], "Bob") as b:
        student_hello(a)
        bob = student_hello(b)["session_id"]
        send(a, "configure", config={"speed": 100})
        send(a, "play")
        with teacher(client, klass) as t:
            thumbnails(t, {bob: None})
            for _ in range(60):
                msg = recv(a)
                if isinstance(msg, frames.DecodedFrame):
                    assert msg.header.kind != frames.KIND_THUMBNAIL
                else:
                    assert msg["type"] not in ("roster", "subscribed", "pushed")
                    assert bob not in str(msg)


def test_a_resumed_student_keeps_their_class(client, klass):
    with join(client, klass["code"], "Ada") as ws:
        first = student_hello(ws)
        sid, key = first["session_id"], first["resume_key"]
    with client.websocket_connect(
        f"/ws?session={sid}&resume_key={key}&class={klass['code']}&name=Al"
    ) as ws:
        hello = recv(ws)
        assert hello["resumed"] is True and hello["session_id"] == sid
        assert hello["class"] == klass["code"] and hello["name"] == "Ada"
        with teacher(client, klass) as t:
            rows = roster_until(t, lambda s: len(s) == 1)["students"]
            assert rows[0]["session_id"] == sid and rows[0]["connected"] is True


@pytest.mark.parametrize("through", ["load_run", "fallback"])
def test_push_run_loads_a_saved_run_into_every_student(client, klass, through, monkeypatch):
    if through == "fallback":  # the path used when the live layer has no load_run command
        monkeypatch.delitem(commands.COMMANDS, "load_run", raising=False)
    points = [[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]] * 3
    run = client.post(
        "/runs",
        json={
            "title": "XOR",
            "config": {"network": {"hidden_layers": [3], "activation": "tanh"}},
            "data": {"points": points, "labels": [0, 1, 1, 0] * 3},
        },
    )
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    model = client.post(
        "/train",
        json={
            "data": {"points": points, "labels": [0, 1, 1, 0] * 3},
            "network": {"hidden_layers": [3]},
            "epochs": 1,
        },
    ).json()["model"]
    with_model = client.post(
        "/runs",
        json={
            "config": {"network": {"hidden_layers": [3]}},
            "data": {"points": points, "labels": [0, 1, 1, 0] * 3},
            "model": model,
        },
    ).json()["id"]
    with join(client, klass["code"], "Ada") as a, join(client, klass["code"], "Bob") as b:
        for ws in (a, b):
            student_hello(ws)
        with teacher(client, klass) as t:
            for rid in (run_id, with_model):
                send(t, "push", run=rid)
                pushed = until(t, "pushed")
                assert pushed == {"type": "pushed", "what": "run", "run": rid, "students": 2}
                for ws in (a, b):
                    data = until(ws, "data")
                    assert data["points"] == points
                    event = until(ws, "event", event="pushed")
                    assert {"data", "network"} <= set(event["changed"])
            send(t, "push", run="nosuchrun")
            err = until(t, "error")
            assert err["code"] == "not_found" and err["field"] == "run"


def test_a_push_a_student_cannot_take_is_reported_to_the_teacher(client, klass):
    with join(client, klass["code"], "Ada") as a, join(client, klass["code"], "Bob") as b:
        student_hello(a)
        bob = student_hello(b)["session_id"]
        send(b, "configure", config={"network": {"hidden_layers": [4, 4, 4]}})
        until(b, "config")
        with teacher(client, klass) as t:
            send(t, "push", config={"network": {"activation": ["relu", "relu"]}})
            assert until(t, "pushed")["students"] == 2
            err = until(t, "error")
            assert err["code"] == "push_refused" and err["session_id"] == bob
            assert err["name"] == "Bob" and err["field"].startswith("config.network")
            assert until(a, "event", event="pushed")["changed"]
        send(b, "get_model")  # Bob's session is intact and got no error
        msg = recv(b)
        while not (isinstance(msg, dict) and msg["type"] == "model"):
            assert not (isinstance(msg, dict) and msg["type"] in ("error", "event")), msg
            msg = recv(b)
        assert len(msg["model"]["layers"]) == 4


def test_class_pages_are_reachable_over_a_real_http_client_too(live_server):
    r = httpx.post(live_server.url + "/classes")
    assert r.status_code == 201
    assert httpx.get(live_server.url + r.json()["join_url"]).status_code == 200


def test_a_student_back_after_the_grace_period_is_still_in_the_class(make_client):
    """A session that left memory and comes back from its snapshot (a new object with the
    old id) is marked again as the class's student before its hello."""
    c = make_client(session_grace_seconds=0)
    klass = c.post("/classes").json()
    with join(c, klass["code"], "Ada") as ws:
        first = student_hello(ws)
        sid, key = first["session_id"], first["resume_key"]
        send(ws, "play")  # a session that never trained has no snapshot to come back from
        while until(ws, "metrics")["step"] == 0:  # maybe the frame made before the play
            pass
        send(ws, "pause")
    registry = c.app.state.registry
    deadline = time.monotonic() + 5
    while registry.get(sid) is not None:  # dropped at once (grace 0), snapshot written
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with c.websocket_connect(
        f"/ws?session={sid}&resume_key={key}&class={klass['code']}&name=Other"
    ) as ws:
        hello = recv(ws)
        assert hello["resumed"] is True and hello["session_id"] == sid
        assert hello["class"] == klass["code"] and hello["name"] == "Ada"
        with teacher(c, klass) as t:
            rows = roster_until(t, lambda s: len(s) == 1)["students"]
            assert rows[0]["session_id"] == sid and rows[0]["name"] == "Ada"


def test_restore_marks_a_new_object_with_a_members_id(settings):
    import asyncio
    from types import SimpleNamespace

    from mlp_playground.classroom.classes import ClassRegistry
    from mlp_playground.store.memory import MemoryStore

    def session(sid: str) -> SimpleNamespace:
        return SimpleNamespace(id=sid, class_code=None, student_name=None, thumbnails=None)

    async def scenario() -> None:
        store = MemoryStore()
        classes = ClassRegistry(settings, store=store)
        klass, _token = await classes.create()
        classes.enrol(klass, session("s" * 22), "Ada")
        again = session("s" * 22)
        await classes.restore(again)
        assert (again.class_code, again.student_name, again.thumbnails) == (
            klass.code,
            "Ada",
            klass.sink,
        )
        stranger = session("t" * 22)
        await classes.restore(stranger)
        assert stranger.class_code is None
        # Another process (or this one restarted) on the same store: the membership is read
        # back from it, into that registry's own object for the class.
        await asyncio.sleep(0.05)  # the membership is written in the background
        restarted = ClassRegistry(settings, store=store)
        later = session("s" * 22)
        await restarted.restore(later)
        assert (later.class_code, later.student_name) == (klass.code, "Ada")
        assert later.thumbnails is restarted.classes[klass.code].sink is not klass.sink
        await classes.close()

    asyncio.run(scenario())
