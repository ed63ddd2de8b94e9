"""The teacher's pushes: a partial config, or a saved run, applied to every student.

Loop side (``push_config``, ``push_run``): check what can be checked without a session,
then queue one internal command per student session (``_push_config`` / ``_push_run``),
exactly as a student's own ``configure`` is queued. Worker side (the handlers, registered
in ``live.commands.COMMANDS`` when this module is imported): apply it between two steps,
send the student the usual ``config`` (and ``data``, ``reset``) and then
``{"type": "event", "event": "pushed", "changed": [...]}``. A push one student's session
refuses (a value its current config makes invalid) is reported to the teacher, never to
the student, and leaves that session as it was, like a refused ``configure``.

Push-run uses the live ``load_run`` command (docs/design.md, "Saved runs and durable sessions": config, points, model,
history; the session paused at step 0 of the run's weights) when ``live.commands`` has one.
Without it (it was being built alongside this), a pushed run goes through the steps of
``configure`` + ``set_data`` + ``load_model``: the run's config (its live fields, the
student's ``speed`` kept), then its points, then its weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_playground.live import commands
from mlp_playground.live.messages import ClientMessage, ProtocolError
from mlp_playground.live.model_commands import load_document
from mlp_playground.live.outgoing import data_message
from mlp_playground.live.state import CONFIG_KEYS, LIVE_DEFAULTS
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.predictor import Predictor, check_model_shape

if TYPE_CHECKING:
    from mlp_playground.live.connection import Connection
    from mlp_playground.live.session import LiveSession

#: Called on the worker when a student's session refuses a push: (session, field, message).
Report = Callable[["LiveSession", str | None, str], None]


def pushed_event(changed: set[str], step: int) -> dict[str, Any]:
    return {"type": "event", "event": "pushed", "changed": sorted(changed), "step": step}


# --- loop side -------------------------------------------------------------------------------


def check_config(partial: dict[str, Any], limits: dict[str, Any]) -> None:
    """Refuse a partial config that no session could take (ProtocolError naming the field):
    merged onto a fresh session's config, as a student's ``configure`` would be."""
    try:
        TrainConfig.from_dict(LIVE_DEFAULTS, limits).merged(partial, limits)
    except ConfigError as exc:
        raise ProtocolError("invalid_value", exc.message, f"config.{exc.field}") from None


def queue(sessions: list[LiveSession], kind: str, args: dict[str, Any]) -> int:
    """Queue one internal command per student session; how many got it. A push is not
    the student's own activity, so it does not keep an abandoned session alive."""
    for session in sessions:
        session.submit(None, ClientMessage(kind, dict(args)), activity=False)
    return len(sessions)


# --- worker side -----------------------------------------------------------------------------


def _announce(session: LiveSession, changed: set[str], data: bool) -> None:
    session.broadcast_config(changed)
    if data:
        session.send(None, data_message(session.trainer))
    session.send(None, pushed_event(changed, session.trainer.step))


def _push_config(
    session: LiveSession, conn: Connection | None, config: dict[str, Any], report: Report
) -> None:
    """Worker: the teacher's partial config, as a ``configure`` from the student."""
    try:
        changed = session.reconfigure(config)
    except ConfigError as exc:
        report(session, f"config.{exc.field}", exc.message)
        return
    if "speed" in changed:
        session.pacer.restart_speed(time.monotonic(), session.trainer.step)
    data = any(c.startswith(("dataset", "validation_split", "data")) for c in changed)
    _announce(session, changed, data)


def _push_run(
    session: LiveSession, conn: Connection | None, run: dict[str, Any], report: Report
) -> None:
    """Worker: a saved run's config, points and weights (a reset: step 0, new optimiser).

    Through the live ``load_run`` command when the live layer has one (looked up at call
    time), else through the steps of ``configure`` + ``set_data`` + ``load_model``."""
    load_run = commands.COMMANDS.get("load_run")
    if load_run is not None:
        before = session.state.config_dict()
        try:
            load_run(session, None, run=run)
        except ConfigError as exc:
            report(session, exc.field, exc.message)
            return
        after = session.state.config_dict()
        changed = {k for k in CONFIG_KEYS if before.get(k) != after.get(k)} | {"data", "network"}
        session.send(None, pushed_event(changed, session.trainer.step))
        return
    config = {k: v for k, v in run["config"].items() if k in CONFIG_KEYS and k != "speed"}
    data = run["data"]
    try:
        # Checked first, so a run the session cannot take leaves it untouched.
        session.state.config.merged(config, session.limits)
        if run.get("model") is not None:
            check_model_shape("model", Predictor.from_document(run["model"]).model, session.limits)
        changed = session.reconfigure(config) | {"data", "network"}
        y = np.asarray(data["labels"], dtype=np.float64)
        if not session.trainer.data.regression:
            y = y.astype(np.int64)
        X = np.asarray(data["points"], dtype=np.float64).reshape(-1, 2)
        session.trainer.set_data(X, y, data.get("classes"))
        session.frames.dirty = True
        if run.get("model") is not None:
            load_document(session, run["model"])
    except ConfigError as exc:
        report(session, exc.field, exc.message)
        return
    _announce(session, changed, True)


def register() -> None:
    """Add the two internal commands to the live command table (idempotent)."""
    commands.COMMANDS.setdefault("_push_config", _push_config)
    commands.COMMANDS.setdefault("_push_run", _push_run)


register()
