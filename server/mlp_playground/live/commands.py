"""The worker's side of client messages: apply each queued command between two steps.

``apply_queued`` drains a session's queue; each message goes to its handler in
``COMMANDS`` (one per client message type of docs/protocol.md, plus the internal
``_data``). A handler checks what depends on the session's state (a label below the class
count, a weight index inside its matrix) and raises ``ProtocolError`` or ``ConfigError``
to refuse; the refusal becomes an ``error`` to the sender and the session is left as it
was. Commands on the network itself (weights, model documents, the gradient check) are in
``model_commands``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_playground.live import model_commands, run_commands
from mlp_playground.live.connection import READY, Connection
from mlp_playground.live.messages import ClientMessage, ProtocolError
from mlp_playground.live.outgoing import (
    data_message,
    dumps,
    reset_message,
    state_event,
)
from mlp_playground.training.config.checks import ConfigError

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

Handler = Callable[..., None]  # (session, sender or None, **the message's checked args)


def apply_queued(session: LiveSession) -> bool:
    """Worker: apply every queued command; True if there was any.

    Each one bumps the session's generation (a frame started before it is dropped) and any
    re-initialisation it causes is announced with a ``reset`` event.
    """
    did = False
    while session.commands:
        conn, msg = session.commands[0]
        if not session.costs.due(msg, time.monotonic()):
            break  # an expensive one spaced out (live.command_costs): the rest wait behind it
        session.commands.popleft()
        session.costs.started(msg)
        did = True
        cpu = time.thread_time()
        try:
            _apply(session, conn, msg)
        finally:
            spent = time.thread_time() - cpu
            session.pacer.served += spent  # the session's own share pays for it
            session.costs.ran(msg, spent, time.monotonic())
    return did


def _apply(session: LiveSession, conn: Connection | None, msg: ClientMessage) -> None:
    """Worker: one command, its refusal answered to the sender."""
    if msg.type not in run_commands.QUIET_TYPES:
        session.generation += 1
        session.pacer.show_edit()
    resets = session.trainer.resets
    try:
        COMMANDS[msg.type](session, conn, **msg.args)
    except ProtocolError as exc:
        session.send(conn, exc.to_message(msg.type))
    except ConfigError as exc:
        where = f"config.{exc.field}" if msg.type == "configure" else exc.field
        err = ProtocolError("invalid_value", str(exc.message), where)
        session.send(conn, err.to_message(msg.type))
    except ValueError as exc:
        session.send(conn, ProtocolError("invalid_value", str(exc)).to_message(msg.type))
    except Exception:  # a bug must not take the worker (and every session) down
        log.exception("session %s: %s failed", session.id, msg.type)
        err = ProtocolError("internal_error", f"{msg.type} failed on the server")
        session.send(conn, err.to_message(msg.type))
    if session.trainer.resets != resets:  # any re-initialisation is announced
        session.send(None, reset_message(session.trainer, session.running))


# --- helpers ----------------------------------------------------------------------------------


def _data_changed(session: LiveSession) -> None:
    """The points changed: a new frame, and the new ``data`` to everyone."""
    session.frames.dirty = True
    session.send(None, data_message(session.trainer))


# --- run state -------------------------------------------------------------------------------


def _configure(session: LiveSession, conn: Connection | None, config: dict) -> None:
    changed = session.reconfigure(config) if config else set()
    if "speed" in changed:
        session.pacer.restart_speed(time.monotonic(), session.trainer.step)
    session.broadcast_config(changed)
    if any(c.startswith(("dataset", "validation_split", "data")) for c in changed):
        session.send(None, data_message(session.trainer))


def _play(session: LiveSession, conn: Connection | None) -> None:
    session.running = True
    session.pacer.restart_speed(time.monotonic(), session.trainer.step)
    session.send(None, state_event("playing", session.trainer.step, True))


def _pause(session: LiveSession, conn: Connection | None) -> None:
    session.running = False
    session.pacer.stop()
    session.frames.dirty = True
    session.send(None, state_event("paused", session.trainer.step, False))
    run_commands.take_snapshot(session)  # a paused session is written at once


def _step(session: LiveSession, conn: Connection | None, steps: int) -> None:
    pacer = session.pacer
    pacer.pending_steps = min(pacer.pending_steps + steps, 10 * session.settings.max_step_message)


def _reset(session: LiveSession, conn: Connection | None) -> None:
    session.trainer.reset()
    session.pacer.stop()
    session.frames.dirty = True
    session.pacer.rate_window.clear()
    # The reset event (with the initial-loss check) follows from apply_queued.


def _reseed(session: LiveSession, conn: Connection | None) -> None:
    changed = session.reconfigure({"seed": secrets.randbelow(2**31)})
    session.broadcast_config(changed | {"seed"})
    _reset(session, conn)


def _regenerate(session: LiveSession, conn: Connection | None) -> None:
    changed = session.reconfigure({"dataset": {"seed": secrets.randbelow(2**31)}})
    session.broadcast_config(changed)
    session.send(None, data_message(session.trainer))


# --- points ----------------------------------------------------------------------------------


def _add_point(session: LiveSession, conn: Connection | None, point: tuple, label: int) -> None:
    session.pacer.idle_until = 0.0
    data, cap = session.trainer.data, session.settings.max_live_points
    classes = int(data.classes)
    if label >= classes:
        raise ProtocolError("invalid_value", f"label must be between 0 and {classes - 1}", "label")
    if len(data.y) >= cap:
        raise ProtocolError("invalid_value", f"at most {cap} points", "point")
    session.trainer.add_point(point, label)
    _data_changed(session)


def _remove_point(
    session: LiveSession, conn: Connection | None, point: tuple, radius: float
) -> None:
    if session.trainer.remove_point(point, radius) is None:
        raise ProtocolError(
            "not_found", f"no point within {radius:g} of ({point[0]:g}, {point[1]:g})", "point"
        )
    _data_changed(session)


def _clear_points(session: LiveSession, conn: Connection | None) -> None:
    session.trainer.set_data(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    _data_changed(session)


def _set_data(
    session: LiveSession,
    conn: Connection | None,
    points: list,
    labels: list,
    classes: int | None = None,
) -> None:
    session.pacer.idle_until = 0.0
    X = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    y = np.asarray(labels, dtype=np.int64)
    session.trainer.set_data(X, y, classes)  # a new class count re-initialises: reset event
    _data_changed(session)


# --- the stream ------------------------------------------------------------------------------


def _subscribe(session: LiveSession, conn: Connection | None, **fields: Any) -> None:
    transform = fields.get("transform")
    if transform is not None:
        hidden = session.trainer.model.hidden_layers
        layer = transform["layer"]
        if layer >= len(hidden):
            raise ProtocolError(
                "invalid_value",
                f"layer must be a hidden layer index below {len(hidden)}, got {layer}",
                "transform.layer",
            )
        if max(transform["units"]) >= hidden[layer]:
            raise ProtocolError(
                "invalid_value",
                f"hidden layer {layer} has {hidden[layer]} units: units must be below that",
                "transform.units",
            )
    session.state.subscription = replace(session.state.subscription, **fields)
    session.pacer.next_frame = 0.0
    session.frames.reset_throttles()
    session.frames.dirty = True


def _send_data(session: LiveSession, conn: Connection | None) -> None:
    """A new connection's first data; a frame for it follows in the same turn."""
    session.deliver([(conn, dumps(data_message(session.trainer)), READY)])
    session.send(conn, reset_message(session.trainer, session.running))  # after hello
    session.want_frame(at_once=True)


#: Handler of each message type (the page's, then ``_data``, then the network's).
COMMANDS: dict[str, Handler] = {
    "configure": _configure,
    "play": _play,
    "pause": _pause,
    "step": _step,
    "reset": _reset,
    "reseed": _reseed,
    "regenerate": _regenerate,
    "add_point": _add_point,
    "remove_point": _remove_point,
    "clear_points": _clear_points,
    "set_data": _set_data,
    "subscribe": _subscribe,
    "_data": _send_data,
    **model_commands.COMMANDS,
    **run_commands.COMMANDS,
}
