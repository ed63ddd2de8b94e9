"""The teacher's class stream: ``/ws/class/{code}?token=<teacher_token>``.

Three tasks per connection, cancelled together: the sender (``Connection.run_sender``, the
only writer), the receiver (size, binary, JSON, rate and validity checks as on ``/ws``,
then ``subscribe`` / ``push``) and the ticker (a ``roster`` every ``ROSTER_INTERVAL``
seconds into a newest-only slot; it also ends the stream when the class expires). Kind 5
thumbnails arrive from the frame thread through the class's ``ThumbnailSink``. The
protocol is in docs/protocol.md ("Classroom").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from mlp_playground.classroom import push, thumbnails
from mlp_playground.classroom.names import TooManyGuesses
from mlp_playground.classroom.roster import roster_message
from mlp_playground.client_address import client_address
from mlp_playground.live.connection import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    READY,
    Connection,
)
from mlp_playground.live.messages import ClientMessage, ProtocolError, _int, _number
from mlp_playground.live.outgoing import dumps
from mlp_playground.live.receiving import client_texts, error_text, origin_allowed
from mlp_playground.public import public_url

if TYPE_CHECKING:
    from mlp_playground.classroom.classes import ClassRegistry, Classroom
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.classroom")

ROSTER_INTERVAL = 0.5  # seconds: "at least once a second" with room for a busy loop
MAX_TEACHERS = 8  # connections per class: the teacher's laptop, a projector, a colleague
TEACHER_TYPES = ("subscribe", "push")
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


async def refuse(
    websocket: WebSocket, code: str, message: str, close: int, field: str | None = None
) -> None:
    """An accepted socket we will not serve: say why, then close."""
    await websocket.send_text(error_text(code, message, field))
    await websocket.close(close, message[:120])


def hello(klass: Classroom, classes: ClassRegistry, settings: Any) -> str:
    base = public_url(settings)
    join = f"/c/{klass.code}"
    created = datetime.fromtimestamp(klass.created, timezone.utc).isoformat(timespec="seconds")
    return dumps(
        {
            "type": "hello",
            "role": "teacher",
            "class": klass.code,
            "title": klass.title,
            "join_url": join,
            "public_join_url": f"{base}{join}" if base else None,
            "created": created.replace("+00:00", "Z"),
            "expires_in": round(klass.expires_in(), 1),
            "subscription": klass.sink.subscription.to_dict(),
            "limits": {
                "max_students_per_class": settings.max_students_per_class,
                "thumbnail_resolution": [thumbnails.MIN_RESOLUTION, thumbnails.MAX_RESOLUTION],
                "thumbnail_fps": [thumbnails.MIN_FPS, thumbnails.MAX_FPS],
            },
        }
    )


# --- messages --------------------------------------------------------------------------------


def parse(text: str, subscription: thumbnails.ThumbnailSubscription) -> ClientMessage:
    """A teacher's message, checked (ProtocolError otherwise, the connection stays)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError("invalid_message", "a message must be a JSON object with a 'type'")
    kind = obj["type"]
    if kind == "subscribe":
        res, fps = subscription.resolution, subscription.fps
        if "thumbnail_resolution" in obj:
            lo, hi = thumbnails.MIN_RESOLUTION, thumbnails.MAX_RESOLUTION
            res = _int(obj, "thumbnail_resolution", lo, hi)
        if "thumbnail_fps" in obj:
            fps = _number(obj["thumbnail_fps"], "thumbnail_fps")
            if not thumbnails.MIN_FPS <= fps <= thumbnails.MAX_FPS:
                raise ProtocolError(
                    "invalid_value",
                    f"thumbnail_fps must be between {thumbnails.MIN_FPS:g} and "
                    f"{thumbnails.MAX_FPS:g}, got {fps:g}",
                    "thumbnail_fps",
                )
        sub = thumbnails.ThumbnailSubscription(res, fps)
        return ClientMessage("subscribe", {"subscription": sub})
    if kind == "push":
        has_config, has_run = "config" in obj, "run" in obj
        if has_config == has_run:
            raise ProtocolError("invalid_message", "push needs one of 'config' or 'run'", "config")
        if has_config:
            if not isinstance(obj["config"], dict):
                raise ProtocolError("invalid_value", "config must be an object", "config")
            return ClientMessage("push", {"config": obj["config"]})
        run = obj["run"]
        if not isinstance(run, str) or not RUN_ID.match(run):
            raise ProtocolError("invalid_value", "run must be a saved run's id", "run")
        return ClientMessage("push", {"run": run})
    raise ProtocolError(
        "unknown_type",
        f"unknown message type {kind!r}; valid types are {', '.join(TEACHER_TYPES)}",
        "type",
    )


