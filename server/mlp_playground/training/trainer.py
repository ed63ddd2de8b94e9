"""The one training run, shared by ``POST /train`` and the live sessions.

``Trainer`` owns the run: its ``TrainConfig``, the model, the optimiser and the one
``numpy.random.Generator`` (seeded from ``config.seed``: the same seed gives the same split,
weights, batches, dropout masks and so the same trajectory, bit for bit). The work is done
by parts it composes, plain objects it creates and keeps for its whole life:

- ``feed`` (``training.data.TrainerData``): points, split, features, normalisation, the
  epoch being walked;
- ``loop`` (``training.loop.TrainerLoop``): steps, stop conditions, evaluation, counters
  and history;
- ``reconfiguration`` (``training.reconfigure.TrainerReconfiguration``): live config edits
  and the shape surgery that keeps weights across them;
- ``instruments`` (``training.instruments.TrainerInstruments``): grid, predictions, layer
  statistics, gradient check, model document, and the frozen ``Predictor`` copies
  (``training.predictor``) other threads predict with.

The parts never see the trainer: each call hands them the config, model, optimiser or RNG
it needs, since those are replaced by a reset or an edit. The methods below are the public
face the server uses. ``state_dict`` / ``load_state_dict`` are the one door to the
resumable state (a live session's snapshot goes through them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlp_playground.data.datasets import data_domain
from mlp_playground.data.features import Normalization
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import Optimizer, make_optimizer
from mlp_playground.training.config.checks import ConfigError, check_data
from mlp_playground.training.config.defaults import DEFAULT_LIMITS
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.data import TrainerData, domain_for, make_data
from mlp_playground.training.instruments import TrainerInstruments
from mlp_playground.training.loop import TrainerLoop
from mlp_playground.training.predictor import (
    Predictor,
    check_model_fits,
    check_model_shape,
    initial_loss_report,
    model_from_state,
    model_state,
)
from mlp_playground.training.reconfigure import TrainerReconfiguration
from mlp_playground.training.state import (
    GridResult,
    Metrics,
    StepResult,
    TrainingData,
    finite_or_none,
)

_STATE_KEYS = ("data", "model", "optimizer", "loop", "rng", "resets", "initial_loss")


class Trainer:
    """Model + optimiser + data + RNG + history of one run (REST request or live session).

    What the live session relies on: ``step``, ``epoch``, ``data``, ``model``,
    ``optimizer``, ``normalization``, ``features``, ``config``, ``resets``; ``reset``,
    ``run_steps``, ``set_data``, ``add_point``, ``remove_point``, ``reconfigure``,
    ``evaluate``, ``learning_rate``, ``layer_stats``, ``initial_loss_report``,
    ``gradient_check``, ``model_document``, ``inputs``, ``state_dict`` and
    ``load_state_dict``.
    """

    model: MLP
    optimizer: Optimizer
    rng: np.random.Generator
    initial_loss: float | None

    def __init__(
        self,
        config: TrainConfig,
        initial_model: Mapping | None = None,
        *,
        record_history: bool = True,
        limits: Mapping | None = None,
    ) -> None:
        self.config = config
        #: Caps an initial model document must fit (the config was checked against them).
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        X, y, classes = make_data(config)
        empty = np.zeros(0, np.int64)
        domain = domain_for(config, X)
        data = TrainingData(X, y, empty, empty.copy(), classes, domain, config.regression)
        self.feed = TrainerData(data, config.network["features"])
        self.loop = TrainerLoop(self.feed, record_history)
        self.reconfiguration = TrainerReconfiguration(self.feed)
        self.instruments = TrainerInstruments(self.feed)
        #: Bumped by every re-initialisation (a live session announces each one).
        self.resets = -1
        self.reset(initial_model)

    # ---------------------------------------------------------------- the parts' state

    @property
    def data(self) -> TrainingData:
        """The points, split, class count and grid domain (``feed.data``)."""
        return self.feed.data

    @property
    def features(self) -> list[str]:
        return self.feed.features

    @property
    def normalization(self) -> Normalization | None:
        """The training split's input statistics; replaced, never mutated, on a refit."""
        return self.feed.normalization

    @property
    def record_history(self) -> bool:
        return self.loop.record_history

    @property
    def step(self) -> int:
        """Optimiser updates since the last reset."""
        return self.loop.step

    @property
    def epoch(self) -> int:
        return self.loop.epoch

    @property
    def diverged(self) -> bool:
        """Whether the last ``run_steps`` call diverged (and was rolled back)."""
        return self.loop.diverged

    @property
    def history(self) -> list[dict]:
        return self.loop.history

    # ---------------------------------------------------------------- (re)initialisation

    def reset(self, initial_model: Mapping | None = None) -> None:
        """Start over from ``config.seed`` on the current data: new split, new weights (or
        ``initial_model``'s), fresh optimiser, step 0. Reproducible: same data and seed give
        the same state as a fresh Trainer."""
        cfg = self.config
        self.rng = np.random.default_rng(cfg.seed)
        self.resets += 1
        self.loop.restart()
        feed = self.feed
        feed.split(cfg.validation_split, self.rng)
        net = cfg.network
        n_out = feed.data.classes if not feed.data.regression else 1
        if initial_model is not None:
            self._load_initial(initial_model, n_out)
        else:
            feed.features = list(net["features"])
            self.model = MLP(
                len(feed.features),
                list(net["hidden_layers"]),
                n_out,
                activation=list(net["activation"]),
                init=net["init"],
                dropout=net["dropout"],
                rng=self.rng,
            )
            feed.fit_normalization(net["normalize"])
        self.optimizer = self._make_optimizer()
        feed.prepare()
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
        self.feed.features = list(loaded.features)
        self.feed.normalization = loaded.normalization
        self.model = model
        # The config describes what is actually trained.
        net = self.config.network
        net["features"] = list(loaded.features)
        net["normalize"] = loaded.normalization is not None
        net["hidden_layers"] = list(model.hidden_layers)
        net["activation"] = list(model.activations)

    def _make_optimizer(self) -> Optimizer:
        opt = self.config.optimizer
        return make_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})

    # ---------------------------------------------------------------- training

    def run_steps(self, k: int) -> StepResult:
        """Run up to ``k`` optimiser updates (``TrainerLoop.run_steps``): stops early on
        divergence (rolled back) or a ``config.stop`` condition."""
        return self.loop.run_steps(k, self.config, self.model, self.optimizer, self.rng)

    def run_epochs(self, n: int) -> StepResult:
        """Run ``n`` epochs' worth of steps (from the current position)."""
        return self.run_steps(n * self.steps_per_epoch)

    def evaluate(self) -> Metrics:
        """Loss and accuracy on both splits, without dropout (no parameter changes)."""
        return self.loop.evaluate(self.config, self.model)

    def record(self) -> None:
        """Append the current state to the history (e.g. at step 0 or mid-epoch at the end)."""
        self.loop.record(self.config, self.model)

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (the schedule applied to the base rate)."""
        return self.config.learning_rate_at(self.step)

    @property
    def n_train(self) -> int:
        return self.feed.n_train

    @property
    def steps_per_epoch(self) -> int:
        return self.feed.steps_per_epoch(self.config.batch_size)

    @property
    def epochs_done(self) -> float:
        """Completed epochs plus the fraction of the current one."""
        return self.epoch + self.feed.epoch_fraction

    def training_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` training inputs (features, normalised) and their labels."""
        return self.feed.training_batch(n)

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs for raw (N, 2) points (features, then normalisation)."""
        return self.feed.inputs(points)

    # ---------------------------------------------------------------- edits

    def reconfigure(self, new: TrainConfig) -> set[str]:
        """Apply a new (validated) config between two steps, keeping weights where they fit.

        Returns the dotted paths that changed. Re-initialises (like ``reset``) when
        ``seed``, ``network.init`` or the number of classes changes; regenerates the data
        when a ``dataset`` field changes; re-splits on ``validation_split``.
        """
        old, self.config = self.config, new
        done = self.reconfiguration.apply(old, new, self.model, self.optimizer, self.rng)
        if done.reset:
            self.reset()
        else:
            self.model, self.optimizer = done.model, done.optimizer
        return done.changed

    def set_data(self, X: np.ndarray, y: np.ndarray, classes: int | None = None) -> None:
        """Replace the points (live CSV upload). Same class count: weights kept, split and
        normalisation refitted. A different class count re-initialises the model."""
        limits = {**DEFAULT_LIMITS, "max_points_train": 10**9}
        d = check_data(
            {"points": X, "labels": y, "classes": classes},
            self.data.regression,
            limits,
            empty_classes=self.data.classes,
        )
        self.config.data = None
        domain = data_domain(d["points"]) if len(d["labels"]) else self.data.domain
        self._replace_data(d["points"], d["labels"], d["classes"], domain)

    def _replace_data(
        self, X: np.ndarray, y: np.ndarray, classes: int, domain: tuple[float, float, float, float]
    ) -> None:
        if self.feed.replace(X, y, classes, domain):
            self.reset()
            return
        self.feed.split(self.config.validation_split, self.rng)
        self.feed.fit_normalization(self.config.network["normalize"])
        self.feed.prepare()

    def add_point(self, point: Sequence[float], label: float) -> None:
        """Add one training point; it joins the next epoch (normalisation unchanged)."""
        self.feed.add_point(point, label)

    def remove_point(self, point: Sequence[float], radius: float | None = None) -> int | None:
        """Remove the point nearest ``point`` within ``radius``; its former index or None."""
        return self.feed.remove_point(point, radius)

    # ---------------------------------------------------------------- instruments

    def predict_proba(self, points: np.ndarray | Sequence) -> np.ndarray:
        """Class probabilities (N, K) for raw points (N, 2)."""
        return self.instruments.predict_proba(self.model, points)

    def grid(self, resolution: int, hidden: bool = True) -> GridResult:
        """Probabilities over the data domain (and each hidden layer's outputs) in one pass."""
        return self.instruments.grid(self.config, self.model, resolution, hidden)

    def predictor(self) -> Predictor:
        """A frozen copy of the model with its input transform, safe to use from another
        thread while this trainer keeps training."""
        return self.instruments.predictor(self.config, self.model)

    def layer_stats(self, max_points: int = 512) -> list[dict]:
        """Per hidden layer statistics on up to ``max_points`` training points."""
        return self.instruments.layer_stats(self.config, self.model, max_points)

    def gradient_check(self, points: int, max_per_parameter: int) -> dict[str, Any]:
        """Backprop against centred differences on the first ``points`` training points."""
        return self.instruments.gradient_check(self.config, self.model, points, max_per_parameter)

    def model_document(self) -> dict:
        """The model as an ``mlp-playground.model/1`` document (what ``/predict`` loads)."""
        return self.instruments.model_document(self.config, self.model)

    def parameter_count(self) -> int:
        return int(sum(p.size for p in self.model.params.values()))

    # ---------------------------------------------------------------- resumable state

    def state_dict(self) -> dict[str, Any]:
        """Everything a fresh ``Trainer`` built from the same config needs to carry on with
        exactly the step that would have followed (PyTorch's meaning).

        ``data``: the feed's points, split, features, normalisation and epoch order
        (``TrainerData.state_dict``); ``model``: its architecture and weights (live edits
        reshape it, so the architecture is state); ``optimizer``: its state_dict; ``loop``:
        step, epoch, divergence flag, history; ``rng``: the bit generator's state (the
        model draws its dropout masks from the same generator); ``resets`` and
        ``initial_loss``. The arrays are copies: the trainer may keep training in place.
        The config and limits are not in it: they are the constructor's arguments.
        """
        return {
            "data": self.feed.state_dict(),
            "model": model_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "loop": self.loop.state_dict(),
            "rng": self.rng.bit_generator.state,
            "resets": int(self.resets),
            "initial_loss": self.initial_loss,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take ``state`` (from ``state_dict``): the next ``run_steps`` continues exactly
        where the saved trainer would have.

        Every part is built and checked aside first; a missing key, a parameter of the wrong
        shape or a model that does not fit the data raises ``ValueError`` naming it and
        leaves this trainer as it was.
        """
        for key in _STATE_KEYS:
            if key not in state:
                raise ValueError(f"trainer state has no {key!r}")
        rng = np.random.default_rng()
        model = model_from_state(state["model"], rng)
        check_model_fits(model, state["data"])
        opt = state["optimizer"]
        if not isinstance(opt, Mapping) or "name" not in opt:
            raise ValueError("optimizer state has no 'name'")
        try:
            optimizer = make_optimizer(opt["name"])
        except ValueError as exc:
            raise ValueError(f"optimizer state: {exc}") from None
        optimizer.load_state_dict(opt)
        TrainerLoop(self.feed).load_state_dict(state["loop"])  # a check, on a throwaway loop
        try:
            rng.bit_generator.state = state["rng"]  # after the model's initialiser drew
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"rng: {exc!r}") from None
        resets = state["resets"]
        if isinstance(resets, bool) or not isinstance(resets, (int, np.integer)):
            raise ValueError(f"resets must be an integer, got {resets!r}")
        initial = state["initial_loss"]
        if initial is not None and (
            isinstance(initial, bool) or not isinstance(initial, float | int)
        ):
            raise ValueError(f"initial_loss must be a number or None, got {initial!r}")
        # The feed checks everything before it assigns anything, and is the last to raise.
        # The parts keep their identity (the loop, reconfiguration and instruments hold
        # this feed); only their contents change.
        self.feed.load_state_dict(state["data"])
        self.loop.load_state_dict(state["loop"])
        self.model, self.optimizer, self.rng = model, optimizer, rng
        self.resets = int(resets)
        self.initial_loss = None if initial is None else float(initial)
