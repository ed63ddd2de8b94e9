"""A student joining a class: ``/ws?class=<code>&name=<nickname>`` (routes/live.py).

``admit`` runs before the student's session exists: it checks the class, the nickname and
the class's cap, and on a refusal sends the ``error`` and closes the socket itself. On
success it returns the function that enrols the session the route then creates, so the
route keeps one path for creating sessions (and the server-wide session cap).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from mlp_playground.classroom.classes import ClassRegistry, Classroom
from mlp_playground.classroom.names import TooManyGuesses, check_nickname, name_key
from mlp_playground.classroom.teacher import refuse
from mlp_playground.client_address import client_address
from mlp_playground.live.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN
from mlp_playground.live.session import resume_key_matches

if TYPE_CHECKING:
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession


def class_registry(websocket: WebSocket) -> ClassRegistry:
    return websocket.app.state.classes


async def admit(
    websocket: WebSocket,
    registry: SessionRegistry,
    code: str,
    name: str | None,
    resume: tuple[str | None, str | None] = (None, None),
) -> Callable[[LiveSession], None] | None:
    """The enrolment of a new student session, or None after refusing (socket closed):
    ``too_many_attempts`` (1013, this address tried too many unknown codes),
    ``unknown_class`` (1008), ``invalid_value`` on ``name`` (1008), ``name_taken`` on
    ``name`` (1008: another student of the class goes by that name, or one too like it),
    ``too_many_students`` (1013). The name and the cap hold over every process (the
    class link's seats and names in Redis; this process's own count while it is down).
    ``resume``: the session id and resume key the page could not resume (no snapshot):
    if they are a member's of this class under this name, the name is theirs again."""
    classes = class_registry(websocket)
    try:
        klass = await classes.find(code, client_address(websocket))
    except TooManyGuesses as exc:
        await refuse(websocket, "too_many_attempts", str(exc), CLOSE_TRY_AGAIN)
        return None
    if klass is None:
        message = f"no open class {code.strip().upper()!r}: check the code, or the class has ended"
        await refuse(websocket, "unknown_class", message, CLOSE_POLICY)
        return None
    try:
        nickname = check_nickname(name)
    except ValueError as exc:
        await refuse(websocket, "invalid_value", str(exc), CLOSE_POLICY, field="name")
        return None
    if classes.name_taken(klass, registry, nickname):
        message = f"another student of this class is already called {nickname!r}: pick another name"
        await refuse(websocket, "name_taken", message, CLOSE_POLICY, field="name")
        return None
    cap = registry.settings.max_students_per_class
    seat = ""
    if len(classes.students(klass, registry)) < cap and classes.link is not None:
        seat = await classes.link.admit(
            klass, nickname, await _reclaims(classes, klass, nickname, resume)
        )
    if seat == "name_taken":
        message = f"another student of this class is already called {nickname!r}: pick another name"
        await refuse(websocket, "name_taken", message, CLOSE_POLICY, field="name")
        return None
    if seat == "too_many_students" or len(classes.students(klass, registry)) >= cap:
        message = f"this class already has {cap} students (max_students_per_class)"
        await refuse(websocket, "too_many_students", message, CLOSE_TRY_AGAIN)
        return None

    def enrol(session: LiveSession) -> None:
        classes.enrol(klass, session, nickname)
        if classes.link is not None:
            classes.link.seated(session, seat)

    return enrol


async def _reclaims(
    classes: ClassRegistry, klass: Classroom, nickname: str, resume: tuple[str | None, str | None]
) -> bool:
    """Whether the page joining under ``nickname`` owned a session of the class by that name
    (its resume key matches the membership's), e.g. one lost with a killed process."""
    session_id, key = resume
    if not session_id or not key or len(session_id) > 64:
        return False
    member = await asyncio.to_thread(classes.store.member_of, session_id)
    return (
        member is not None
        and member.code == klass.code
        and name_key(member.name) == name_key(nickname)
        and resume_key_matches(key, member.resume_hash)
    )


async def restore(websocket: WebSocket, session: LiveSession) -> None:
    """A resumed session keeps its class membership (see ``ClassRegistry.restore``). Not
    reaped meanwhile: the store may be asked, and its owner is attached only after."""
    classes = getattr(websocket.app.state, "classes", None)
    if classes is None or session.class_code is not None:
        return
    orphaned, session.orphaned_at = session.orphaned_at, None
    try:
        await classes.restore(session)
    finally:
        if session.owner is None and orphaned is not None:
            session.orphaned_at = time.monotonic()
