"""The training configuration: defaults, canonical form, field-naming errors, live merges."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.defaults import DEFAULT_CONFIG, DEFAULT_LIMITS
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.config.validate import validate


def test_from_dict_fills_defaults_in_canonical_form():
    cfg = TrainConfig.from_dict({"network": {"hidden_layers": [5, 6, 7], "activation": "relu"}})
    assert cfg.network["activation"] == ["relu", "relu", "relu"]
    assert cfg.dataset["name"] == "circle" and cfg.dataset["classes"] == 2
    # The optimiser carries exactly its own hyper-parameters.
    sgd = TrainConfig.from_dict({"optimizer": {"name": "sgd"}})
    assert set(sgd.optimizer) == {"name", "learning_rate"}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("partial", "field"),
    [
        ({"optimizer": {"learning_rate": 0}}, "optimizer.learning_rate"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "optimizer.momentum"),
        ({"optimizer": {"name": "lbfgs"}}, "optimizer.name"),
        ({"network": {"activation": ["tanh"]}}, "network.activation"),
        ({"network": {"activation": ["tanh", "swish"]}}, "network.activation[1]"),
        ({"network": {"hidden_layers": [4, 0]}}, "network.hidden_layers[1]"),
        ({"network": {"features": ["x1", "x3"]}}, "network.features[1]"),
        ({"network": {"dropout": 1.0}}, "network.dropout"),
        ({"dataset": {"name": "xor", "classes": 3}}, "dataset.classes"),
        ({"dataset": {"noise": float("nan")}}, "dataset.noise"),
        ({"loss": "mse"}, "loss"),
        ({"validation_split": 0.95}, "validation_split"),
        ({"batch_size": True}, "batch_size"),
        ({"speed": 0}, "speed"),
        ({"colour": "red"}, "colour"),
        ({"data": {"points": [[0, 0], [1, 1]], "labels": [0, 1.5]}}, "data.labels[1]"),
        ({"data": {"points": [[0, 0], [1, 1]], "labels": [0, 9]}}, "data.labels"),
        ({"data": {"points": [[0, 0], [1, 1]], "labels": [0, 2], "classes": 2}}, "data.labels[1]"),
        ({"data": {"points": [[0, 0], [1, math.inf]], "labels": [0, 1]}}, "data.points[1]"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(partial, field):
    base = TrainConfig.from_dict({})
    with pytest.raises(ConfigError) as info:
        base.merged(partial)
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and info.value.message


def test_live_merges():
    cfg = TrainConfig.from_dict({"optimizer": {"name": "sgd", "learning_rate": 0.3}})
    # Switching optimiser keeps the learning rate and adds the new one's defaults.
    mom = cfg.merged({"optimizer": {"name": "momentum"}})
    assert mom.optimizer == {"name": "momentum", "learning_rate": 0.3, "momentum": 0.9}
    # One more hidden layer keeps the per-layer activations and repeats the last one.
    relu = cfg.merged({"network": {"activation": ["relu", "tanh"]}})
    deeper = relu.merged({"network": {"hidden_layers": [8, 8, 4]}})
    assert deeper.network["activation"] == ["relu", "tanh", "tanh"]
    # Choosing a regression dataset switches the loss to mse, and back.
    plane = cfg.merged({"dataset": {"name": "plane"}})
    assert plane.loss == "mse" and plane.classes == 1
    assert plane.merged({"dataset": {"name": "spiral"}}).loss == "cross_entropy"
    # Switching dataset clamps the class count to the new dataset's range.
    five = cfg.merged({"dataset": {"name": "gaussian", "classes": 5}})
    assert five.merged({"dataset": {"name": "xor"}}).dataset["classes"] == 2
    assert cfg.optimizer["learning_rate"] == 0.3  # merged never mutates


def test_limits_are_applied():
    limits = {"max_hidden_layers": 2, "max_units": 16}
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"network": {"hidden_layers": [4, 4, 4]}}, limits)
    assert info.value.field == "network.hidden_layers"
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"network": {"hidden_layers": [17]}}, limits)
    assert info.value.field == "network.hidden_layers[0]"


def test_validate_takes_any_object_with_the_config_fields():
    """``validate`` needs only the fields (a protocol), not ``TrainConfig`` itself: it
    canonicalises a plain object the same way."""

    class Fields:
        pass

    fields: Any = Fields()
    for key, value in DEFAULT_CONFIG.items():
        setattr(fields, key, value if not isinstance(value, dict) else dict(value))
    fields.network = {**DEFAULT_CONFIG["network"], "activation": "relu"}
    fields.batch_size = 4.0
    validate(fields, DEFAULT_LIMITS)
    assert fields.network["activation"] == ["relu", "relu"] and fields.batch_size == 4
    fields.seed = -1
    with pytest.raises(ConfigError) as info:
        validate(fields, DEFAULT_LIMITS)
    assert info.value.field == "seed"
