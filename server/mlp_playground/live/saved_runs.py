"""The loop side of the live ``save`` and ``load_run`` messages (owner only).

Both need the store, whose calls block, so each request runs as its own task (the
receiver goes on reading messages) and calls the store in a thread. ``save`` asks the
worker for the run's body between two steps (a future, as ``load_model``'s REST path
does), then validates and stores it exactly as ``POST /runs`` does (``validate_run``, the
same caps): the answer is ``saved`` or an ``error`` naming what was refused, and the
session is not touched either way. ``load_run`` reads the run, then hands it to the worker
as a command (``run_commands._load_run``), which replaces the state between two steps.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlp_playground.client_address import client_address
from mlp_playground.live.connection import Connection
from mlp_playground.live.messages import ClientMessage, ProtocolError
from mlp_playground.live.outgoing import dumps
from mlp_playground.store.base import (
    CorruptRun,
    RateLimited,
    RunTooLarge,
    SavedRun,
    Store,
    StoreError,
    StoreFull,
)
from mlp_playground.store.schemas import RunRequest, validate_run
from mlp_playground.training.config.checks import ConfigError

if TYPE_CHECKING:
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

STORE_TYPES = frozenset({"save", "load_run"})
WORKER_TIMEOUT = 30.0  # seconds: the worker answers between two training slices

#: Requests in flight; a task must be referenced until it ends.
_tasks: set[asyncio.Task[None]] = set()


def start(
    registry: SessionRegistry, live: LiveSession, conn: Connection, msg: ClientMessage
) -> None:
    """Loop: run the request as a task; its answer goes to ``conn`` only."""
    handler = _save if msg.type == "save" else _load_run
    task = asyncio.create_task(_answer(handler, registry, live, conn, msg))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _answer(handler: Any, registry: Any, live: Any, conn: Connection, msg: Any) -> None:
    try:
        await handler(registry, live, conn, msg)
    except ProtocolError as exc:
        conn.push(dumps(exc.to_message(msg.type)))
    except Exception:
        log.exception("session %s: %s failed", live.id, msg.type)
        err = ProtocolError("internal_error", f"{msg.type} failed on the server")
        conn.push(dumps(err.to_message(msg.type)))


def _store(conn: Connection) -> Store:
    store = getattr(conn.websocket.app.state, "store", None)
    if store is None:
        raise ProtocolError("unavailable", "this server keeps no saved runs")
    return store


async def _save(
    registry: SessionRegistry, live: LiveSession, conn: Connection, msg: ClientMessage
) -> None:
    store = _store(conn)
    done: Future = Future()
    live.submit(conn, ClientMessage("save", {"title": msg.args.get("title"), "done": done}))
    try:
        body = await asyncio.wait_for(asyncio.wrap_future(done), WORKER_TIMEOUT)
    except asyncio.TimeoutError:
        done.cancel()
        raise ProtocolError(
            "unavailable", "the session did not answer in time; try again"
        ) from None
    client = client_address(conn.websocket)
    saved = await asyncio.to_thread(_validate_and_save, store, registry.settings, body, client)
    conn.push(
        dumps(
            {
                "type": "saved",
                "id": saved.id,
                "url": saved.url,
                "delete_token": saved.delete_token,
            }
        )
    )


def _validate_and_save(store: Store, settings: Any, body: dict[str, Any], client: str) -> SavedRun:
    """Thread: ``POST /runs``' checks and caps, as protocol errors."""
    try:
        run = validate_run(RunRequest.model_validate(body), settings)
        return store.save_run(run, client)
    except ConfigError as exc:
        raise ProtocolError("invalid_value", exc.message, exc.field) from None
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        text = str(errors[0]["msg"]) if errors else "invalid run"
        raise ProtocolError("invalid_value", text, where or None) from None
    except RunTooLarge as exc:
        raise ProtocolError("run_too_large", str(exc)) from None
    except RateLimited as exc:
        raise ProtocolError("too_many_runs", str(exc)) from None
    except StoreFull as exc:
        raise ProtocolError("store_full", str(exc)) from None
    except StoreError as exc:
        raise ProtocolError("store_error", str(exc)) from None


async def _load_run(
    registry: SessionRegistry, live: LiveSession, conn: Connection, msg: ClientMessage
) -> None:
    store = _store(conn)
    run_id = msg.args["id"]
    try:
        run = await asyncio.to_thread(store.get_run, run_id)
    except CorruptRun as exc:
        raise ProtocolError("store_error", str(exc), "id") from None
    if run is None:
        raise ProtocolError("not_found", f"no saved run with id {run_id!r}", "id")
    live.submit(conn, ClientMessage("load_run", {"run": run}))
