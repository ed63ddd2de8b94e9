"""The values a training run holds and reports, shared by the parts of the ``Trainer``.

``TrainingData`` is the run's points and split; ``StepResult``, ``Metrics`` and ``GridResult``
are what the loop, the evaluation and the grid hand back. Plain values only: the parts
themselves (``training.data``, ``training.loop``, ...) import these, never each other's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
