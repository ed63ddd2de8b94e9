"""Websocket routes: ``/ws`` (owner) and ``/ws/watch/{token}`` (read-only watcher).

Each connection runs two tasks, cancelled together: the receiver (this module: size,
binary, JSON, rate and validity checks, then hand the message to the session) and the
sender (``Connection.run_sender``: the only task that writes to the socket, so frames,
messages and the close never interleave). The protocol is in docs/protocol.md.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, WebSocket
from fastapi.responses import JSONResponse

from mlp_playground.client_address import client_address
from mlp_playground.deps import RegistryDep
from mlp_playground.live import saved_runs
from mlp_playground.live.connection import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Connection,
    run_connection,
)
from mlp_playground.live.durable import ResumeForbidden
from mlp_playground.live.messages import (
    DATA_REQUEST,
)
from mlp_playground.live.outgoing import dumps
from mlp_playground.live.receiving import client_messages, error_text, origin_allowed
from mlp_playground.live.registry import SessionRegistry
from mlp_playground.live.session import LiveSession, resume_key_matches
from mlp_playground.routes import live_remote
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.routes.live_remote import refuse_watcher

router = APIRouter()
rest = APIRouter(route_class=OffLoopJSONRoute)  # the REST side of live sessions
log = logging.getLogger("mlp_playground.live")

LOAD_MODEL_TIMEOUT = 30.0  # seconds: the worker applies it between two training slices


async def _refuse_foreign_origin(websocket: WebSocket, registry: SessionRegistry) -> bool:
    """Accept the socket; if its origin is not allowed, say why, close 1008, return True."""
    await websocket.accept()
    origin = websocket.headers.get("origin")
    if origin_allowed(origin, websocket.headers.get("host"), registry.settings.cors_origins):
        return False
    await websocket.send_text(
        error_text(
            "forbidden_origin",
            "pages from another origin may not open websockets here "
            "(the server's MLPG_CORS_ORIGINS lists the ones that may)",
        )
    )
    await websocket.close(CLOSE_POLICY, "forbidden origin")
    return True


@router.websocket("/ws")
async def owner_socket(
    websocket: WebSocket,
    session: str | None = None,
    resume_key: str | None = None,
    class_code: Annotated[str | None, Query(alias="class")] = None,
    name: str | None = None,
) -> None:
    """Open (or resume with ``?session=<id>&resume_key=<key>``) a session owned by this
    connection; ``?class=<code>&name=<nickname>``: a new session is a student of that
    class. An existing session's id without its resume key: ``forbidden``, close 1008,
    and the session is untouched. Over this client's share of sessions (or into the
    places kept for students): ``too_many_sessions``, close 1013."""
    from mlp_playground.classroom import students

    registry: SessionRegistry = websocket.app.state.registry
    if await _refuse_foreign_origin(websocket, registry):
        return
    conn = Connection(websocket, "owner")
    client = client_address(websocket)
    live = registry.get(session) if session else None
    if live is not None and not resume_key_matches(resume_key, live.resume_hash):
        await _forbid(websocket)
        return
    if live is not None:
        live.resume_key = resume_key  # repeated in the hello (it matched the hash)
    if live is None and session:
        refusal = registry.share_refusal(client)
        try:
            live = None if refusal else await _from_snapshot(registry, session, resume_key, client)
        except ResumeForbidden:
            await _forbid(websocket)
            return
    resumed = live is not None
    enrol = None
    if live is None and class_code is not None:
        enrol = await students.admit(websocket, registry, class_code, name, (session, resume_key))
        if enrol is None:
            return  # refused (unknown class, bad nickname, class full): already closed
    refusal = None
    if live is None:
        reserved = 0 if enrol is not None else _reserved_for_students(websocket, registry)
        refusal = registry.share_refusal(client, student=enrol is not None, reserved=reserved)
        live = None if refusal else await registry.open_session(client)
    if live is None:
        await _refuse_full(websocket, registry, refusal)
        return
    if enrol is not None:
        enrol(live)
    elif resumed:
        await students.restore(websocket, live)  # a resumed student stays in their class
    refusal = await registry.claim_share(live)  # the share over every process
    if refusal is not None:
        await _refuse_full(websocket, registry, refusal)
        return
    registry.attach_owner(live, conn)
    conn.push(live.hello("owner", resumed))
    # The data goes out through the worker, so it is consistent with queued commands.
    live.submit(conn, DATA_REQUEST)
    await _serve(registry, live, conn)


async def _refuse_full(websocket: WebSocket, registry: SessionRegistry, why: str | None) -> None:
    """No place for a new session: this client's share (``why``) or the server's cap."""
    limit = registry.settings.max_sessions
    message = why or f"the server already runs {limit} sessions; try again later"
    await websocket.send_text(error_text("too_many_sessions", message))
    await websocket.close(CLOSE_TRY_AGAIN, "too many sessions")


async def _forbid(websocket: WebSocket) -> None:
    """An existing session asked for without its owner's resume key."""
    await websocket.send_text(
        error_text(
            "forbidden",
            "resuming a session as its owner takes its resume_key (from the owner's hello); "
            "a session id alone is not enough",
        )
    )
    await websocket.close(CLOSE_POLICY, "forbidden")