class TeacherStream:
    """One teacher connection to one class (loop thread)."""

    def __init__(
        self,
        conn: Connection,
        klass: Classroom,
        classes: ClassRegistry,
        registry: SessionRegistry,
        store: Any,
    ) -> None:
        self.conn, self.klass, self.classes, self.registry = conn, klass, classes, registry
        self.store = store
        self.loop = asyncio.get_running_loop()

    def students(self) -> list[LiveSession]:
        return self.classes.students(self.klass, self.registry)

    def refresh(self) -> None:
        """Every student's thumbnail is due (a new teacher or subscription)."""
        for session in self.students():
            session.want_frame()
        self.registry.scheduler.wake()

    def report(self, session: LiveSession, field: str | None, message: str) -> None:
        """Worker thread: a student's session refused a push; tell this teacher."""
        err = ProtocolError(
            "push_refused", f"{session.student_name}'s session refused the push: {message}", field
        ).to_message("push")
        text = dumps({**err, "session_id": session.id, "name": session.student_name})
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.conn.push, text)

    async def handle(self, msg: ClientMessage) -> None:
        if msg.type == "subscribe":
            self.klass.sink.resubscribe(msg.args["subscription"])
            self.refresh()
            sub = self.klass.sink.subscription.to_dict()
            self.conn.push(dumps({"type": "subscribed", "subscription": sub}))
            return
        if "config" in msg.args:
            config = msg.args["config"]
            push.check_config(config, self.registry.settings.limits())
            n = push.queue(
                self.students(), "_push_config", {"config": config, "report": self.report}
            )
            if self.classes.link is not None:  # the students of the other processes
                n += self.classes.link.push(self.klass, {"config": config})
            self.conn.push(dumps({"type": "pushed", "what": "config", "students": n}))
            return
        run_id = msg.args["run"]
        run = await asyncio.to_thread(self.store.get_run, run_id) if self.store else None
        if run is None:
            raise ProtocolError("not_found", f"no saved run with id {run_id!r}", "run")
        n = push.queue(self.students(), "_push_run", {"run": run, "report": self.report})
        if self.classes.link is not None:
            n += self.classes.link.push(self.klass, {"run": run_id})
        self.conn.push(dumps({"type": "pushed", "what": "run", "run": run_id, "students": n}))

    async def receive(self) -> None:
        async for text in client_texts(self.conn, self.registry.settings):
            request = None
            try:
                msg = parse(text, self.klass.sink.subscription)
                request = msg.type
                await self.handle(msg)
            except ProtocolError as exc:
                self.conn.push(dumps(exc.to_message(request)))
            except Exception:  # a bug must not drop the teacher's connection
                log.exception("a teacher's %s message failed", request or "client")
                self.conn.push(error_text("internal_error", "the message failed", None, request))

    async def tick(self) -> None:
        while self.conn.close_code is None:
            if self.klass.expired():
                message = (
                    "the class was ended by its teacher"
                    if self.klass.ended
                    else "the class has ended (class_lifetime_seconds)"
                )
                self.conn.push(dumps({"type": "event", "event": "class_ended", "message": message}))
                await asyncio.sleep(0.5)
                self.conn.request_close(CLOSE_NORMAL, "class ended")
                return
            self.conn.push(roster_message(self.klass, self.classes, self.registry), "roster")
            await asyncio.sleep(ROSTER_INTERVAL)


async def admit_teacher(
    websocket: WebSocket, classes: ClassRegistry, code: str, token: str | None, seat: str
) -> Classroom | None:
    """The class if this connection may teach it, else None after refusing (closed): the
    origin, the code, the token, and ``MAX_TEACHERS`` (here, and over every process)."""
    settings = classes.settings
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.cors_origins
    ):
        msg = "pages from another origin may not open websockets here (MLPG_CORS_ORIGINS)"
        await refuse(websocket, "forbidden_origin", msg, CLOSE_POLICY)
        return None
    client = client_address(websocket)
    try:
        klass = await classes.find(code, client)
    except TooManyGuesses as exc:
        await refuse(websocket, "too_many_attempts", str(exc), CLOSE_TRY_AGAIN)
        return None
    if klass is None:
        await refuse(websocket, "unknown_class", f"no open class {code!r}", CLOSE_POLICY)
        return None
    if not klass.token_ok(token):
        classes.guess_failed(client)
        await refuse(websocket, "forbidden", "wrong or missing teacher token", CLOSE_POLICY)
        return None
    link = classes.link
    if len(klass.sink.teachers) >= MAX_TEACHERS or (
        link is not None and not await link.take_teacher(klass, seat, MAX_TEACHERS)
    ):
        msg = f"this class already has {MAX_TEACHERS} teacher connections"
        await refuse(websocket, "too_many_teachers", msg, CLOSE_TRY_AGAIN)
        return None
    return klass


async def serve_teacher(websocket: WebSocket, code: str, token: str | None) -> None:
    """Check the class and the token, then stream until either side ends."""
    app = websocket.app
    registry: SessionRegistry = app.state.registry
    classes: ClassRegistry = app.state.classes
    settings = registry.settings
    await websocket.accept()
    seat = "teacher-" + secrets.token_hex(8)
    klass = await admit_teacher(websocket, classes, code, token, seat)
    if klass is None:
        return
    await classes.claim(klass)  # a teacher came: the class is no longer reclaimable
    conn = Connection(websocket, "teacher")
    conn.push(hello(klass, classes, settings), READY)
    stream = TeacherStream(conn, klass, classes, registry, getattr(app.state, "store", None))
    klass.sink.attach(conn)
    stream.refresh()
    tasks = [
        asyncio.create_task(conn.run_sender()),
        asyncio.create_task(stream.receive()),
        asyncio.create_task(stream.tick()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if conn.close_code is not None and not tasks[0].done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(tasks[0]), 1.0)
    finally:
        klass.sink.detach(conn)
        if classes.link is not None:
            classes.link.teacher_left(klass, seat)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
