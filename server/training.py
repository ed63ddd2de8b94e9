"""The one training loop, shared by ``POST /train`` and the live sessions.

``TrainConfig`` is the ``/train`` body as plain Python values (DESIGN.md section 5) plus the
live-only ``speed``; it validates itself and raises ``ConfigError(field, message)`` so that
REST can answer 422 naming the field and the websocket can fill its ``field``. ``Trainer``
owns the model, the optimiser, the data and the run's one ``numpy.random.Generator``
(seeded from ``config.seed``: the same seed gives the same split, weights, batches, dropout
masks and so the same trajectory, bit for bit).

``TrainConfig`` and its checks live in ``mlp_playground.training_config`` (re-exported here).

The per-step path is deliberately bare: an epoch's shuffled copy of the training set is
gathered once per epoch, a mini-batch is two slices (views), and a step is one
``loss_and_grads`` plus one ``optimizer.step``. Divergence is detected from the loss (a float
test, free) and, once per ``run_steps`` call, from the weights; the weights at the start of the
call are the rollback point, so no per-step copy is needed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp_playground.datasets import DOMAIN, data_domain, generate, stratified_split
from mlp_playground.features import FEATURES, Normalization, check_features, expand
from mlp_playground.grid import grid_points
from mlp_playground.nn.gradcheck import DEFAULT_TOLERANCE, gradient_check
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer
from mlp_playground.nn.serialization import model_from_document, model_to_document
from mlp_playground.training_config import (
    DEFAULT_CONFIG,
    DEFAULT_LIMITS,
    ConfigError,
    TrainConfig,
    check_data,
    check_int,
    check_number,
    check_points,
)

GRADCHECK_WORK_BUDGET = 2.5e9
"""Multiply-adds a gradient check may cost (about 0.45 s on one core of the dev box): a
big net gets fewer sampled entries per tensor so that the check stays under a second."""

HISTORY_CAP = 20_000
"""Most history entries kept (oldest dropped): bounds a live session that runs for hours."""

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_LIMITS",
    "ConfigError",
    "GridResult",
    "Metrics",
    "Predictor",
    "StepResult",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "check_model_shape",
    "check_points",
    "expected_initial_loss",
    "initial_loss_report",
    "mc_predict",
]

# --------------------------------------------------------------------------- results


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
        return out.tolist()


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
        return {k: _finite_or_none(v) for k, v in self.__dict__.items()}


@dataclass
class GridResult:
    domain: tuple[float, float, float, float]
    resolution: int
    probabilities: np.ndarray  # (R*R, K) row-major, first row at the top
    hidden: list[np.ndarray]  # one (R*R, units) per hidden layer
    values: np.ndarray | None = None  # (R*R,) raw outputs of a regression model
    std: np.ndarray | None = None  # (R*R, K) MC-dropout standard deviation (mc_dropout mode)


@dataclass
class Predictor:
    """A model with its features and normalisation: raw points in, probabilities out."""

    model: MLP
    features: list[str]
    normalization: Normalization | None
    loss: str

    @classmethod
    def from_document(cls, doc: Mapping, **kwargs: Any) -> Predictor:
        """Load a model document; a malformed one raises ConfigError("model", ...).

        ``kwargs`` (init, dropout, rng) go to ``model_from_document``.
        """
        try:
            loaded = model_from_document(
                dict(doc) if isinstance(doc, Mapping) else doc, known_features=FEATURES, **kwargs
            )
            features = check_features(loaded.features)
            if len(features) != loaded.model.n_inputs:
                raise ValueError(
                    f"features: {len(features)} names for {loaded.model.n_inputs} inputs"
                )
            norm = loaded.normalization
            if norm is not None and not isinstance(norm, Normalization):
                norm = Normalization.from_dict(norm, len(features))
        except ValueError as exc:
            raise ConfigError("model", f"model: {exc}") from None
        return cls(loaded.model, features, norm, loaded.loss)

    def inputs(self, points: np.ndarray) -> np.ndarray:
        F = expand(np.asarray(points, dtype=np.float64), self.features)
        if self.normalization is not None:
            self.normalization.apply(F, out=F)
        return F

    def scores(self, points: np.ndarray) -> np.ndarray:
        return self.model.forward(self.inputs(points))

    def predict_proba(self, points: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.inputs(points))


def _finite_or_none(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def expected_initial_loss(loss: str, classes: int) -> float | None:
    """What a small random init should give: ln K for softmax cross-entropy (uniform
    probabilities), K - 1 for the multiclass hinge (every margin 1); nothing for mse."""
    if loss == "cross_entropy":
        return math.log(classes)
    if loss == "hinge":
        return float(classes - 1)
    return None


def check_model_shape(field: str, model: MLP, limits: Mapping) -> None:
    """A model document's network must fit the caps a configured one has (hidden layers,
    units per layer), so a document cannot smuggle in a network the limits forbid."""
    hidden = list(model.hidden_layers)
    max_layers, max_units = int(limits["max_hidden_layers"]), int(limits["max_units"])
    if len(hidden) > max_layers:
        raise ConfigError(
            field, f"{field} has {len(hidden)} hidden layers, over the limit of {max_layers}"
        )
    for i, units in enumerate(hidden):
        if units > max_units:
            raise ConfigError(
                field,
                f"{field}: hidden layer {i} has {units} units, over the limit of {max_units}",
            )


def initial_loss_report(loss: str, classes: int, initial: float | None) -> dict[str, Any]:
    """``initial_loss``, ``expected_initial_loss`` and ``initial_loss_ok`` (within 10% of
    the expected value; None when nothing is expected or the loss is unknown)."""
    expected = expected_initial_loss(loss, classes)
    initial = _finite_or_none(initial)
    ok = None
    if expected is not None and initial is not None:
        ok = abs(initial - expected) <= 0.1 * expected
    return {"initial_loss": initial, "expected_initial_loss": expected, "initial_loss_ok": ok}


def mc_predict(
    model: MLP, F: np.ndarray, passes: int, regression: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout on network inputs ``F``: mean and std over ``passes`` stochastic
    passes (dropout on, masks from the model's RNG) of the probabilities, or of the raw
    output for a regression model (softmax of one output is always 1)."""
    if not regression:
        return model.predict_mc(F, passes)
    outs = np.stack([model.forward(F, train=True) for _ in range(passes)])
    return outs.mean(axis=0), outs.std(axis=0)


