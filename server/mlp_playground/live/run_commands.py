"""Commands between a session and the store: snapshots, ``save`` and ``load_run`` (worker).

The store is never called here: its calls block (a database round trip), and this runs on
the training thread. The worker's part is what needs the session's state between two
steps: copying it for a snapshot (handed to the registry's writer through
``session.snapshot_sink``), building a run's body for ``save`` (handed back to the route
through a future), and replacing the state by a run the route already fetched
(``load_run``). The route side is ``live.saved_runs``; the writer is ``live.durable``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from mlp_playground.live.connection import Connection
from mlp_playground.live.outgoing import data_message, state_event
from mlp_playground.live.snapshot import capture, state_key
from mlp_playground.live.state import CONFIG_KEYS
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

#: Commands that change nothing a client sees: they neither bump the session's generation
#: (which would drop the frame being rendered) nor count as an edit for frame pacing.
QUIET_TYPES = frozenset({"_snapshot", "save", "_offer_model"})


def take_snapshot(session: LiveSession, force: bool = False, final: bool = False) -> None:
    """Worker: copy the state for the writer, unless nothing changed since the last copy.

    ``final``: the session is leaving memory; the writer is waiting for this one. A session
    that never trained (step 0: new, or re-initialised) hands ``None`` instead: nothing
    worth a restart is lost, and any older snapshot of it is forgotten, so that opening
    and closing sessions costs the database nothing.
    """
    sink = session.snapshot_sink
    if sink is None:
        return
    key = state_key(session)
    if key == session.snapshot_key and not (force or final):
        return
    session.snapshot_key = key
    if session.state.trainer.step == 0:
        sink(None, final)
        return
    t0 = time.perf_counter()
    captured = capture(session)
    captured.seconds = time.perf_counter() - t0
    captured.client = session.client  # students too: their snapshots are their address's
    captured.owned = session.owner is not None
    sink(captured, final)


def _snapshot(
    session: LiveSession, conn: Connection | None, force: bool = False, final: bool = False
) -> None:
    take_snapshot(session, force, final)


def _save(session: LiveSession, conn: Connection | None, title: str | None, done: Future) -> None:
    """The run's body as ``POST /runs`` takes it; the route validates and stores it."""
    if not done.set_running_or_notify_cancel():
        return
    try:
        state = session.state
        trainer = state.trainer
        d = trainer.data
        data: dict[str, Any] = {"points": d.X.tolist(), "labels": d.y.tolist()}
        if not d.regression:
            data["classes"] = int(d.classes)
        done.set_result(
            {
                "title": title,
                "config": state.config.to_dict(),
                "data": data,
                "model": trainer.model_document(),
                "history": copy.deepcopy(state.history),
            }
        )
    except Exception as exc:  # a bug: the route answers internal_error
        log.exception("session %s: save failed", session.id)
        done.set_exception(exc)


def _load_run(session: LiveSession, conn: Connection | None, run: dict[str, Any]) -> None:
    """Replace the session's state by a saved run: its config, points, model and history,
    paused at step 0 of the loaded weights. Built in full before anything is replaced, so
    a run that does not fit this server's limits leaves the session as it was."""
    state = session.state
    cfg = {k: v for k, v in run["config"].items() if k != "data"}
    try:
        config = TrainConfig.from_dict(
            {**cfg, "dataset": None, "data": run["data"]}, session.limits
        )
        trainer = Trainer(
            config, initial_model=run.get("model"), record_history=False, limits=session.limits
        )
    except ConfigError as exc:
        raise ConfigError(
            "id", f"this run does not load here: {exc.field}: {exc.message}"
        ) from None
    if cfg.get("dataset") is not None:
        # As after a set_data: the points are the run's, the dataset settings stay for
        # a later regenerate.
        trainer.config.dataset = copy.deepcopy(cfg["dataset"])
        trainer.config.data = None
    old, was_running = state.trainer, state.running
    before = state.config_dict()
    trainer.resets = old.resets + 1  # apply_queued announces the re-initialisation
    state.trainer, state.config = trainer, trainer.config
    state.running = False
    state.title, state.history = run.get("title"), copy.deepcopy(run.get("history"))
    session.pacer.stop()
    session.pacer.rate_window.clear()
    session.frames.dirty = True
    after = state.config_dict()
    changed = {k for k in CONFIG_KEYS if before.get(k) != after.get(k)}
    session.broadcast_config(changed)
    session.send(None, data_message(trainer))
    if was_running:
        session.send(None, state_event("paused", trainer.step, False))
    session.send(
        None,
        {
            "type": "event",
            "event": "run_loaded",
            "id": run.get("id"),
            "title": state.title,
            "history": state.history,
            "step": trainer.step,
            "running": False,
        },
    )


#: Merged into ``commands.COMMANDS`` (handlers take the session, the sender, the args).
COMMANDS: dict[str, Callable[..., None]] = {
    "_snapshot": _snapshot,
    "save": _save,
    "load_run": _load_run,
}
