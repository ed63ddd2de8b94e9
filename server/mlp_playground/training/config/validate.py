"""Validation of a merged training configuration: every value checked and made canonical.

Canonical means: ``network.activation`` is a list with one name per hidden layer,
``optimizer`` values are floats, ``dataset.classes`` is an int, ``data`` (user points) holds
numpy arrays, and ``stop`` has all three keys. The first bad value raises
``ConfigError(field, message)``; the order of the checks below is the order in which a body
with several problems reports them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from mlp_playground.data.datasets import DATASETS
from mlp_playground.data.features import FEATURES
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.optimizers import make_optimizer
from mlp_playground.nn.regularization import REGULARIZATIONS
from mlp_playground.training.config.checks import (
    ConfigError,
    check_bool,
    check_data,
    check_int,
    check_name,
    check_number,
)
from mlp_playground.training.config.defaults import (
    HPARAM_RANGES,
    MAX_MC_PASSES,
    MAX_SEED,
    MAX_SPEED,
    PREDICTION_MODES,
    SCHEDULES,
    SECTION_KEYS,
)


class ConfigFields(Protocol):
    """The fields ``validate`` checks and rewrites: what ``train_config.TrainConfig`` has.

    A protocol rather than an import of ``TrainConfig``, whose module calls ``validate``:
    the dependency goes one way only.
    """

    dataset: dict | None
    data: dict | None
    validation_split: float
    network: dict
    loss: str
    regularization: dict
    optimizer: dict
    batch_size: int
    epochs: int
    steps: int | None
    shuffle: bool
    seed: int
    speed: float | str
    schedule: dict
    stop: dict
    prediction: dict


def validate(cfg: ConfigFields, limits: Mapping) -> None:
    """Check every value of ``cfg`` and put it in canonical form, in place."""
    cfg.loss = check_name("loss", cfg.loss, list(LOSSES), "loss")
    _validate_source(cfg, limits)
    cfg.validation_split = check_number("validation_split", cfg.validation_split, 0.0, 0.9)
    _validate_network(cfg.network, limits)
    reg = cfg.regularization
    reg["kind"] = check_name(
        "regularization.kind", reg.get("kind", "none"), list(REGULARIZATIONS), "regularization"
    )
    reg["strength"] = check_number("regularization.strength", reg.get("strength", 0.0), 0.0, 1e3)
    _validate_optimizer(cfg.optimizer)
    cfg.batch_size = check_int("batch_size", cfg.batch_size, 1, int(limits["max_batch_size"]))
    cfg.epochs = check_int("epochs", cfg.epochs, 0, int(limits["max_epochs"]))
    if cfg.steps is not None:
        cfg.steps = check_int("steps", cfg.steps, 0, int(limits["max_steps"]))
    cfg.shuffle = check_bool("shuffle", cfg.shuffle)
    cfg.seed = check_int("seed", cfg.seed, 0, MAX_SEED)
    if cfg.speed != "max":
        cfg.speed = check_number("speed", cfg.speed, 0.0, MAX_SPEED, lo_open=True)
    validate_instruments(cfg, limits)


def _validate_source(cfg: ConfigFields, limits: Mapping) -> None:
    """``dataset`` (whose kind must match the loss) or ``data`` (user points)."""
    regression = cfg.loss == "mse"
    if cfg.dataset is not None:
        ds = cfg.dataset
        info = DATASETS[check_name("dataset.name", ds.get("name"), list(DATASETS), "dataset")]
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
    elif cfg.data is not None:
        if not isinstance(cfg.data.get("points"), np.ndarray) or (
            cfg.data["labels"].dtype != (np.float64 if regression else np.int64)
        ):
            cfg.data = check_data(cfg.data, regression, limits)
    else:
        raise ConfigError("dataset", "give a dataset or data")


def _validate_network(net: dict, limits: Mapping) -> None:
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
        check_name(f"network.activation[{i}]", a, list(ACTIVATIONS), "activation")
        for i, a in enumerate(acts)
    ]
    net["init"] = check_name("network.init", net.get("init"), list(INITIALIZERS), "initializer")
    net["dropout"] = check_number(
        "network.dropout", net.get("dropout", 0.0), 0.0, 1.0, hi_open=True
    )
    feats = net.get("features")
    if isinstance(feats, str) or not isinstance(feats, Sequence) or not feats:
        raise ConfigError("network.features", f"features must be a list from {FEATURES}")
    net["features"] = [
        check_name(f"network.features[{i}]", f, FEATURES, "feature") for i, f in enumerate(feats)
    ]
    if len(set(net["features"])) != len(net["features"]):
        raise ConfigError("network.features", "a feature is listed more than once")
    net["normalize"] = check_bool("network.normalize", net.get("normalize", True))


def _validate_optimizer(opt: dict) -> None:
    for key, value in opt.items():
        if key == "name":
            continue
        lo, hi, lo_open = HPARAM_RANGES.get(key, (0.0, math.inf, False))
        opt[key] = check_number(f"optimizer.{key}", value, lo, hi, lo_open=lo_open, hi_open=True)
    try:
        make_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})
    except ValueError as exc:
        raise ConfigError("optimizer", str(exc)) from None


def validate_instruments(cfg: ConfigFields, limits: Mapping) -> None:
    """``schedule``, ``stop`` and ``prediction`` (docs/instruments.md)."""
    _validate_schedule(cfg.schedule, float(cfg.optimizer.get("learning_rate", 0.0)), limits)
    _validate_stop(cfg.stop, cfg.loss == "mse", limits)
    pred = cfg.prediction
    pred["mode"] = check_name(
        "prediction.mode", pred.get("mode"), PREDICTION_MODES, "prediction mode"
    )
    pred["passes"] = check_int("prediction.passes", pred.get("passes"), 1, MAX_MC_PASSES)


def _validate_schedule(sch: dict, lr: float, limits: Mapping) -> None:
    sch["kind"] = check_name("schedule.kind", sch.get("kind"), SCHEDULES, "schedule")
    max_steps = int(limits["max_steps"])
    sch["step_size"] = check_int("schedule.step_size", sch.get("step_size"), 1, max_steps)
    sch["gamma"] = check_number("schedule.gamma", sch.get("gamma"), 0.0, 1.0, lo_open=True)
    sch["total_steps"] = check_int("schedule.total_steps", sch.get("total_steps"), 1, max_steps)
    sch["min_learning_rate"] = check_number(
        "schedule.min_learning_rate", sch.get("min_learning_rate"), 0.0, 1e3, hi_open=True
    )
    if sch["kind"] == "cosine" and sch["min_learning_rate"] > lr:
        raise ConfigError(
            "schedule.min_learning_rate",
            f"schedule.min_learning_rate ({sch['min_learning_rate']:g}) must not exceed "
            f"the base learning rate optimizer.learning_rate ({lr:g})",
        )


def _validate_stop(stop: dict, regression: bool, limits: Mapping) -> None:
    if stop.get("validation_loss") is not None:
        stop["validation_loss"] = check_number(
            "stop.validation_loss", stop["validation_loss"], 0.0, math.inf
        )
    if stop.get("validation_accuracy") is not None:
        stop["validation_accuracy"] = check_number(
            "stop.validation_accuracy", stop["validation_accuracy"], 0.0, 1.0
        )
        if regression:
            raise ConfigError(
                "stop.validation_accuracy",
                "regression (loss 'mse') has no accuracy; stop on validation_loss instead",
            )
    if stop.get("epochs") is not None:
        stop["epochs"] = check_int("stop.epochs", stop["epochs"], 1, int(limits["max_epochs"]))
    for key in SECTION_KEYS["stop"]:
        stop.setdefault(key, None)
