"""The model document both ways; every malformed document is refused with its reason."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import (
    ModelDocumentError,
    model_from_document,
    model_to_document,
)


def model_and_doc():
    model = MLP(2, [3, 2], 3, activation=["prelu", "tanh"], seed=0)
    rng = np.random.default_rng(1)
    for name, value in model.params.items():
        model.params[name] = rng.normal(size=value.shape) / 3  # awkward floats, non-zero biases
    norm = {"mean": np.array([0.1, -0.2]), "std": np.array([1.5, 0.7])}
    return model, model_to_document(model, ["x1", "x1_x2"], norm, "hinge")


def test_document_layout():
    model, doc = model_and_doc()
    assert doc["format"] == "mlp-playground.model/1"
    assert doc["features"] == ["x1", "x1_x2"]
    assert doc["normalization"] == {"mean": [0.1, -0.2], "std": [1.5, 0.7]}
    assert doc["classes"] == 3 and doc["loss"] == "hinge"
    assert [layer["activation"] for layer in doc["layers"]] == ["prelu", "tanh", "linear"]
    assert "alpha" in doc["layers"][0] and "alpha" not in doc["layers"][1]
    assert doc["layers"][0]["weights"][1][2] == model.params["dense0.W"][1, 2]
    assert len(doc["layers"][1]["weights"]) == 3 and len(doc["layers"][1]["weights"][0]) == 2


def test_round_trip_through_json_is_exact():
    model, doc = model_and_doc()
    loaded = model_from_document(json.loads(json.dumps(doc)))
    assert loaded.features == ["x1", "x1_x2"] and loaded.loss == "hinge" and loaded.classes == 3
    assert loaded.normalization == {"mean": [0.1, -0.2], "std": [1.5, 0.7]}
    m = loaded.model
    assert m.hidden_layers == [3, 2] and m.activations == ["prelu", "tanh"]
    assert list(m.params) == list(model.params)
    for name, value in model.params.items():
        assert m.params[name].tobytes() == value.tobytes(), name
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(m.forward(X), model.forward(X))
    assert model_to_document(m, loaded.features, loaded.normalization, "hinge") == doc


def test_null_normalization_and_no_hidden_layers():
    model = MLP(2, [], 2, seed=0)
    doc = model_to_document(model, ["x1", "x2"], None, "cross_entropy")
    assert doc["normalization"] is None
    loaded = model_from_document(doc)
    assert loaded.normalization is None and loaded.model.hidden_layers == []


def test_regression_document():
    model = MLP(2, [4], 1, seed=0)
    loaded = model_from_document(model_to_document(model, ["x1", "x2"], None, "mse"))
    assert loaded.classes == 1 and loaded.loss == "mse"


def broken(mutate):
    _, doc = model_and_doc()
    doc = copy.deepcopy(doc)
    mutate(doc)
    return doc


def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _del(path):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


MALFORMED = [
    ("not a dict", lambda d: None, "document: expected a JSON object"),
    ("format", _set(["format"], "mlp-playground.model/2"), "format: expected"),
    ("missing layers", _del(["layers"]), "layers: missing"),
    ("extra field", _set(["optimizer"], "adam"), "optimizer: unknown field"),
    ("unknown feature", _set(["features", 1], "x3"), "features[1]: unknown feature 'x3'"),
    ("duplicate feature", _set(["features", 1], "x1"), "features: contains duplicates"),
    ("empty features", _set(["features"], []), "features: expected a non-empty list"),
    ("norm length", _set(["normalization", "mean"], [0.0]), "normalization.mean: expected 2"),
    ("norm std zero", _set(["normalization", "std", 1], 0.0), "normalization.std[1]: must be > 0"),
    (
        "norm nan",
        _set(["normalization", "mean", 0], float("nan")),
        "normalization.mean[0]: expected a finite",
    ),
    ("norm missing", _del(["normalization", "std"]), "normalization.std: missing"),
    ("loss", _set(["loss"], "l2"), "loss: unknown loss 'l2'; valid: cross_entropy, hinge, mse"),
    ("classes type", _set(["classes"], "3"), "classes: expected an integer"),
    ("classes bool", _set(["classes"], True), "classes: expected an integer"),
    ("classes range", _set(["classes"], 9), "classes: expected 2..8"),
    (
        "classes mismatch",
        _set(["classes"], 2),
        "layers[2].weights: expected 2 columns (classes), got 3",
    ),
    ("no layers", _set(["layers"], []), "layers: expected a non-empty list"),
    ("layer type", _set(["layers", 1], [1, 2]), "layers[1]: expected an object"),
    (
        "activation",
        _set(["layers", 1, "activation"], "swish"),
        "layers[1].activation: unknown activation 'swish'",
    ),
    (
        "output activation",
        _set(["layers", 2, "activation"], "tanh"),
        "layers[2].activation: the output layer must be 'linear'",
    ),
    (
        "rows",
        lambda d: d["layers"][1]["weights"].pop(),
        "layers[1].weights: expected 3 rows, got 2",
    ),
    (
        "first layer rows",
        lambda d: d["layers"][0]["weights"].append([0.0, 0.0, 0.0]),
        "layers[0].weights: expected 2 rows, got 3",
    ),
    (
        "ragged",
        lambda d: d["layers"][1]["weights"][2].append(1.0),
        "layers[1].weights[2]: expected 2 columns, got 3",
    ),
    (
        "weight nan",
        _set(["layers", 1, "weights", 0, 1], float("nan")),
        "layers[1].weights[0][1]: expected a finite number",
    ),
    (
        "weight inf",
        _set(["layers", 0, "weights", 1, 0], float("inf")),
        "layers[0].weights[1][0]: expected a finite number",
    ),
    (
        "weight string",
        _set(["layers", 1, "weights", 0, 0], "0.5"),
        "layers[1].weights[0][0]: expected a number, got '0.5'",
    ),
    (
        "weight bool",
        _set(["layers", 1, "weights", 0, 0], True),
        "layers[1].weights[0][0]: expected a number",
    ),
    (
        "weights not list",
        _set(["layers", 1, "weights"], {"a": 1}),
        "layers[1].weights: expected a list of rows",
    ),
    (
        "bias length",
        lambda d: d["layers"][2]["bias"].pop(),
        "layers[2].bias: expected 3 values, got 2",
    ),
    ("bias missing", _del(["layers", 0, "bias"]), "layers[0].bias: missing"),
    (
        "alpha missing",
        _del(["layers", 0, "alpha"]),
        "layers[0].alpha: missing (required for prelu)",
    ),
    (
        "alpha length",
        _set(["layers", 0, "alpha"], [0.25]),
        "layers[0].alpha: expected 3 values, got 1",
    ),
    (
        "alpha on tanh",
        _set(["layers", 1, "alpha"], [0.25, 0.25]),
        "layers[1].alpha: only prelu layers",
    ),
    ("layer extra", _set(["layers", 1, "dropout"], 0.5), "layers[1].dropout: unknown field"),
]


@pytest.mark.parametrize(("case", "mutate", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_documents_are_rejected_with_their_reason(case, mutate, message):
    doc = None if case == "not a dict" else broken(mutate)
    with pytest.raises(ModelDocumentError) as info:
        model_from_document(doc)
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, ValueError)


def test_known_features_can_be_given():
    _, doc = model_and_doc()
    doc["features"] = ["a", "b"]
    assert model_from_document(doc, known_features=["a", "b"]).features == ["a", "b"]
    with pytest.raises(ModelDocumentError, match="features\\[0\\]"):
        model_from_document(doc)


def test_writing_checks_the_feature_count():
    model = MLP(2, [3], 2, seed=0)
    with pytest.raises(ValueError, match="2 inputs"):
        model_to_document(model, ["x1"], None, "cross_entropy")
