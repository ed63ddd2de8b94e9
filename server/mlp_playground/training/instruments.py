"""What a trainer shows about its model: predictions, the grid, statistics, gradient check.

``TrainerInstruments`` is the part of ``Trainer`` that reads the model without training it:
probabilities for points and over the decision grid (with Monte-Carlo dropout when the
config asks), a frozen ``Predictor`` copy for other threads, per-layer statistics, a
budgeted gradient check, and the model document (``mlp-playground.model/1``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlp_playground.data.grid import grid_points
from mlp_playground.nn.gradcheck import DEFAULT_TOLERANCE, gradient_check
from mlp_playground.nn.serialization import model_to_document
from mlp_playground.training.config.train_config import ConfigError
from mlp_playground.training.predictor import Predictor, mc_predict
from mlp_playground.training.state import GridResult, TrainerState, finite_or_none

GRADCHECK_WORK_BUDGET = 2.5e9
"""Multiply-adds a gradient check may cost (about 0.45 s on one core of the dev box): a
big net gets fewer sampled entries per tensor so that the check stays under a second."""


class TrainerInstruments(TrainerState):
    """Predictions, grid, layer statistics, gradient check, model document (part of
    ``Trainer``)."""

    def predict_proba(self, points: np.ndarray | Sequence) -> np.ndarray:
        """Class probabilities (N, K) for raw points (N, 2): features and normalisation applied."""
        return self.model.predict_proba(self.inputs(np.asarray(points, dtype=np.float64)))

    def grid(self, resolution: int, hidden: bool = True) -> GridResult:
        """Probabilities over the data domain (and each hidden layer's outputs) in one pass."""
        domain = self.data.domain
        F = self.inputs(grid_points(domain, resolution))
        proba, H = self.model.predict_proba_and_hidden(F, hidden=hidden)
        regression = self.data.regression
        values = self.model.forward(F)[:, 0] if regression else None
        std = None
        pred = self.config.prediction
        if pred["mode"] == "mc_dropout":
            mean, std = mc_predict(self.model, F, pred["passes"], regression)
            if regression:
                values = mean[:, 0]
            else:
                proba = mean
        return GridResult(domain, resolution, proba, H, values, std)

    def predictor(self) -> Predictor:
        """A frozen copy of the model with its input transform, safe to use from another
        thread while this trainer keeps training (the copy shares no arrays)."""
        norm = self.normalization
        return Predictor(self.model.copy(), list(self.features), norm, self.config.loss)

    def layer_stats(self, max_points: int = 512) -> list[dict]:
        """Per hidden layer statistics (``MLP.layer_stats``) on up to ``max_points`` training
        points (the first ones of the training split, so consecutive calls are comparable)."""
        n = min(int(max_points), len(self._y_train))
        if n == 0:
            return []
        cfg = self.config
        return self.model.layer_stats(
            self._X_train[:n],
            self._y_train[:n],
            loss=cfg.loss,
            regularization=cfg.regularization["kind"],
            strength=cfg.regularization["strength"],
        )

    def _gradcheck_samples(self, points: int, max_per_parameter: int) -> int:
        """Entries per tensor to check: ``max_per_parameter``, fewer when the net is so big
        that the check would cost more than ``GRADCHECK_WORK_BUDGET`` (at least 2)."""
        model = self.model
        sizes = [model.n_inputs, *model.hidden_layers, model.n_outputs]
        macs = [a * b for a, b in itertools.pairwise(sizes)]
        # An entry of layer L costs two forward passes from layer L on: W and b per layer.
        per_sample = sum(2 * 2 * points * sum(macs[i:]) for i in range(len(macs)))
        return max(2, min(int(max_per_parameter), int(GRADCHECK_WORK_BUDGET // max(per_sample, 1))))

    def gradient_check(self, points: int, max_per_parameter: int) -> dict[str, Any]:
        """Backprop against centred differences on the first ``points`` training points.

        At most ``max_per_parameter`` entries of each tensor are checked, fewer when the net
        is so big that the check would cost more than ``GRADCHECK_WORK_BUDGET``; the sample
        is seeded from ``config.seed``. The weights are left exactly as they were.
        """
        X, y = self.training_batch(points)
        if len(y) == 0:
            raise ConfigError("data", "no training points to check the gradient on")
        k = self._gradcheck_samples(len(y), max_per_parameter)
        cfg = self.config
        with np.errstate(all="ignore"):
            result = gradient_check(
                self.model,
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

    def model_document(self) -> dict:
        """The model as an ``mlp-playground.model/1`` document (what ``/predict`` loads)."""
        norm = self.normalization.to_dict() if self.normalization is not None else None
        return model_to_document(self.model, list(self.features), norm, self.config.loss)

    def parameter_count(self) -> int:
        return int(sum(p.size for p in self.model.params.values()))
