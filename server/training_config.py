"""The training configuration: the ``/train`` body as plain, validated Python values.

Split from ``mlp_playground.training`` (which re-exports everything here) so that the loop and the
rules about values each fit in a sitting. One validator serves REST and the live websocket:
``ConfigError(field, message)`` names the dotted field so REST can answer 422 with it and
the websocket can fill its ``field``. No pydantic here (see docs/internals.md).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mlp_playground.datasets import DATASETS
from mlp_playground.features import FEATURES
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.optimizers import OPTIMIZERS, make_optimizer
from mlp_playground.nn.regularization import REGULARIZATIONS

# --------------------------------------------------------------------------- errors, limits


class ConfigError(ValueError):
    """A bad configuration value: ``field`` is its dotted path ("optimizer.learning_rate",
    "data.labels[3]"), ``message`` a sentence a user can act on."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


DEFAULT_LIMITS: dict[str, float] = {
    "max_points_train": 20_000,
    "max_hidden_layers": 10,
    "max_units": 256,
    "max_classes": 8,
    "max_steps": 1_000_000,
    "max_epochs": 10_000,
    "max_batch_size": 20_000,
}
"""Used when a caller passes no limits (the server passes ``Settings.limits()``)."""

MAX_SEED = 2**63 - 1
MAX_SPEED = 1_000_000.0
HPARAM_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low bound exclusive); high is always exclusive
    "learning_rate": (0.0, 1e3, True),
    "momentum": (0.0, 1.0, False),
    "decay_rate": (0.0, 1.0, False),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
    "epsilon": (0.0, 1.0, True),
}


# --------------------------------------------------------------------------- defaults

DEFAULT_CONFIG: dict[str, Any] = {
    "dataset": {"name": "circle", "n_points": 400, "noise": 0.1, "classes": 2, "seed": 0},
    "data": None,
    "validation_split": 0.3,
    "network": {
        "hidden_layers": [8, 8],
        "activation": ["tanh", "tanh"],
        "init": "xavier",
        "dropout": 0.0,
        "features": ["x1", "x2"],
        "normalize": True,
    },
    "loss": "cross_entropy",
    "regularization": {"kind": "none", "strength": 0.0},
    "optimizer": {"name": "adam", **OPTIMIZERS["adam"], "learning_rate": 0.01},
    "batch_size": 10,
    "epochs": 50,
    "steps": None,
    "shuffle": True,
    "seed": 0,
    "speed": "max",
    "schedule": {
        "kind": "constant",
        "step_size": 1000,
        "gamma": 0.5,
        "total_steps": 5000,
        "min_learning_rate": 0.0,
    },
    "stop": {"validation_loss": None, "validation_accuracy": None, "epochs": None},
    "prediction": {"mode": "deterministic", "passes": 20},
}
"""A complete configuration that trains circle, xor, gaussian and moons to >= 95%."""

_SECTIONS = ("dataset", "network", "regularization", "optimizer")
_SECTION_KEYS = {
    "dataset": ("name", "n_points", "noise", "classes", "seed"),
    "network": ("hidden_layers", "activation", "init", "dropout", "features", "normalize"),
    "regularization": ("kind", "strength"),
    "data": ("points", "labels", "classes"),
    "schedule": ("kind", "step_size", "gamma", "total_steps", "min_learning_rate"),
    "stop": ("validation_loss", "validation_accuracy", "epochs"),
    "prediction": ("mode", "passes"),
}
SCHEDULES = ("constant", "step", "cosine")
PREDICTION_MODES = ("deterministic", "mc_dropout")
MAX_MC_PASSES = 100