def _reserved_for_students(websocket: WebSocket, registry: SessionRegistry) -> int:
    """Places kept for students of open classes a teacher has connected to: each class's
    cap minus its students in memory, summed (``share_refusal`` bounds it by half the
    server). An unclaimed class reserves nothing: one empty ``POST /classes`` must not take
    half the server from everyone for the 15 minutes before it is reclaimed."""
    classes = getattr(websocket.app.state, "classes", None)
    if classes is None:
        return 0
    classes.purge()
    cap = registry.settings.max_students_per_class
    return sum(
        max(0, cap - len(classes.students(klass, registry)))
        for klass in list(classes.classes.values())
        if klass.claimed
    )


async def _from_snapshot(
    registry: SessionRegistry, session_id: str, resume_key: str | None, client: str
) -> LiveSession | None:
    """A session not in memory, recreated from its snapshot (after a restart or its grace
    period), or None (no snapshot, or the server is full); ``ResumeForbidden`` without
    its owner's key."""
    if len(session_id) > 64:
        return None
    return await registry.restore(session_id, resume_key, client)


@router.websocket("/ws/watch/{token}")
async def watcher_socket(websocket: WebSocket, token: str) -> None:
    """Follow a session read-only; an unknown token closes with 1008; a client holding
    ``max_watchers_per_client`` watcher sockets here gets ``too_many_watchers`` and 1013."""
    registry: SessionRegistry = websocket.app.state.registry
    if await _refuse_foreign_origin(websocket, registry):
        return
    client = client_address(websocket)
    if not registry.hold_watcher_place(client):
        await refuse_watcher(websocket, registry.settings.max_watchers_per_client, client=True)
        return
    try:
        await _watch(websocket, registry, token)
    finally:
        registry.release_watcher_place(client)


async def _watch(websocket: WebSocket, registry: SessionRegistry, token: str) -> None:
    live = registry.by_watch_token(token)
    if live is None and registry.link is not None:
        await live_remote.watch(websocket, registry, token)  # held by another process?
        return
    if live is None:
        await websocket.close(CLOSE_POLICY, "unknown watch token")
        return
    conn = Connection(websocket, "watcher")
    if not await registry.admit_watcher(live, conn):
        await refuse_watcher(websocket, registry.settings.max_watchers)
        return
    if live.closed:  # ended while the cluster counted the watcher
        registry.detach(live, conn)
        await websocket.close(CLOSE_POLICY, "unknown watch token")
        return
    conn.push(live.hello("watcher"))
    live.submit(conn, DATA_REQUEST, activity=False)
    live.want_frame()
    await _serve(registry, live, conn)


async def _serve(registry: SessionRegistry, live: LiveSession, conn: Connection) -> None:
    try:
        await run_connection(conn, _receive(registry, live, conn))
    finally:
        registry.detach(live, conn)


async def _receive(registry: SessionRegistry, live: LiveSession, conn: Connection) -> None:
    async for parsed in client_messages(conn, registry.settings):
        if parsed.type in saved_runs.STORE_TYPES:  # the store blocks: off the receiver
            saved_runs.start(registry, live, conn, parsed)
            continue
        refused = live.costs.refusal(len(live.commands), parsed, time.monotonic())
        if refused is not None:  # what the worker owes every session (live.command_costs)
            conn.push(dumps(refused.to_message(parsed.type)))
            continue
        if parsed.type == "pause":
            # Stop at the end of the running chunk, before the worker even reads the queue.
            live.running = False
        live.costs.admitted(parsed)
        live.submit(conn, parsed, activity=conn.role == "owner")


@rest.post(
    "/sessions/{session_id}/model",
    responses={
        403: {"description": "X-Resume-Key is missing or not the session owner's"},
        404: {"description": "no live session with this id"},
        422: {"description": "the document is refused; detail[].field is `model`"},
    },
)
def load_session_model(
    session_id: str,
    model: Annotated[dict[str, Any], Body(description="a model document (GET /train's `model`)")],
    registry: RegistryDep,
    x_resume_key: Annotated[
        str | None, Header(description="the owner's resume_key, from its hello")
    ] = None,
) -> JSONResponse:
    """Load a model document into a live session: its shape, activations, features,
    normalisation, loss and weights, at step 0 with a fresh optimiser.

    The websocket's ``load_model`` does the same for documents under the message size cap;
    this takes any size the network limits allow. The owner's secret is the authority:
    the ``resume_key`` of its ``hello``, in the ``X-Resume-Key`` header (the session id is
    public: rosters, frames and logs show it). Every connection of the
    session gets ``config``, the ``reset`` event and new frames; the answer is the new
    config.
    """
    live = registry.get(session_id) if registry is not None else None
    if live is None:
        raise HTTPException(404, "unknown session id")
    if not resume_key_matches(x_resume_key, live.resume_hash):
        raise HTTPException(403, "X-Resume-Key must be the session owner's resume_key")
    done = live.request_load_model(model)
    # Ended since the lookup: cancel before its worker, which still runs a closed session's
    # last commands until it lets go, can apply it.
    if live.closed and done.cancel():
        raise HTTPException(404, "the session ended")
    deadline = time.monotonic() + LOAD_MODEL_TIMEOUT
    while True:
        try:
            return JSONResponse({"config": done.result(timeout=0.2)})
        except concurrent.futures.TimeoutError:
            # A cancelled request is skipped by the worker, so a retry never loads twice.
            if live.closed and done.cancel():
                raise HTTPException(404, "the session ended") from None
            if time.monotonic() > deadline and done.cancel():
                raise HTTPException(503, "the session did not answer in time") from None
