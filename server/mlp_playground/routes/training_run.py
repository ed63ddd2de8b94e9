"""What the REST training routes share: building a run, its work budget, running it.

``build_trainer`` checks the grid resolution and makes the ``Trainer``; ``check_work``
refuses (422 on ``steps``/``epochs``) a request whose planned updates would cost more than
``Settings.max_work``; ``Run`` trains in chunks and reports the history and final metrics;
``grid_json`` and ``clean`` make JSON-ready values (no NaN, no infinity).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from mlp_playground.config import Settings
from mlp_playground.routes.schemas import ErrorResponse, TrainRequest
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "a bad field, named in detail[].field"}
}


def limits_of(settings: Settings) -> dict[str, Any]:
    return settings.limits()


def build_trainer(
    body: TrainRequest, settings: Settings, config: TrainConfig | None = None
) -> Trainer:
    """Config and Trainer for a request (data generated, weights initialised, no step)."""
    config = config or body.to_config(limits_of(settings))
    if body.grid is not None:
        lo, hi = settings.min_grid_resolution, settings.max_grid_resolution
        if not lo <= body.grid.resolution <= hi:
            raise ConfigError(
                "grid.resolution",
                f"grid.resolution must be in {lo}..{hi}, got {body.grid.resolution}",
            )
    return Trainer(config, body.initial_model, limits=limits_of(settings))


def _work(trainer: Trainer, steps: int, settings: Settings) -> float:
    """The work units of ``steps`` updates plus one evaluation of all points per epoch."""
    per_param = trainer.parameter_count() + settings.work_parameter_offset
    batch = min(trainer.config.batch_size, max(trainer.n_train, 1))
    epochs = steps / max(trainer.steps_per_epoch, 1)
    points = len(trainer.data.y)
    return per_param * (
        steps * (batch + settings.work_batch_offset)
        + epochs * (points + settings.work_batch_offset)
    )


def check_work(trainers: list[Trainer], settings: Settings, what: str = "") -> int:
    """Planned steps of each run; 422 on ``steps``/``epochs`` when the total is too much."""
    steps = trainers[0].config.planned_steps(trainers[0].n_train)
    total = sum(_work(t, steps, settings) for t in trainers)
    if total > settings.max_work:
        field = "steps" if trainers[0].config.steps is not None else "epochs"
        raise ConfigError(
            field,
            f"too much work for one request{what}: {steps} steps of batch "
            f"{trainers[0].config.batch_size} on {trainers[0].parameter_count()} parameters "
            f"is {total:.3g} work units, over the limit of {settings.max_work:.3g}; ask for "
            "fewer steps or epochs, a smaller batch or a smaller network",
        )
    return steps


def _columns(history: list[dict]) -> dict[str, list]:
    keys = (
        "epoch",
        "step",
        "train_loss",
        "train_accuracy",
        "validation_loss",
        "validation_accuracy",
    )
    return {k: [h[k] for h in history] for k in keys}


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


class Run:
    """One REST run in progress: its initial metrics, start time and outcome so far."""

    def __init__(self, trainer: Trainer, steps: int) -> None:
        self.trainer = trainer
        self.steps = steps
        self.t0 = time.perf_counter()
        trainer.record()
        self.diverged = False
        self.stopped: str | None = None

    @property
    def done(self) -> bool:
        return self.diverged or self.stopped is not None or self.trainer.step >= self.steps

    def advance(self, k: int) -> None:
        """Up to ``k`` more updates (never past ``steps``); notes divergence and stops."""
        result = self.trainer.run_steps(min(k, self.steps - self.trainer.step))
        self.diverged = result.diverged
        self.stopped = result.stopped

    def result(self) -> dict[str, Any]:
        trainer = self.trainer
        trainer.record()
        metrics = trainer.evaluate().to_dict()
        metrics.update(trainer.initial_loss_report())
        metrics.update(
            learning_rate=_finite(trainer.learning_rate),
            stopped=self.stopped,
            steps=trainer.step,
            epochs=round(trainer.epochs_done, 6),
            seconds=round(time.perf_counter() - self.t0, 6),
            diverged=self.diverged,
        )
        return {"history": _columns(trainer.history), "metrics": metrics}


def run_to_end(trainer: Trainer, steps: int) -> dict[str, Any]:
    """Train for ``steps`` updates (stopping on divergence or a stop condition)."""
    run = Run(trainer, steps)
    chunk = max(trainer.steps_per_epoch, 1)
    while not run.done:
        run.advance(chunk)
    return run.result()


def grid_json(trainer: Trainer, resolution: int) -> dict[str, Any]:
    with np.errstate(all="ignore"):
        result = trainer.grid(resolution, hidden=False)
    if not np.isfinite(result.probabilities).all():
        raise ConfigError("grid", "the model's outputs overflow on the grid (weights too large)")
    out = {
        "domain": [float(v) for v in result.domain],
        "resolution": resolution,
        "probabilities": result.probabilities.tolist(),
    }
    if result.values is not None:
        out["values"] = result.values.tolist()
    if result.std is not None:
        out["std"] = result.std.tolist()
    return out


def clean(obj: Any) -> Any:
    """JSON-ready copy: non-finite floats (a saturated net's statistics) become null."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    if isinstance(obj, float):
        return _finite(obj)
    return obj