# --------------------------------------------------------------------------- value checks


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_int(path: str, v: object, lo: int, hi: int) -> int:
    """An integer in lo..hi (2.0 counts as 2, True does not), else ConfigError(path)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _is_int(v):
        raise ConfigError(path, f"{path} must be an integer in {lo}..{hi}, got {v!r}")
    if not lo <= int(v) <= hi:
        raise ConfigError(path, f"{path} must be in {lo}..{hi}, got {v}")
    return int(v)


def check_number(
    path: str, v: object, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False
) -> float:
    """A finite number in [lo, hi] (bounds open when asked), else ConfigError(path)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ConfigError(path, f"{path} must be a number, got {v!r}")
    try:
        v = float(v)
    except OverflowError:  # an integer literal with hundreds of digits
        v = math.inf
    if not math.isfinite(v):
        raise ConfigError(path, f"{path} must be a finite number")
    if v < lo or (lo_open and v == lo):
        raise ConfigError(path, f"{path} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if v > hi or (hi_open and v == hi):
        raise ConfigError(path, f"{path} must be {'<' if hi_open else '<='} {hi:g}, got {v:g}")
    return v


def _bool(path: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(path, f"{path} must be true or false, got {v!r}")
    return v


def _name(path: str, v: object, choices: Sequence[str], what: str) -> str:
    if not isinstance(v, str) or v not in choices:
        raise ConfigError(path, f"unknown {what} {v!r}; valid choices are {', '.join(choices)}")
    return v


def _mapping(path: str, v: object) -> Mapping:
    if not isinstance(v, Mapping):
        raise ConfigError(path, f"{path} must be an object")
    return v


def _check_keys(path: str, d: Mapping, allowed: Sequence[str]) -> None:
    for key in d:
        if key not in allowed:
            raise ConfigError(
                f"{path}.{key}" if path else str(key),
                f"unknown field {key!r}; valid fields are {', '.join(allowed)}",
            )


def check_points(path: str, points: object, max_points: int | None = None) -> np.ndarray:
    """A list of [x1, x2] finite pairs -> (N, 2) float64, or ConfigError naming the row."""
    try:
        X = np.asarray(points, dtype=np.float64)
    except OverflowError:  # an integer literal too large for a float: not finite
        raise ConfigError(path, f"{path} must be finite numbers") from None
    except (TypeError, ValueError):
        X = None
    if X is None or X.ndim != 2 or X.shape[1] != 2:
        if isinstance(points, Sequence) and not isinstance(points, str):
            for i, p in enumerate(points):
                if (
                    isinstance(p, str)
                    or not isinstance(p, Sequence)
                    or len(p) != 2
                    or not all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in p)
                ):
                    raise ConfigError(f"{path}[{i}]", f"{path}[{i}] must be a pair [x1, x2]")
        raise ConfigError(path, f"{path} must be a list of [x1, x2] pairs")
    if X.shape[0] == 0:
        raise ConfigError(path, f"{path} must not be empty")
    if max_points is not None and X.shape[0] > max_points:
        raise ConfigError(path, f"too many points: {X.shape[0]} > the limit of {max_points}")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        raise ConfigError(f"{path}[{bad[0]}]", f"{path}[{bad[0]}] must be finite numbers")
    return X


def check_data(
    d: Mapping, regression: bool, limits: Mapping, empty_classes: int | None = None
) -> dict:
    """Validate a ``data`` object -> {"points": (N,2), "labels": (N,), "classes": K}.

    ``empty_classes`` allows no points at all (a live session's cleared canvas) and is the
    class count to keep then.
    """
    _check_keys("data", d, _SECTION_KEYS["data"])
    if "points" not in d or "labels" not in d:
        raise ConfigError("data", "data needs 'points' and 'labels'")
    if empty_classes is not None and len(d["points"]) == 0 and len(d["labels"]) == 0:
        classes = d.get("classes") or empty_classes
        return {
            "points": np.zeros((0, 2)),
            "labels": np.zeros(0, dtype=np.float64 if regression else np.int64),
            "classes": 1 if regression else int(classes),
        }
    X = check_points("data.points", d["points"], int(limits["max_points_train"]))
    labels = d["labels"]
    try:
        y = np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError("data.labels", "data.labels must be a list of numbers") from None
    if y.ndim != 1:
        raise ConfigError("data.labels", "data.labels must be a flat list of numbers")
    if y.shape[0] != X.shape[0]:
        raise ConfigError(
            "data.labels", f"data.labels has {y.shape[0]} values for {X.shape[0]} points"
        )
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ConfigError(f"data.labels[{bad[0]}]", "labels must be finite numbers")
    max_classes = int(limits["max_classes"])
    if regression:
        if d.get("classes") not in (None, 1):
            raise ConfigError("data.classes", "regression data (loss 'mse') has no classes")
        return {"points": X, "labels": y, "classes": 1}
    bad = np.flatnonzero((y != np.rint(y)) | (y < 0))
    if bad.size:
        raise ConfigError(
            f"data.labels[{bad[0]}]", f"labels must be integers 0, 1, 2, ...; got {y[bad[0]]:g}"
        )
    top = int(y.max())
    if d.get("classes") is None:
        classes = max(top + 1, 2)
        if classes > max_classes:
            raise ConfigError(
                "data.labels",
                f"labels go up to {top}: that is {top + 1} classes, more than {max_classes}",
            )
    else:
        classes = check_int("data.classes", d["classes"], 2, max_classes)
        bad = np.flatnonzero(y >= classes)
        if bad.size:
            raise ConfigError(
                f"data.labels[{bad[0]}]",
                f"label {int(y[bad[0]])} is not below classes = {classes}",
            )
    return {"points": X, "labels": y.astype(np.int64), "classes": classes}


# --------------------------------------------------------------------------- config


def _default(key: str) -> Any:
    return copy.deepcopy(DEFAULT_CONFIG[key])


@dataclass
class TrainConfig:
    """The ``/train`` body (plus live ``speed``) as plain values, in a canonical form.

    Canonical means: ``network.activation`` is a list with one name per hidden layer,
    ``optimizer`` carries exactly that optimiser's hyper-parameters, ``dataset.classes`` is
    an int, and ``data`` (user points, REST only) holds numpy arrays. Build one with
    ``from_dict`` (REST semantics: missing fields take the defaults) or ``merged`` (live
    partial edits on top of the current config); both validate.
    """

    dataset: dict | None = field(default_factory=lambda: _default("dataset"))
    data: dict | None = None
    validation_split: float = 0.3
    network: dict = field(default_factory=lambda: _default("network"))
    loss: str = "cross_entropy"
    regularization: dict = field(default_factory=lambda: _default("regularization"))
    optimizer: dict = field(default_factory=lambda: _default("optimizer"))
    batch_size: int = 10
    epochs: int = 50
    steps: int | None = None
    shuffle: bool = True
    seed: int = 0
    speed: float | str = "max"
    schedule: dict = field(default_factory=lambda: _default("schedule"))
    stop: dict = field(default_factory=lambda: _default("stop"))
    prediction: dict = field(default_factory=lambda: _default("prediction"))

    # ---------------------------------------------------------------- building

    @classmethod
    def from_dict(cls, d: Mapping, limits: Mapping | None = None) -> TrainConfig:
        """A full config from a (possibly partial) ``/train`` body; unset fields are defaults.

        An optimiser named without hyper-parameters gets that optimiser's own defaults.
        """
        return cls()._merge(d, live=False, limits=limits)

    def merged(self, partial: Mapping, limits: Mapping | None = None) -> TrainConfig:
        """This config with a live partial edit applied (``{"optimizer": {"momentum": 0.5}}``).

        Switching the optimiser keeps the current learning rate unless the edit gives one;
        switching dataset clamps the class count to the new dataset's range and switches
        the loss between ``mse`` and ``cross_entropy`` when the task type changes.
        """
        return self._merge(partial, live=True, limits=limits)

    def to_dict(self, include_data: bool = False) -> dict:
        """JSON-ready dict; ``data`` (user points) only when ``include_data``."""
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        if include_data and self.data is not None:
            out["data"] = {
                "points": self.data["points"].tolist(),
                "labels": self.data["labels"].tolist(),
                "classes": self.data["classes"],
            }
        else:
            out.pop("data")
        return out

    @property
    def regression(self) -> bool:
        return self.loss == "mse"

    @property
    def classes(self) -> int:
        """Number of outputs: K for classification, 1 for regression."""
        if self.data is not None:
            return int(self.data["classes"])
        if self.dataset is None:
            return 2
        return 1 if DATASETS[self.dataset["name"]].regression else int(self.dataset["classes"])

    def learning_rate_at(self, step: int) -> float:
        """The scheduled learning rate for the update that follows ``step`` updates, with
        ``torch.optim.lr_scheduler``'s formulas (StepLR, CosineAnnealingLR) stepped once per
        update; the base rate is ``optimizer.learning_rate``."""
        base = float(self.optimizer.get("learning_rate", 0.0))
        sch = self.schedule
        kind = sch["kind"]
        if kind == "step":
            return base * sch["gamma"] ** (step // sch["step_size"])
        if kind == "cosine":
            total = sch["total_steps"]
            low = sch["min_learning_rate"]
            return low + (base - low) * (1 + math.cos(math.pi * min(step, total) / total)) / 2
        return base

    @property
    def stops(self) -> bool:
        """Whether any stop condition is set."""
        return any(v is not None for v in self.stop.values())

    def planned_steps(self, n_train: int) -> int:
        """Optimiser updates a REST run will make: ``steps``, else epochs x batches/epoch."""
        if self.steps is not None:
            return int(self.steps)
        batch = max(1, min(int(self.batch_size), max(n_train, 1)))
        return int(self.epochs) * math.ceil(max(n_train, 1) / batch)

    # ---------------------------------------------------------------- merging

    def _merge(self, partial: Mapping, live: bool, limits: Mapping | None) -> TrainConfig:
        limits = {**DEFAULT_LIMITS, **(limits or {})}
        partial = _mapping("config", partial)
        valid = [f.name for f in fields(self)]
        _check_keys("", partial, valid)
        cur = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: (v if k == "data" else copy.deepcopy(v)) for k, v in cur.items()}

        # dataset / data: exactly one.
        if partial.get("dataset") is not None and partial.get("data") is not None:
            raise ConfigError("data", "give either dataset or data, not both")
        if partial.get("data") is not None:
            out["dataset"] = None
            out["data"] = _mapping("data", partial["data"])
        elif partial.get("dataset") is not None:
            out["data"] = None
            ds = _mapping("dataset", partial["dataset"])
            _check_keys("dataset", ds, _SECTION_KEYS["dataset"])
            base = out["dataset"] or _default("dataset")
            name = _name("dataset.name", ds.get("name", base["name"]), list(DATASETS), "dataset")
            info = DATASETS[name]
            new = {**base, **ds, "name": name}
            if "classes" not in ds:  # keep the current count where the dataset allows it
                old = base.get("classes")
                new["classes"] = info.clamp_classes(old if _is_int(old) else info.classes_default)
            elif ds["classes"] is None:
                new["classes"] = info.classes_default
            out["dataset"] = new
            was_regression = out["loss"] == "mse"
            if "loss" not in partial and info.regression != was_regression:
                out["loss"] = "mse" if info.regression else "cross_entropy"
                if info.regression and "stop" not in partial:  # no accuracy to stop on
                    out["stop"] = {**out["stop"], "validation_accuracy": None}
        elif "data" in partial and partial["data"] is None and out["dataset"] is None:
            out["data"] = None
            out["dataset"] = _default("dataset")

        for key in ("validation_split", "loss", "batch_size", "epochs", "steps", "shuffle"):
            if key in partial:
                out[key] = partial[key]
        for key in ("seed", "speed"):
            if key in partial:
                out[key] = partial[key]

        if partial.get("network") is not None:
            net = _mapping("network", partial["network"])
            _check_keys("network", net, _SECTION_KEYS["network"])
            new = {**out["network"], **net}
            if "activation" not in net and "hidden_layers" in net:
                acts = out["network"]["activation"]
                layers = net["hidden_layers"]
                n = len(layers) if isinstance(layers, Sequence) else 0
                fill = acts[-1] if acts else "tanh"
                new["activation"] = (list(acts) + [fill] * n)[:n]
            out["network"] = new
        for section in ("schedule", "stop", "prediction"):
            if partial.get(section) is not None:
                sec = _mapping(section, partial[section])
                _check_keys(section, sec, _SECTION_KEYS[section])
                out[section] = {**out[section], **sec}
        if partial.get("regularization") is not None:
            reg = _mapping("regularization", partial["regularization"])
            _check_keys("regularization", reg, _SECTION_KEYS["regularization"])
            out["regularization"] = {**out["regularization"], **reg}
        if partial.get("optimizer") is not None:
            opt = _mapping("optimizer", partial["optimizer"])
            base = out["optimizer"]
            name = _name(
                "optimizer.name", opt.get("name", base["name"]), list(OPTIMIZERS), "optimizer"
            )
            if name != base["name"]:
                new = {"name": name, **OPTIMIZERS[name]}
                if live and "learning_rate" in base:
                    new["learning_rate"] = base["learning_rate"]
            else:
                new = dict(base)
            allowed = ["name", *OPTIMIZERS[name]]
            for key in opt:
                if key not in allowed:
                    raise ConfigError(
                        f"optimizer.{key}",
                        f"optimizer {name!r} has no hyper-parameter {key!r}; "
                        f"its hyper-parameters are {', '.join(OPTIMIZERS[name])}",
                    )
            out["optimizer"] = {**new, **opt, "name": name}

        cfg = TrainConfig(**out)
        cfg._validate(limits)
        return cfg

    # ---------------------------------------------------------------- validation

    def _validate(self, limits: Mapping) -> None:
        """Check every value and put it in canonical form (raises ConfigError)."""
        self.loss = _name("loss", self.loss, list(LOSSES), "loss")
        regression = self.loss == "mse"
        if self.dataset is not None:
            ds = self.dataset
            info = DATASETS[_name("dataset.name", ds.get("name"), list(DATASETS), "dataset")]
            ds["n_points"] = check_int(
                "dataset.n_points", ds.get("n_points", 400), 1, int(limits["max_points_train"])
            )
            ds["noise"] = check_number("dataset.noise", ds.get("noise", 0.1), 0.0, 1.0)
            classes = ds.get("classes")
            if classes is None:
                classes = info.classes_default
            hi = min(info.classes_max, int(limits["max_classes"]))
            ds["classes"] = check_int("dataset.classes", classes, info.classes_min, hi)
            ds["seed"] = check_int("dataset.seed", ds.get("seed", 0), 0, MAX_SEED)
            if info.regression and not regression:
                raise ConfigError(
                    "loss", f"dataset {info.name!r} is a regression dataset: use loss 'mse'"
                )
            if regression and not info.regression:
                raise ConfigError(
                    "loss",
                    f"loss 'mse' is for the regression datasets "
                    f"({', '.join(n for n, i in DATASETS.items() if i.regression)})",
                )
        elif self.data is not None:
            if not isinstance(self.data.get("points"), np.ndarray) or (
                self.data["labels"].dtype != (np.float64 if regression else np.int64)
            ):
                self.data = check_data(self.data, regression, limits)
        else:
            raise ConfigError("dataset", "give a dataset or data")

        self.validation_split = check_number("validation_split", self.validation_split, 0.0, 0.9)
        net = self.network
        layers = net.get("hidden_layers")
        if isinstance(layers, str) or not isinstance(layers, Sequence):
            raise ConfigError("network.hidden_layers", "hidden_layers must be a list of integers")
        max_layers = int(limits["max_hidden_layers"])
        if len(layers) > max_layers:
            raise ConfigError(
                "network.hidden_layers",
                f"too many hidden layers: {len(layers)} > the limit of {max_layers}",
            )
        net["hidden_layers"] = [
            check_int(f"network.hidden_layers[{i}]", u, 1, int(limits["max_units"]))
            for i, u in enumerate(layers)
        ]
        acts = net.get("activation", "tanh")
        if isinstance(acts, str):
            acts = [acts] * len(layers)
        if not isinstance(acts, Sequence) or len(acts) != len(layers):
            raise ConfigError(
                "network.activation",
                f"give one activation name, or a list of {len(layers)} "
                f"(one per hidden layer), got {acts!r}",
            )
        net["activation"] = [
            _name(f"network.activation[{i}]", a, list(ACTIVATIONS), "activation")
            for i, a in enumerate(acts)
        ]
        net["init"] = _name("network.init", net.get("init"), list(INITIALIZERS), "initializer")
        net["dropout"] = check_number(
            "network.dropout", net.get("dropout", 0.0), 0.0, 1.0, hi_open=True
        )
        feats = net.get("features")
        if isinstance(feats, str) or not isinstance(feats, Sequence) or not feats:
            raise ConfigError("network.features", f"features must be a list from {FEATURES}")
        net["features"] = [
            _name(f"network.features[{i}]", f, FEATURES, "feature") for i, f in enumerate(feats)
        ]
        if len(set(net["features"])) != len(net["features"]):
            raise ConfigError("network.features", "a feature is listed more than once")
        net["normalize"] = _bool("network.normalize", net.get("normalize", True))

        reg = self.regularization
        reg["kind"] = _name(
            "regularization.kind", reg.get("kind", "none"), list(REGULARIZATIONS), "regularization"
        )
        reg["strength"] = check_number(
            "regularization.strength", reg.get("strength", 0.0), 0.0, 1e3
        )

        opt = self.optimizer
        for key, value in opt.items():
            if key == "name":
                continue
            lo, hi, lo_open = HPARAM_RANGES.get(key, (0.0, math.inf, False))
            opt[key] = check_number(
                f"optimizer.{key}", value, lo, hi, lo_open=lo_open, hi_open=True
            )
        try:
            make_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})
        except ValueError as exc:
            raise ConfigError("optimizer", str(exc)) from None

        self.batch_size = check_int("batch_size", self.batch_size, 1, int(limits["max_batch_size"]))
        self.epochs = check_int("epochs", self.epochs, 0, int(limits["max_epochs"]))
        if self.steps is not None:
            self.steps = check_int("steps", self.steps, 0, int(limits["max_steps"]))
        self.shuffle = _bool("shuffle", self.shuffle)
        self.seed = check_int("seed", self.seed, 0, MAX_SEED)
        if self.speed != "max":
            self.speed = check_number("speed", self.speed, 0.0, MAX_SPEED, lo_open=True)
        self._validate_instruments(limits)

    def _validate_instruments(self, limits: Mapping) -> None:
        """``schedule``, ``stop`` and ``prediction`` (docs/instruments.md)."""
        sch = self.schedule
        sch["kind"] = _name("schedule.kind", sch.get("kind"), SCHEDULES, "schedule")
        max_steps = int(limits["max_steps"])
        sch["step_size"] = check_int("schedule.step_size", sch.get("step_size"), 1, max_steps)
        sch["gamma"] = check_number("schedule.gamma", sch.get("gamma"), 0.0, 1.0, lo_open=True)
        sch["total_steps"] = check_int("schedule.total_steps", sch.get("total_steps"), 1, max_steps)
        lr = float(self.optimizer.get("learning_rate", 0.0))
        sch["min_learning_rate"] = check_number(
            "schedule.min_learning_rate", sch.get("min_learning_rate"), 0.0, 1e3, hi_open=True
        )
        if sch["kind"] == "cosine" and sch["min_learning_rate"] > lr:
            raise ConfigError(
                "schedule.min_learning_rate",
                f"schedule.min_learning_rate ({sch['min_learning_rate']:g}) must not exceed "
                f"the base learning rate optimizer.learning_rate ({lr:g})",
            )
        stop = self.stop
        if stop.get("validation_loss") is not None:
            stop["validation_loss"] = check_number(
                "stop.validation_loss", stop["validation_loss"], 0.0, math.inf
            )
        if stop.get("validation_accuracy") is not None:
            stop["validation_accuracy"] = check_number(
                "stop.validation_accuracy", stop["validation_accuracy"], 0.0, 1.0
            )
            if self.regression:
                raise ConfigError(
                    "stop.validation_accuracy",
                    "regression (loss 'mse') has no accuracy; stop on validation_loss instead",
                )
        if stop.get("epochs") is not None:
            stop["epochs"] = check_int("stop.epochs", stop["epochs"], 1, int(limits["max_epochs"]))
        for key in _SECTION_KEYS["stop"]:
            stop.setdefault(key, None)
        pred = self.prediction
        pred["mode"] = _name(
            "prediction.mode", pred.get("mode"), PREDICTION_MODES, "prediction mode"
        )
        pred["passes"] = check_int("prediction.passes", pred.get("passes"), 1, MAX_MC_PASSES)
