"""What a training run holds and reports, shared by every part of the ``Trainer``.

``TrainingData`` is the run's points and split; ``StepResult``, ``Metrics`` and ``GridResult``
are what the loop, the evaluation and the grid hand back. ``TrainerState`` only declares the
attributes (and the two methods) that the trainer's parts (``training_data``,
``training_loop``, ``training_reconfigure``, ``training_instruments``) share, so each part
can be read and type-checked on its own; ``mlp_playground.training.trainer.Trainer`` puts them
together and fills them in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp_playground.data.features import Normalization
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import Optimizer
from mlp_playground.training.config.train_config import TrainConfig


def finite_or_none(v: float | None) -> float | None:
    """``v`` as a float, or None when it is missing or not finite (JSON has no NaN)."""
    return None if v is None or not math.isfinite(v) else float(v)


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose highest score is the label (two classes: a strict majority)."""
    if scores.shape[1] == 2:
        pred = scores[:, 1] > scores[:, 0]
        return float(np.mean(pred == (y == 1)))
    return float(np.mean(scores.argmax(axis=1) == y))


@dataclass
class TrainingData:
    """The points of a run: all of them, the split, the class count and the grid domain."""

    X: np.ndarray
    y: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    classes: int
    domain: tuple[float, float, float, float]
    regression: bool = False

    def split_labels(self) -> list[str]:
        """ "train"/"validation" per point, in point order (the live ``data`` message)."""
        out = np.full(len(self.y), "train", dtype=object)
        out[self.val_idx] = "validation"
        return list(out.tolist())


@dataclass
class StepResult:
    steps_done: int
    diverged: bool
    stopped: str | None = None  # the stop condition met ("validation_loss", ...), if any


@dataclass
class Metrics:
    """Losses are data losses (comparable between splits); ``total_loss`` adds the penalty.

    Accuracies are ``None`` for regression; validation values are ``None`` with no split.
    """

    train_loss: float
    train_accuracy: float | None
    validation_loss: float | None
    validation_accuracy: float | None
    data_loss: float
    regularization_loss: float
    total_loss: float

    def to_dict(self) -> dict:
        return {k: finite_or_none(v) for k, v in self.__dict__.items()}


@dataclass
class GridResult:
    domain: tuple[float, float, float, float]
    resolution: int
    probabilities: np.ndarray  # (R*R, K) row-major, first row at the top
    hidden: list[np.ndarray]  # one (R*R, units) per hidden layer
    values: np.ndarray | None = None  # (R*R,) raw outputs of a regression model
    std: np.ndarray | None = None  # (R*R, K) MC-dropout standard deviation (mc_dropout mode)


class TrainerState:
    """The attributes every part of the trainer reads or writes (declarations only).

    The feature matrices of both splits (``_X_train`` ...) and the epoch being walked
    (``_X_epoch``, ``_y_epoch``, position ``_pos``) are plain attributes rather than
    properties because the step loop reads them on every update.
    """

    config: TrainConfig
    limits: dict[str, Any]
    record_history: bool
    data: TrainingData
    rng: np.random.Generator
    model: MLP
    optimizer: Optimizer
    features: list[str]
    normalization: Normalization | None
    resets: int
    step: int
    epoch: int
    diverged: bool
    history: list[dict]
    initial_loss: float | None
    _X_train: np.ndarray
    _y_train: np.ndarray
    _X_val: np.ndarray
    _y_val: np.ndarray
    _X_epoch: np.ndarray
    _y_epoch: np.ndarray
    _pos: int

    # Methods one part calls and another defines (the base is last in Trainer's MRO, so
    # these stubs are never what runs).

    def reset(self, initial_model: Mapping | None = None) -> None:
        raise NotImplementedError  # Trainer.reset

    def inputs(self, points: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # TrainerData.inputs

    def _start_epoch(self) -> None:
        raise NotImplementedError  # TrainerData._start_epoch

    def _split(self) -> None:
        raise NotImplementedError  # TrainerData._split

    def _fit_normalization(self) -> None:
        raise NotImplementedError  # TrainerData._fit_normalization

    def _prepare(self) -> None:
        raise NotImplementedError  # TrainerData._prepare

    def _make_optimizer(self) -> Optimizer:
        raise NotImplementedError  # Trainer._make_optimizer

    def training_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # TrainerData.training_batch

    @property
    def steps_per_epoch(self) -> int:
        raise NotImplementedError  # TrainerData.steps_per_epoch

    def evaluate(self) -> Metrics:
        raise NotImplementedError  # TrainerLoop.evaluate
