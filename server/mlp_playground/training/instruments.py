"""The trainer's instruments part: predictions, the grid, statistics, gradient check.

``TrainerInstruments`` reads the model without training it: probabilities for points and
over the decision grid (with Monte-Carlo dropout when the config asks), a frozen
``Predictor`` copy for other threads, per-layer statistics, a budgeted gradient check, and
the model document (``mlp-playground.model/1``). It holds no state of its own: it reads the
inputs from the trainer's ``TrainerData`` and is handed the config and the model (which the
trainer replaces on a reset or an edit) by each call.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlp_playground.data.grid import grid_points
from mlp_playground.nn.gradcheck import DEFAULT_TOLERANCE, gradient_check
from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import model_to_document
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.data import TrainerData
from mlp_playground.training.predictor import Predictor, mc_predict
from mlp_playground.training.state import GridResult, finite_or_none

GRADCHECK_WORK_BUDGET = 2.5e9
"""Multiply-adds a gradient check may cost (about 0.45 s on one core of the dev box): a
big net gets fewer sampled entries per tensor so that the check stays under a second."""


class TrainerInstruments:
    """Predictions, grid, layer statistics, gradient check, model document."""

    def __init__(self, feed: TrainerData) -> None:
        self.feed = feed

    def predict_proba(self, model: MLP, points: np.ndarray | Sequence) -> np.ndarray:
        """Class probabilities (N, K) for raw points (N, 2): features and normalisation applied."""
        return model.predict_proba(self.feed.inputs(np.asarray(points, dtype=np.float64)))

    def grid(
        self, config: TrainConfig, model: MLP, resolution: int, hidden: bool = True
    ) -> GridResult:
        """Probabilities over the data domain (and each hidden layer's outputs) in one pass."""
        feed = self.feed
        domain = feed.data.domain
        F = feed.inputs(grid_points(domain, resolution))
        proba, H = model.predict_proba_and_hidden(F, hidden=hidden)
        regression = feed.data.regression
        values = model.forward(F)[:, 0] if regression else None
        std = None
        pred = config.prediction
        if pred["mode"] == "mc_dropout":
            mean, std = mc_predict(model, F, pred["passes"], regression)
            if regression:
                values = mean[:, 0]
            else:
                proba = mean
        return GridResult(domain, resolution, proba, H, values, std)

    def predictor(self, config: TrainConfig, model: MLP) -> Predictor:
        """A frozen copy of the model with its input transform, safe to use from another
        thread while the trainer keeps training (the copy shares no arrays)."""
        feed = self.feed
        return Predictor(model.copy(), list(feed.features), feed.normalization, config.loss)

    def layer_stats(self, config: TrainConfig, model: MLP, max_points: int = 512) -> list[dict]:
        """Per hidden layer statistics (``MLP.layer_stats``) on up to ``max_points`` training
        points (the first ones of the training split, so consecutive calls are comparable)."""
        X, y = self.feed.training_batch(int(max_points))
        if len(y) == 0:
            return []
        cfg = config
        return model.layer_stats(
            X,
            y,
            loss=cfg.loss,
            regularization=cfg.regularization["kind"],
            strength=cfg.regularization["strength"],
        )

    @staticmethod
    def gradcheck_samples(model: MLP, points: int, max_per_parameter: int) -> int:
        """Entries per tensor to check: ``max_per_parameter``, fewer when the net is so big
        that the check would cost more than ``GRADCHECK_WORK_BUDGET`` (at least 2)."""
        sizes = [model.n_inputs, *model.hidden_layers, model.n_outputs]
        macs = [a * b for a, b in itertools.pairwise(sizes)]
        # An entry of layer L costs two forward passes from layer L on: W and b per layer.
        per_sample = sum(2 * 2 * points * sum(macs[i:]) for i in range(len(macs)))
        return max(2, min(int(max_per_parameter), int(GRADCHECK_WORK_BUDGET // max(per_sample, 1))))

    def gradient_check(
        self, config: TrainConfig, model: MLP, points: int, max_per_parameter: int
    ) -> dict[str, Any]:
        """Backprop against centred differences on the first ``points`` training points.

        At most ``max_per_parameter`` entries of each tensor are checked, fewer when the net
        is so big that the check would cost more than ``GRADCHECK_WORK_BUDGET``; the sample
        is seeded from ``config.seed``. The weights are left exactly as they were.
        """
        X, y = self.feed.training_batch(points)
        if len(y) == 0:
            raise ConfigError("data", "no training points to check the gradient on")
        k = self.gradcheck_samples(model, len(y), max_per_parameter)
        cfg = config
        with np.errstate(all="ignore"):
            result = gradient_check(
                model,
                X,
                y,
                cfg.loss,
                cfg.regularization["kind"],
                cfg.regularization["strength"],
                max_per_parameter=k,
                rng=np.random.default_rng(cfg.seed),
            )
        rows = [
            {
                "parameter": r["parameter"],
                "index": [int(i) for i in r["index"]],
                "analytic": finite_or_none(r["analytic"]),
                "numerical": finite_or_none(r["numerical"]),
                "relative_error": finite_or_none(r["relative_error"]),
            }
            for r in result.rows
        ]
        return {
            "rows": rows,
            "worst_relative_error": finite_or_none(result.worst_relative_error),
            "passed": bool(result.passed),
            "threshold": DEFAULT_TOLERANCE,
        }

    def model_document(self, config: TrainConfig, model: MLP) -> dict:
        """The model as an ``mlp-playground.model/1`` document (what ``/predict`` loads)."""
        feed = self.feed
        norm = feed.normalization.to_dict() if feed.normalization is not None else None
        return model_to_document(model, list(feed.features), norm, config.loss)
