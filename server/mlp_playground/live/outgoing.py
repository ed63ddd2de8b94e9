"""The JSON messages a live session sends, built from the trainer and encoded once.

Builders only read: they never change the session, so the worker can build a message for
an event, a frame or a reply the same way. Every number goes through ``finite``/``clean``
because JSON has no NaN or infinity (a diverging net produces both) and ``dumps`` refuses
them rather than writing invalid JSON. The field order of each message is the protocol's
(docs/protocol.md); clients must not depend on it, but tests and logs read better for it.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_playground.live.connection import Connection

if TYPE_CHECKING:
    from mlp_playground.training.state import Metrics
    from mlp_playground.training.trainer import Trainer

#: One payload for the loop to fan out: (target or None for all, payload, slot or None).
Output = tuple[Connection | None, str | bytes, str | None]


def finite(value: Any) -> float | None:
    """JSON has no NaN/inf: a non-finite number is sent as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def clean(obj: Any) -> Any:
    """Nested structure with numpy scalars as Python numbers and non-finite floats as null."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return finite(obj)
    return obj


def dumps(obj: dict[str, Any]) -> str:
    """Compact JSON text; raises on NaN/inf instead of sending what a browser cannot parse."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


# --- replies and announcements ---------------------------------------------------------------


def config_message(config: dict[str, Any], changed: set[str] | list[str]) -> dict[str, Any]:
    """The effective config after an edit, with the dotted names that changed."""
    return {"type": "config", "config": config, "changed": sorted(changed)}


def data_message(trainer: Trainer) -> dict[str, Any]:
    """Every point with its label and split, the class count and the grid's domain."""
    d = trainer.data
    return {
        "type": "data",
        "points": np.asarray(d.X).tolist(),
        "labels": np.asarray(d.y).tolist(),
        "split": d.split_labels(),
        "classes": int(d.classes),
        "domain": [float(v) for v in d.domain],
    }


def state_event(event: str, step: int, running: bool, **extra: Any) -> dict[str, Any]:
    """``playing`` / ``paused``: the run state changed (``extra``: e.g. a ``message``)."""
    return {"type": "event", "event": event, "step": step, "running": running, **extra}


def reset_message(trainer: Trainer, running: bool) -> dict[str, Any]:
    """The ``reset`` event with the initial-loss check (docs/instruments.md)."""
    report = trainer.initial_loss_report()
    initial, expected, ok = (
        report["initial_loss"],
        report["expected_initial_loss"],
        report["initial_loss_ok"],
    )
    if expected is None or initial is None:
        message = "weights initialised" + (
            f"; initial loss {initial:.4g}" if initial is not None else ""
        )
    elif ok:
        message = f"initial loss {initial:.4g} is close to the expected {expected:.4g}"
    elif initial > expected:
        message = (
            f"initial loss {initial:.4g} is well above the expected {expected:.4g}: "
            "weights too large, the network is confidently wrong before learning"
        )
    else:
        message = (
            f"initial loss {initial:.4g} is below the expected {expected:.4g}: "
            "the network already favours the right classes (a warm start?)"
        )
    return {
        "type": "event",
        "event": "reset",
        "step": trainer.step,
        **report,
        "message": message,
        "running": running,
    }


def diverged_event(trainer: Trainer) -> dict[str, Any]:
    """Training blew up: the trainer rolled the weights back; the session pauses."""
    step = trainer.step
    lr = trainer.optimizer.hparams.get("learning_rate", float("nan"))
    return {
        "type": "event",
        "event": "diverged",
        "step": step,
        "learning_rate": finite(lr),
        "message": (
            f"training diverged at step {step} with learning rate {lr:g}; "
            "weights rolled back, paused"
        ),
        "running": False,
    }


def stopped_event(trainer: Trainer, stop: dict[str, Any], condition: str) -> dict[str, Any]:
    """A ``config.stop`` condition was met at an epoch's end; the session pauses."""
    what = {
        "epochs": f"{trainer.epoch} epochs done",
        "validation_loss": f"validation loss <= {stop['validation_loss']}",
        "validation_accuracy": f"validation accuracy >= {stop['validation_accuracy']}",
    }[condition]
    return {
        "type": "event",
        "event": "stopped",
        "condition": condition,
        "step": trainer.step,
        "epoch": trainer.epoch,
        "message": f"stopped: {what}; paused",
        "running": False,
    }


# --- what goes out with the frames -----------------------------------------------------------


def metrics_message(
    trainer: Trainer, m: Metrics, steps_per_second: float, running: bool
) -> dict[str, Any]:
    """Losses and accuracies of evaluation ``m``, the measured rate and the current rate."""
    return {
        "type": "metrics",
        "step": trainer.step,
        "epoch": trainer.epoch,
        "train_loss": finite(m.train_loss),
        "train_accuracy": finite(m.train_accuracy),
        "validation_loss": finite(m.validation_loss),
        "validation_accuracy": finite(m.validation_accuracy),
        "data_loss": finite(m.data_loss),
        "regularization_loss": finite(m.regularization_loss),
        "steps_per_second": round(steps_per_second, 1),
        "learning_rate": finite(trainer.learning_rate),  # the schedule's current rate
        "running": running,
    }


def stats_message(trainer: Trainer, max_points: int) -> dict[str, Any]:
    """Per-layer activation and gradient statistics on at most ``max_points`` points."""
    layers = trainer.layer_stats(max_points)
    return {"type": "stats", "step": trainer.step, "layers": clean(layers)}


def transform_message(trainer: Trainer, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The mesh over the domain and the data points seen by two hidden units.

    None when the network no longer has that layer or unit (it was reshaped).
    """
    model = trainer.model
    layer, (a, b), size = spec["layer"], spec["units"], spec["mesh"]
    hidden = model.hidden_layers
    if layer >= len(hidden) or max(a, b) >= hidden[layer]:
        return None
    x1_min, x1_max, x2_min, x2_max = trainer.data.domain
    u, v = np.meshgrid(np.linspace(x1_min, x1_max, size), np.linspace(x2_max, x2_min, size))
    mesh = np.column_stack([u.ravel(), v.ravel()])
    X = np.concatenate([mesh, np.asarray(trainer.data.X, dtype=np.float64)])
    with np.errstate(all="ignore"):
        H = model.hidden_outputs(trainer.inputs(X))[layer][:, [a, b]]
    return {
        "type": "transform",
        "step": trainer.step,
        "layer": layer,
        "units": [a, b],
        "mesh": {"size": size, "points": clean(H[: size * size])},
        "points": clean(H[size * size :]),
    }
