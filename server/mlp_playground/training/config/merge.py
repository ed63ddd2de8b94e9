"""Merging a (partial) ``/train`` body or a live edit onto a training configuration.

``merge_fields`` returns the merged field values, not yet validated; ``TrainConfig`` builds
and validates the result. REST bodies are merged onto the defaults (missing fields take
them); a live edit is merged onto the session's current config, which is where the rules
below matter: switching dataset clamps the class count to the new dataset's range and
switches the loss between ``mse`` and ``cross_entropy`` when the task type changes, and
switching optimiser keeps the current learning rate unless the edit gives one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from mlp_playground.data.datasets import DATASETS
from mlp_playground.nn.optimizers import OPTIMIZERS
from mlp_playground.training.config.checks import (
    ConfigError,
    check_keys,
    check_mapping,
    check_name,
    is_int,
)
from mlp_playground.training.config.defaults import SECTION_KEYS, default

_PLAIN = ("validation_split", "loss", "batch_size", "epochs", "steps", "shuffle", "seed", "speed")


def merge_fields(cur: Mapping[str, Any], body: object, live: bool) -> dict[str, Any]:
    """``cur`` (a config's fields) with ``body`` (a partial config) applied; unknown
    fields raise."""
    partial = check_mapping("config", body)
    check_keys("", partial, list(cur))
    out = {k: (v if k == "data" else copy.deepcopy(v)) for k, v in cur.items()}
    _merge_source(out, partial)
    for key in _PLAIN:
        if key in partial:
            out[key] = partial[key]
    if partial.get("network") is not None:
        _merge_network(out, partial["network"])
    for section in ("schedule", "stop", "prediction", "regularization"):
        if partial.get(section) is not None:
            sec = check_mapping(section, partial[section])
            check_keys(section, sec, SECTION_KEYS[section])
            out[section] = {**out[section], **sec}
    if partial.get("optimizer") is not None:
        _merge_optimizer(out, partial["optimizer"], live)
    return out


def _merge_source(out: dict[str, Any], partial: Mapping) -> None:
    """``dataset`` / ``data``: exactly one of them; a new dataset may switch the loss."""
    if partial.get("dataset") is not None and partial.get("data") is not None:
        raise ConfigError("data", "give either dataset or data, not both")
    if partial.get("data") is not None:
        out["dataset"] = None
        out["data"] = check_mapping("data", partial["data"])
    elif partial.get("dataset") is not None:
        out["data"] = None
        ds = check_mapping("dataset", partial["dataset"])
        check_keys("dataset", ds, SECTION_KEYS["dataset"])
        base = out["dataset"] or default("dataset")
        name = check_name("dataset.name", ds.get("name", base["name"]), list(DATASETS), "dataset")
        info = DATASETS[name]
        new = {**base, **ds, "name": name}
        if "classes" not in ds:  # keep the current count where the dataset allows it
            old = base.get("classes")
            new["classes"] = info.clamp_classes(old if is_int(old) else info.classes_default)
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
        out["dataset"] = default("dataset")


def _merge_network(out: dict[str, Any], value: object) -> None:
    """New hidden sizes without activations keep the current ones, the last one repeated."""
    net = check_mapping("network", value)
    check_keys("network", net, SECTION_KEYS["network"])
    new = {**out["network"], **net}
    if "activation" not in net and "hidden_layers" in net:
        acts = out["network"]["activation"]
        layers = net["hidden_layers"]
        n = len(layers) if isinstance(layers, Sequence) else 0
        fill = acts[-1] if acts else "tanh"
        new["activation"] = (list(acts) + [fill] * n)[:n]
    out["network"] = new


def _merge_optimizer(out: dict[str, Any], value: object, live: bool) -> None:
    """A new optimiser name brings that optimiser's defaults (live: the current rate)."""
    opt = check_mapping("optimizer", value)
    base = out["optimizer"]
    name = check_name(
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
