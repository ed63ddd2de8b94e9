"""``/ws/watch/{token}`` for a session held by another process (docs/design.md, "Several processes").

The watcher's connection here receives the owner's stream through Redis
(``Cluster.watch``): the owner's process sends its catch-up (``hello``, ``data``, ``reset``,
a frame) to this watcher alone, then every message of the session, as the bytes its own
connections get. A watcher may ask ``get_model``: the answer is the model document the
owner's process publishes about once a second. When Redis or the owner's process goes,
the watcher gets an ``error`` (``unavailable``) and a close with 1013: try again later.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fastapi import WebSocket

from mlp_playground.live.connection import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Connection,
    run_connection,
)
from mlp_playground.live.outgoing import dumps
from mlp_playground.live.receiving import client_messages, error_text
from mlp_playground.live.registry import SessionRegistry

if TYPE_CHECKING:  # Redis is an optional dependency: imported only when it is configured
    from mlp_playground.cluster.errors import ClusterUnavailable
    from mlp_playground.live.cluster_link import ClusterLink


async def refuse_watcher(websocket: WebSocket, limit: int, client: bool = False) -> None:
    """The session's watcher cap (counted on every process) or, ``client``, the address's
    own (``max_watchers_per_client``) is reached: say so, close 1013."""
    message = (
        f"this address already watches through {limit} sockets (max_watchers_per_client)"
        if client
        else f"this session already has {limit} watchers"
    )
    await websocket.send_text(error_text("too_many_watchers", message))
    await websocket.close(CLOSE_TRY_AGAIN, "too many watchers")


async def _unavailable(websocket: WebSocket, exc: ClusterUnavailable) -> None:
    message = f"the session cannot be reached from this process now: {exc}"
    await websocket.send_text(error_text("unavailable", message))
    await websocket.close(CLOSE_TRY_AGAIN, "try again later")


async def watch(websocket: WebSocket, registry: SessionRegistry, token: str) -> None:
    """Follow the session of ``token`` held elsewhere; an unknown token closes with 1008."""
    from mlp_playground.cluster.errors import ClusterUnavailable
    from mlp_playground.live.cluster_link import ConnectionSink

    link = registry.link
    assert link is not None
    try:
        entry = await link.find_watched(token)
    except ClusterUnavailable as exc:
        await _unavailable(websocket, exc)
        return
    if entry is None:
        await websocket.close(CLOSE_POLICY, "unknown watch token")
        return
    conn = Connection(websocket, "watcher")
    try:
        remote = await link.cluster.watch(
            entry, ConnectionSink(conn), registry.settings.max_watchers
        )
    except ClusterUnavailable as exc:
        await _unavailable(websocket, exc)
        return
    if remote is None:
        await refuse_watcher(websocket, registry.settings.max_watchers)
        return
    try:
        await run_connection(conn, _receive(registry, link, entry.session_id, conn))
    finally:
        await link.cluster.unwatch(remote)


async def _receive(
    registry: SessionRegistry, link: ClusterLink, session_id: str, conn: Connection
) -> None:
    """A watcher only follows: ``get_model`` is answered from the published model."""
    from mlp_playground.cluster.errors import ClusterUnavailable

    async for _ in client_messages(conn, registry.settings):  # get_model: the only one
        try:
            raw = await link.cluster.read_model(session_id)
        except ClusterUnavailable as exc:
            conn.push(error_text("unavailable", f"the model cannot be read now: {exc}"))
            continue
        if raw is None:
            conn.push(error_text("unavailable", "the session has not published its model yet"))
            continue
        conn.push(dumps({"type": "model", "model": json.loads(raw)}))
