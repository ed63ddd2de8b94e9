"""The one training loop, shared by ``POST /train`` and the live sessions.

``TrainConfig`` is the ``/train`` body as plain Python values (docs/design.md, "The REST contract") plus the
live-only ``speed``; it validates itself and raises ``ConfigError(field, message)`` so that
REST can answer 422 naming the field and the websocket can fill its ``field``. ``Trainer``
owns the model, the optimiser, the data and the run's one ``numpy.random.Generator``
(seeded from ``config.seed``: the same seed gives the same split, weights, batches, dropout
masks and so the same trajectory, bit for bit).

``Trainer`` is put together here from its parts, one module each (docs/internals.md):
``training_data`` (points, split, normalisation, epoch order, data edits),
``training_loop`` (steps, stop conditions, metrics, history), ``training_reconfigure``
(live config edits and shape surgery) and ``training_instruments`` (grid, predictions,
layer statistics, gradient check, model document). This module re-exports the names the
rest of the server imports from it (config, results, ``Predictor`` and its helpers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import Optimizer, make_optimizer
from mlp_playground.training.config.train_config import (
    DEFAULT_CONFIG,
    DEFAULT_LIMITS,
    ConfigError,
    TrainConfig,
    check_data,
    check_int,
    check_number,
    check_points,
)
from mlp_playground.training.data import TrainerData, domain_for, make_data
from mlp_playground.training.instruments import GRADCHECK_WORK_BUDGET, TrainerInstruments
from mlp_playground.training.loop import HISTORY_CAP, TrainerLoop
from mlp_playground.training.predictor import (
    Predictor,
    check_model_shape,
    expected_initial_loss,
    initial_loss_report,
    mc_predict,
)
from mlp_playground.training.reconfigure import TrainerReconfiguration
from mlp_playground.training.state import (
    GridResult,
    Metrics,
    StepResult,
    TrainingData,
    finite_or_none,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_LIMITS",
    "GRADCHECK_WORK_BUDGET",
    "HISTORY_CAP",
    "ConfigError",
    "GridResult",
    "Metrics",
    "Predictor",
    "StepResult",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "check_data",
    "check_int",
    "check_model_shape",
    "check_number",
    "check_points",
    "expected_initial_loss",
    "initial_loss_report",
    "mc_predict",
]


class Trainer(TrainerData, TrainerLoop, TrainerReconfiguration, TrainerInstruments):
    """Model + optimiser + data + RNG + history of one run (REST request or live session).

    What the live session relies on: ``step``, ``epoch``, ``data``, ``model``,
    ``optimizer``, ``normalization``, ``features``, ``config``, ``resets``; ``reset``,
    ``run_steps``, ``set_data``, ``add_point``, ``remove_point``, ``reconfigure``,
    ``evaluate``, ``learning_rate``, ``layer_stats``, ``initial_loss_report``,
    ``gradient_check``, ``model_document`` and ``inputs``.
    """

    def __init__(
        self,
        config: TrainConfig,
        initial_model: Mapping | None = None,
        *,
        record_history: bool = True,
        limits: Mapping | None = None,
    ) -> None:
        self.config = config
        self.record_history = record_history
        #: Caps an initial model document must fit (the config was checked against them).
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        X, y, classes = make_data(config)
        empty = np.zeros(0, np.int64)
        domain = domain_for(config, X)
        self.data = TrainingData(X, y, empty, empty.copy(), classes, domain, config.regression)
        self.resets = -1
        self.reset(initial_model)

    def reset(self, initial_model: Mapping | None = None) -> None:
        """Start over from ``config.seed`` on the current data: new split, new weights (or
        ``initial_model``'s), fresh optimiser, step 0. Reproducible: same data and seed give
        the same state as a fresh Trainer."""
        cfg = self.config
        self.rng = np.random.default_rng(cfg.seed)
        #: Bumped by every re-initialisation (a live session announces each one).
        self.resets += 1
        self.step = 0
        self.epoch = 0
        self.diverged = False
        self.history: list[dict] = []
        self._split()
        net = cfg.network
        n_out = self.data.classes if not self.data.regression else 1
        if initial_model is not None:
            self._load_initial(initial_model, n_out)
        else:
            self.features = list(net["features"])
            self.model = MLP(
                len(self.features),
                list(net["hidden_layers"]),
                n_out,
                activation=list(net["activation"]),
                init=net["init"],
                dropout=net["dropout"],
                rng=self.rng,
            )
            self._fit_normalization()
        self.optimizer = self._make_optimizer()
        self._prepare()
        with np.errstate(all="ignore"):
            self.initial_loss = finite_or_none(self.evaluate().data_loss)

    def initial_loss_report(self) -> dict[str, Any]:
        """The loss of the weights as (re-)initialised against what theory expects."""
        return initial_loss_report(self.config.loss, self.data.classes, self.initial_loss)

    def _load_initial(self, doc: Mapping, n_out: int) -> None:
        try:
            net = self.config.network
            loaded = Predictor.from_document(
                doc, init=net["init"], dropout=net["dropout"], rng=self.rng
            )
        except ConfigError as exc:
            raise ConfigError("initial_model", "initial_" + exc.message) from None
        model = loaded.model
        check_model_shape("initial_model", model, self.limits)
        if model.n_outputs != n_out:
            raise ConfigError(
                "initial_model",
                f"initial_model has {model.n_outputs} outputs but the data has {n_out} "
                f"{'target' if n_out == 1 else 'classes'}",
            )
        self.features = list(loaded.features)
        self.normalization = loaded.normalization
        self.model = model
        # The config describes what is actually trained.
        net = self.config.network
        net["features"] = list(self.features)
        net["normalize"] = loaded.normalization is not None
        net["hidden_layers"] = list(model.hidden_layers)
        net["activation"] = list(model.activations)

    def _make_optimizer(self) -> Optimizer:
        opt = self.config.optimizer
        return make_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})