def _accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    if scores.shape[1] == 2:
        pred = scores[:, 1] > scores[:, 0]
        return float(np.mean(pred == (y == 1)))
    return float(np.mean(scores.argmax(axis=1) == y))


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Model + optimiser + data + RNG + history of one run (REST request or live session)."""

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
        X, y, classes = self._make_data(config)
        self.data = TrainingData(
            X,
            y,
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            classes,
            self._domain_for(config, X),
            config.regression,
        )
        self.reset(initial_model)

    # ---------------------------------------------------------------- set-up

    @staticmethod
    def _make_data(config: TrainConfig) -> tuple[np.ndarray, np.ndarray, int]:
        if config.data is not None:
            d = config.data
            return d["points"], d["labels"], int(d["classes"])
        ds = config.dataset
        X, y = generate(ds["name"], ds["n_points"], ds["noise"], ds["classes"], ds["seed"])
        return X, y, config.classes

    @staticmethod
    def _domain_for(config: TrainConfig, X: np.ndarray) -> tuple[float, float, float, float]:
        return DOMAIN if config.data is None else data_domain(X)

    def reset(self, initial_model: Mapping | None = None) -> None:
        """Start over from ``config.seed`` on the current data: new split, new weights (or
        ``initial_model``'s), fresh optimiser, step 0. Reproducible: same data and seed give
        the same state as a fresh Trainer."""
        cfg = self.config
        self.rng = np.random.default_rng(cfg.seed)
        #: Bumped by every re-initialisation (a live session announces each one).
        self.resets = getattr(self, "resets", -1) + 1
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
            self.initial_loss: float | None = _finite_or_none(self.evaluate().data_loss)

    def initial_loss_report(self) -> dict[str, Any]:
        """The loss of the weights as (re-)initialised against what theory expects."""
        d = self.data
        return initial_loss_report(self.config.loss, d.classes, self.initial_loss)

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (the schedule applied to the base rate)."""
        return self.config.learning_rate_at(self.step)

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
        norm = loaded.normalization
        self.normalization = norm
        self.model = model
        # The config describes what is actually trained.
        net = self.config.network
        net["features"] = list(self.features)
        net["normalize"] = norm is not None
        net["hidden_layers"] = list(model.hidden_layers)
        net["activation"] = list(model.activations)

    def _make_optimizer(self):
        opt = self.config.optimizer
        return make_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})

    def _split(self) -> None:
        train_idx, val_idx = stratified_split(self.data.y, self.config.validation_split, self.rng)
        self.data.train_idx = train_idx.astype(np.int64)
        self.data.val_idx = val_idx.astype(np.int64)

    def _fit_normalization(self) -> None:
        self.normalization: Normalization | None = None
        if self.config.network["normalize"]:
            if len(self.data.train_idx):
                F = expand(self.data.X[self.data.train_idx], self.features)
                self.normalization = Normalization.fit(F)
            else:  # no points yet: identity until there are some
                self.normalization = Normalization.identity(len(self.features))

    def _inputs(self, points: np.ndarray) -> np.ndarray:
        F = expand(points, self.features)
        if self.normalization is not None:
            self.normalization.apply(F, out=F)
        return F

    def _prepare(self) -> None:
        """Feature matrices of both splits; the next step starts a new epoch."""
        d = self.data
        F = self._inputs(d.X)
        self._X_train = np.ascontiguousarray(F[d.train_idx])
        self._y_train = d.y[d.train_idx]
        self._X_val = np.ascontiguousarray(F[d.val_idx])
        self._y_val = d.y[d.val_idx]
        self._pos = 0
        self._X_epoch = self._X_train
        self._y_epoch = self._y_train

    def _start_epoch(self) -> None:
        if self.config.shuffle and len(self._y_train) > 1:
            perm = self.rng.permutation(len(self._y_train))
            self._X_epoch = self._X_train[perm]
            self._y_epoch = self._y_train[perm]
        else:
            self._X_epoch = self._X_train
            self._y_epoch = self._y_train

    # ---------------------------------------------------------------- training

    @property
    def steps_per_epoch(self) -> int:
        n = max(len(self._y_train), 1)
        return math.ceil(n / max(1, min(self.config.batch_size, n)))

    def run_steps(self, k: int) -> StepResult:
        """Run up to ``k`` optimiser updates; stop early on divergence.

        On divergence (a non-finite loss, or non-finite weights at the end of the call) the
        weights go back to where this call started, the optimiser state is cleared, and
        ``diverged`` is set.
        """
        self.diverged = False
        if k <= 0 or len(self._y_train) == 0:
            return StepResult(0, False)
        cfg = self.config
        model = self.model
        params = model.params
        grads = model.grads
        loss_and_grads = model.loss_and_grads
        update = self.optimizer.step
        loss = cfg.loss
        reg = cfg.regularization["kind"]
        strength = cfg.regularization["strength"]
        isfinite = math.isfinite
        scheduled = cfg.schedule["kind"] != "constant"
        rate_at = cfg.learning_rate_at
        set_hparams = self.optimizer.set
        set_hparams(learning_rate=rate_at(self.step))
        stops = cfg.stops
        stopped = None
        snapshot = params.flat.copy()  # one contiguous buffer holds every parameter
        start_step, start_epoch, start_pos = self.step, self.epoch, self._pos
        # The epoch being walked, not the training set: points added mid-epoch join the next
        # epoch, and counting them here ran the position past the end (an empty batch).
        n = len(self._y_epoch)
        done = 0
        diverged = False
        while done < k:
            pos = self._pos
            if pos == 0:
                self._start_epoch()
                n = len(self._y_epoch)
            end = pos + cfg.batch_size
            result = loss_and_grads(
                self._X_epoch[pos:end], self._y_epoch[pos:end], loss, reg, strength, True
            )
            if not isfinite(result.total_loss):
                diverged = True
                break
            if scheduled:
                set_hparams(learning_rate=rate_at(self.step))
            update(params, grads)
            done += 1
            self.step += 1
            if end >= n:
                self._pos = 0
                self.epoch += 1
                m = self._record() if self.record_history else None
                if stops:
                    stopped = self._stop_condition(m)
                    if stopped is not None:
                        break
            else:
                self._pos = end
        if not diverged:
            diverged = not isfinite(float(params.flat.sum()))
        if diverged:
            params.flat[...] = snapshot
            self.optimizer.reset()
            self.step, self.epoch, self._pos = start_step, start_epoch, 0
            if start_pos:
                self._pos = 0  # the interrupted epoch's order is gone; start a fresh one
            self.history = [h for h in self.history if h["step"] <= start_step]
            self.diverged = True
            return StepResult(0, True)
        if scheduled:
            set_hparams(learning_rate=rate_at(self.step))  # the reported current rate
        return StepResult(done, False, stopped)

    def _stop_condition(self, m: Metrics | None = None) -> str | None:
        """The first ``config.stop`` condition met at this epoch's end, else None."""
        stop = self.config.stop
        if stop["epochs"] is not None and self.epoch >= stop["epochs"]:
            return "epochs"
        if stop["validation_loss"] is None and stop["validation_accuracy"] is None:
            return None
        if m is None:
            with np.errstate(all="ignore"):
                m = self.evaluate()
        target = stop["validation_loss"]
        if target is not None and m.validation_loss is not None and m.validation_loss <= target:
            return "validation_loss"
        target = stop["validation_accuracy"]
        if (
            target is not None
            and m.validation_accuracy is not None
            and m.validation_accuracy >= target
        ):
            return "validation_accuracy"
        return None

    def run_epochs(self, n: int) -> StepResult:
        """Run ``n`` epochs' worth of steps (from the current position)."""
        return self.run_steps(n * self.steps_per_epoch)

    def _record(self) -> Metrics:
        m = self.evaluate()
        self.history.append(
            {
                "epoch": self.epoch,
                "step": self.step,
                "train_loss": _finite_or_none(m.train_loss),
                "train_accuracy": m.train_accuracy,
                "validation_loss": _finite_or_none(m.validation_loss),
                "validation_accuracy": m.validation_accuracy,
            }
        )
        if len(self.history) > HISTORY_CAP:
            del self.history[: len(self.history) - HISTORY_CAP]
        return m

    def record(self) -> None:
        """Append the current state to the history (e.g. at step 0 or mid-epoch at the end)."""
        if not self.history or self.history[-1]["step"] != self.step:
            self._record()

    def evaluate(self) -> Metrics:
        """Loss and accuracy on both splits, without dropout (no parameter changes)."""
        cfg = self.config
        reg = cfg.regularization["kind"]
        strength = cfg.regularization["strength"]
        regression = self.data.regression
        if len(self._y_train) == 0:
            nan = math.nan
            return Metrics(nan, None, None, None, nan, nan, nan)
        r = self.model.loss_and_grads(self._X_train, self._y_train, cfg.loss, reg, strength, False)
        train_acc = None if regression else _accuracy(r.scores, self._y_train)
        val_loss = val_acc = None
        if len(self._y_val):
            v = self.model.loss_and_grads(self._X_val, self._y_val, cfg.loss, reg, strength, False)
            val_loss = float(v.data_loss)
            val_acc = None if regression else _accuracy(v.scores, self._y_val)
        return Metrics(
            train_loss=float(r.data_loss),
            train_accuracy=train_acc,
            validation_loss=val_loss,
            validation_accuracy=val_acc,
            data_loss=float(r.data_loss),
            regularization_loss=float(r.reg_loss),
            total_loss=float(r.total_loss),
        )

    # ---------------------------------------------------------------- predictions

    def predict_proba(self, points: np.ndarray | Sequence) -> np.ndarray:
        """Class probabilities (N, K) for raw points (N, 2): features and normalisation applied."""
        return self.model.predict_proba(self._inputs(np.asarray(points, dtype=np.float64)))

    def grid(self, resolution: int, hidden: bool = True) -> GridResult:
        """Probabilities over the data domain (and each hidden layer's outputs) in one pass."""
        domain = self.data.domain
        F = self._inputs(grid_points(domain, resolution))
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

    def gradient_check(self, points: int, max_per_parameter: int) -> dict[str, Any]:
        """Backprop against centred differences on the first ``points`` training points.

        At most ``max_per_parameter`` entries of each tensor are checked, fewer when the net
        is so big that the check would cost more than ``GRADCHECK_WORK_BUDGET``; the sample
        is seeded from ``config.seed``. The weights are left exactly as they were.
        """
        X, y = self.training_batch(points)
        if len(y) == 0:
            raise ConfigError("data", "no training points to check the gradient on")
        model = self.model
        sizes = [model.n_inputs, *model.hidden_layers, model.n_outputs]
        macs = [a * b for a, b in itertools.pairwise(sizes)]
        # An entry of layer L costs two forward passes from layer L on: W and b per layer.
        per_sample = sum(2 * 2 * len(y) * sum(macs[i:]) for i in range(len(macs)))
        k = max(2, min(int(max_per_parameter), int(GRADCHECK_WORK_BUDGET // max(per_sample, 1))))
        cfg = self.config
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
                "analytic": _finite_or_none(r["analytic"]),
                "numerical": _finite_or_none(r["numerical"]),
                "relative_error": _finite_or_none(r["relative_error"]),
            }
            for r in result.rows
        ]
        return {
            "rows": rows,
            "worst_relative_error": _finite_or_none(result.worst_relative_error),
            "passed": bool(result.passed),
            "threshold": DEFAULT_TOLERANCE,
        }

    def model_document(self) -> dict:
        norm = self.normalization.to_dict() if self.normalization is not None else None
        return model_to_document(self.model, list(self.features), norm, self.config.loss)

    # ---------------------------------------------------------------- data edits

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

    def regenerate(self) -> None:
        """New points from ``config.dataset`` (weights kept when the class count stays)."""
        if self.config.dataset is None:
            return
        X, y, classes = self._make_data(self.config)
        self._replace_data(X, y, classes, DOMAIN)

    def _replace_data(self, X, y, classes: int, domain) -> None:
        old_classes = self.data.classes
        self.data = TrainingData(
            X, y, self.data.train_idx, self.data.val_idx, classes, domain, self.data.regression
        )
        if classes != old_classes:
            self.reset()
            return
        self._split()
        self._fit_normalization()
        self._prepare()

    def add_point(self, point: Sequence[float], label: float) -> None:
        """Add one training point; it joins the next epoch (normalisation unchanged)."""
        p = check_points("point", [point])
        d = self.data
        if d.regression:
            value = check_number("label", label, -math.inf, math.inf)
        else:
            value = check_int("label", label, 0, d.classes - 1)
        d.X = np.concatenate([d.X, p])
        d.y = np.concatenate([d.y, np.array([value], dtype=d.y.dtype)])
        d.train_idx = np.append(d.train_idx, len(d.y) - 1)
        F = self._inputs(p)
        self._X_train = np.concatenate([self._X_train, F])
        self._y_train = np.concatenate([self._y_train, d.y[-1:]])

    def remove_point(self, point: Sequence[float], radius: float | None = None) -> int | None:
        """Remove the point nearest ``point`` within ``radius`` (default 3% of the domain
        width); returns its former index, or None if none was close enough."""
        p = check_points("point", [point])[0]
        d = self.data
        if len(d.y) <= 1:
            return None
        if radius is None:
            radius = 0.03 * (d.domain[1] - d.domain[0])
        radius = check_number("radius", radius, 0.0, math.inf)
        dist = np.hypot(d.X[:, 0] - p[0], d.X[:, 1] - p[1])
        i = int(dist.argmin())
        if dist[i] > radius:
            return None
        keep = np.ones(len(d.y), dtype=bool)
        keep[i] = False
        d.X = d.X[keep]
        d.y = d.y[keep]
        tr, va = d.train_idx[d.train_idx != i], d.val_idx[d.val_idx != i]
        d.train_idx = tr - (tr > i)
        d.val_idx = va - (va > i)
        self._prepare()
        return i

    # ---------------------------------------------------------------- live edits

    def reconfigure(self, new: TrainConfig) -> set[str]:
        """Apply a new (validated) config between two steps, keeping weights where they fit.

        Returns the dotted paths that changed. Re-initialises (like ``reset``) when
        ``seed``, ``network.init`` or the number of classes changes; regenerates the data
        when a ``dataset`` field changes; re-splits on ``validation_split``.
        """
        old = self.config
        changed = _diff(old.to_dict(), new.to_dict())
        if (old.data is not None or new.data is not None) and old.data is not new.data:
            changed.add("data")
        if not changed:
            self.config = new
            return changed
        self.config = new
        data_changed = any(c.startswith(("dataset", "data")) for c in changed) or (
            "loss" in changed and old.regression != new.regression
        )
        if data_changed:
            X, y, classes = self._make_data(new)
            regression = new.regression
            domain = self._domain_for(new, X)
            if classes != self.data.classes or regression != self.data.regression:
                self.data = TrainingData(
                    X, y, self.data.train_idx, self.data.val_idx, classes, domain, regression
                )
                self.reset()
                return changed
            self.data = TrainingData(
                X, y, self.data.train_idx, self.data.val_idx, classes, domain, regression
            )
        if {"seed", "network.init"} & changed:
            self.reset()
            return changed

        net_old, net_new = old.network, new.network
        model = self.model
        if net_old["hidden_layers"] != net_new["hidden_layers"]:
            _reshape_hidden(model, net_old["hidden_layers"], net_new["hidden_layers"])
        for i, name in enumerate(net_new["activation"]):
            if model.activations[i] != name:
                model.set_activation(i, name)
        if net_old["features"] != net_new["features"]:
            self.model = self._reshape_inputs(net_new["features"])
            self.features = list(net_new["features"])
        model = self.model
        if model.dropout != net_new["dropout"]:
            model.dropout = net_new["dropout"]

        refit = data_changed or bool(
            {"validation_split", "network.features", "network.normalize"} & changed
        )
        if data_changed or "validation_split" in changed:
            self._split()
        if refit:
            self._fit_normalization()
            self._prepare()

        if old.optimizer["name"] != new.optimizer["name"]:
            self.optimizer = self._make_optimizer()
        else:
            hp = {k: v for k, v in new.optimizer.items() if k != "name" and old.optimizer[k] != v}
            if hp:
                self.optimizer.set(**hp)
        # shuffle, batch_size, loss and regularization are read on every step.
        return changed

    def _reshape_inputs(self, features: list[str]) -> MLP:
        """A model with one input row per new feature: rows of kept features are copied,
        new rows come from the initialiser; every other parameter is copied."""
        old = self.model
        new = MLP(
            len(features),
            list(old.hidden_layers),
            old.n_outputs,
            activation=list(old.activations),
            init=self.config.network["init"],
            dropout=old.dropout,
            rng=self.rng,
        )
        for name, p in old.params.items():
            if name != "dense0.W":
                new.params[name][...] = p
        rows_old = {f: i for i, f in enumerate(self.features)}
        W_old, W_new = old.params["dense0.W"], new.params["dense0.W"]
        for j, f in enumerate(features):
            if f in rows_old:
                W_new[j] = W_old[rows_old[f]]
        return new

    # ---------------------------------------------------------------- REST helpers

    def parameter_count(self) -> int:
        return int(sum(p.size for p in self.model.params.values()))

    @property
    def n_train(self) -> int:
        return len(self._y_train)

    @property
    def epochs_done(self) -> float:
        """Completed epochs plus the fraction of the current one."""
        return self.epoch + (self._pos / self.n_train if self.n_train else 0.0)

    def training_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` training inputs (features, normalised) and their labels."""
        return self._X_train[:n], self._y_train[:n]


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping):
            out.update(_flatten(v, path))
        else:
            out[path] = v
    return out


def _diff(a: Mapping, b: Mapping) -> set[str]:
    fa, fb = _flatten(a), _flatten(b)
    keys = set(fa) | set(fb)
    return {k for k in keys if fa.get(k, _MISSING) != fb.get(k, _MISSING)}


_MISSING = object()


def _reshape_hidden(model: MLP, old: list[int], new: list[int]) -> None:
    """Surgery from ``old`` to ``new`` hidden sizes keeping every weight that has a place.

    One layer more or fewer whose other sizes match is taken as an insertion or deletion at
    that position (so removing the first of [4, 2] keeps the 2-unit layer); otherwise layers
    are added or removed at the end and units at the end of each layer.
    """
    cur = list(old)
    if len(new) == len(cur) - 1:
        for i in range(len(cur) - 1, -1, -1):
            if cur[:i] + cur[i + 1 :] == new:
                model.remove_layer(i)
                return
    if len(new) == len(cur) + 1:
        for i in range(len(new) - 1, -1, -1):
            if new[:i] + new[i + 1 :] == cur:
                model.add_layer(i, new[i])
                return
    while len(cur) > len(new):
        model.remove_layer(len(cur) - 1)
        cur.pop()
    for i in range(len(cur)):
        while cur[i] < new[i]:
            model.add_unit(i)
            cur[i] += 1
        while cur[i] > new[i]:
            model.remove_unit(i, cur[i] - 1)
            cur[i] -= 1
    while len(cur) < len(new):
        model.add_layer(len(cur), new[len(cur)])
        cur.append(new[len(cur)])
