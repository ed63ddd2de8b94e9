"""Every limit and every malformed field: a 422 that names the field, never a 500."""

from __future__ import annotations

import json

import pytest

from mlp_playground.config import Settings

LIMITS = dict(
    max_points_train=400,
    max_points_predict=500,
    max_hidden_layers=3,
    max_units=16,
    max_classes=4,
    min_grid_resolution=16,
    max_grid_resolution=40,
    max_steps=5_000,
    max_epochs=100,
    max_batch_size=64,
    max_work=2e8,
    max_gradcheck_points=20,
    max_race_optimizers=3,
)
SMALL = {"dataset": {"name": "circle", "n_points": 40}, "network": {"hidden_layers": [3]}}
DOC = {
    "format": "mlp-playground.model/1",
    "features": ["x1", "x2"],
    "normalization": None,
    "classes": 2,
    "loss": "cross_entropy",
    "layers": [{"weights": [[1.0, 0.0], [0.0, 1.0]], "bias": [0.0, 0.0], "activation": "linear"}],
}


@pytest.fixture
def settings() -> Settings:
    return Settings(**LIMITS)


def points(n: int) -> list[list[float]]:
    return [[float(i % 7), float(i % 5)] for i in range(n)]


def data(n: int, **extra) -> dict:
    return {"points": points(n), "labels": [i % 2 for i in range(n)], **extra}


def check_422(response, field: str, words: str = "") -> dict:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    fields = [d["field"] for d in detail]
    assert field in fields, detail
    item = detail[fields.index(field)]
    assert "input" not in item
    assert words.lower() in item["msg"].lower(), item["msg"]
    return item


# --------------------------------------------------------------------------- limits

LIMIT_CASES = [
    ("/train", {"data": data(401)}, "data.points", "limit of 400"),
    ("/train", {"dataset": {"name": "circle", "n_points": 401}}, "dataset.n_points", "1..400"),
    ("/predict", {"model": DOC, "points": points(501)}, "points", "limit of 500"),
    ("/train", {"network": {"hidden_layers": [2, 2, 2, 2]}}, "network.hidden_layers", "limit"),
    ("/train", {"network": {"hidden_layers": [4, 17]}}, "network.hidden_layers[1]", "1..16"),
    ("/train", {"dataset": {"name": "spiral", "classes": 5}}, "dataset.classes", "2..4"),
    ("/train", {"data": {**data(6), "classes": 5}}, "data.classes", "2..4"),
    ("/train", {"data": {"points": points(3), "labels": [0, 1, 4]}}, "data.labels", "5 classes"),
    ("/train", {**SMALL, "grid": {"resolution": 15}}, "grid.resolution", "16..40"),
    ("/train", {**SMALL, "grid": {"resolution": 41}}, "grid.resolution", "16..40"),
    ("/train", {**SMALL, "steps": 5001}, "steps", "0..5000"),
    ("/train", {**SMALL, "epochs": 101}, "epochs", "0..100"),
    ("/train", {**SMALL, "batch_size": 65}, "batch_size", "1..64"),
    ("/train", {"network": {"hidden_layers": [16, 16, 16]}, "steps": 5000}, "steps", "work"),
    ("/train", {"network": {"hidden_layers": [16, 16, 16]}, "epochs": 100}, "epochs", "work"),
    ("/gradcheck", {**SMALL, "points": 21}, "points", "1..20"),
    ("/gradcheck", {**SMALL, "points": 0}, "points", "1..20"),
    (
        "/race",
        {**SMALL, "optimizers": [{"name": "sgd"}, {"name": "adam"}, {"name": "sgd"}] * 2},
        "optimizers",
        "at most 3",
    ),
    ("/race", {**SMALL, "optimizers": [{"name": "sgd"}]}, "optimizers", "at least 2"),
]


@pytest.mark.parametrize(("path", "body", "field", "words"), LIMIT_CASES)
def test_limit(client, path, body, field, words):
    check_422(client.post(path, json=body), field, words)


def test_work_cap_counts_every_race_run(client):
    body = {"network": {"hidden_layers": [16, 16, 16]}, "steps": 1200}
    assert client.post("/train", json=body).status_code == 200  # one run fits
    race = {**body, "optimizers": [{"name": "sgd"}] * 3}
    check_422(client.post("/race", json=race), "steps", "3 runs")


def test_options_defaults_respect_lowered_limits():
    from fastapi.testclient import TestClient

    from mlp_playground.app import create_app

    with TestClient(create_app(Settings(max_points_train=100))) as c:
        defaults = c.get("/api/options").json()["defaults"]
        assert defaults["dataset"]["n_points"] == 100
        assert c.post("/train", json={**defaults, "epochs": 1}).status_code == 200


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLPG_MAX_UNITS", "5")
    assert Settings().max_units == 5


# --------------------------------------------------------------------------- malformed

MALFORMED = [
    ({"data": {"points": [[0, 0, 0]], "labels": [0]}}, "data.points[0]", "at most 2"),
    ({"data": {"points": [[0, 0], [1, 1]], "labels": [0]}}, "data.labels", "1 values for 2"),
    ({"data": {"points": [[0, 0], [1, 1]], "labels": [0, 0.5]}}, "data.labels[1]", "integers"),
    ({"data": {"points": [[0, 0], [1, 1]], "labels": [0, -1]}}, "data.labels[1]", "integers"),
    ({"data": {**data(4), "classes": 2, "labels": [0, 1, 2, 0]}}, "data.labels[2]", "below"),
    ({"data": {"points": [[0, "a"]], "labels": [0]}}, "data.points[0][1]", "number"),
    ({"dataset": {"name": "spirals"}}, "dataset.name", "valid choices are circle"),
    ({"dataset": {"name": "xor", "classes": 3}}, "dataset.classes", "2..2"),
    ({"dataset": {"noise": 2}}, "dataset.noise", "<= 1"),
    ({"dataset": {"name": "circle"}, "data": data(4)}, "data", "not both"),
    ({"network": {"activation": "swish"}}, "network.activation[0]", "valid choices"),
    ({"network": {"activation": ["tanh"]}}, "network.activation", "list of 2"),
    ({"network": {"features": ["x1", "x1"]}}, "network.features", "more than once"),
    ({"network": {"features": ["x3"]}}, "network.features[0]", "x1_squared"),
    ({"network": {"features": []}}, "network.features", "features"),
    ({"network": {"init": "zeros"}}, "network.init", "xavier"),
    ({"network": {"dropout": 1}}, "network.dropout", "< 1"),
    ({"network": {"hidden_layers": [0]}}, "network.hidden_layers[0]", "1..16"),
    ({"loss": "mae"}, "loss", "cross_entropy"),
    ({"loss": "mse"}, "loss", "regression"),
    ({"regularization": {"kind": "l3"}}, "regularization.kind", "l2"),
    ({"regularization": {"strength": -1}}, "regularization.strength", ">= 0"),
    ({"optimizer": {"name": "lbfgs"}}, "optimizer.name", "adam"),
    ({"optimizer": {"name": "adam", "momentum": 0.9}}, "optimizer.momentum", "beta1"),
    ({"optimizer": {"lr": 0.1}}, "optimizer.lr", "extra"),
    ({"optimizer": {"learning_rate": 0}}, "optimizer.learning_rate", "> 0"),
    ({"optimizer": {"name": "momentum", "momentum": 1.5}}, "optimizer.momentum", "< 1"),
    ({"validation_split": 0.95}, "validation_split", "<= 0.9"),
    ({"batch_size": 0}, "batch_size", "1..64"),
    ({"batch_size": 2.5}, "batch_size", "integer"),
    ({"shuffle": "sometimes"}, "shuffle", "boolean"),
    ({"seed": -1}, "seed", "0.."),
    ({"colour": "red"}, "colour", "extra"),
    ({"initial_model": {"format": "x"}}, "initial_model", "initial_model"),
    ({"initial_model": {**DOC, "classes": 3}}, "initial_model", "initial_model"),
    ({"dataset": {"name": "gaussian", "classes": 3}, "initial_model": DOC}, "initial_model", "3"),
    ({"grid": {"resolution": "big"}}, "grid.resolution", "integer"),
]


@pytest.mark.parametrize(("body", "field", "words"), MALFORMED)
def test_malformed_train_field(client, body, field, words):
    check_422(client.post("/train", json=body), field, words)


NON_FINITE = [
    ('{"validation_split": NaN}', "validation_split"),
    ('{"optimizer": {"learning_rate": Infinity}}', "optimizer.learning_rate"),
    ('{"data": {"points": [[0, 1], [NaN, 0]], "labels": [0, 1]}}', "data.points[1][0]"),
    ('{"data": {"points": [[0, 1], [1, 0]], "labels": [0, -Infinity]}}', "data.labels[1]"),
    ('{"regularization": {"strength": NaN}}', "regularization.strength"),
]


@pytest.mark.parametrize(("text", "field"), NON_FINITE)
def test_non_finite_json_literals_are_422_not_500(client, text, field):
    r = client.post("/train", content=text, headers={"content-type": "application/json"})
    check_422(r, field, "finite")
    assert "NaN" not in r.text and "Infinity" not in r.text


def test_non_finite_inside_a_model_document(client):
    doc = json.dumps(DOC).replace("1.0", "NaN", 1)
    text = '{"model": ' + doc + ', "points": [[0, 0]]}'
    r = client.post("/predict", content=text, headers={"content-type": "application/json"})
    item = check_422(r, "model")
    assert "finite" in item["msg"] or "number" in item["msg"]


def test_invalid_json_is_422(client):
    r = client.post("/train", content="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


PREDICT_MALFORMED = [
    ({"points": [[0, 0]]}, "model", "either"),
    ({"model": DOC, "session": "abc", "points": [[0, 0]]}, "model", "not both"),
    ({"session": "no-such-session", "points": [[0, 0]]}, "session", "unknown session"),
    ({"model": DOC, "points": []}, "points", "at least 1"),
    ({"model": DOC, "points": [[0]]}, "points[0]", "at least 2"),
    ({"model": {**DOC, "features": ["x1", "x9"]}, "points": [[0, 0]]}, "model", "x9"),
    ({"model": {**DOC, "layers": []}, "points": [[0, 0]]}, "model", "layers"),
    ({"model": {**DOC, "classes": 3}, "points": [[0, 0]]}, "model", "classes"),
    (
        {
            "model": {
                **DOC,
                "layers": [{**DOC["layers"][0], "weights": [[1e308, 1e308], [1e308, 1e308]]}],
            },
            "points": [[5, 5]],
        },
        "model",
        "overflow",
    ),
]


@pytest.mark.parametrize(("body", "field", "words"), PREDICT_MALFORMED)
def test_malformed_predict_field(client, body, field, words):
    check_422(client.post("/predict", json=body), field, words)


def test_race_optimizer_errors_name_the_entry(client):
    body = {**SMALL, "optimizers": [{"name": "sgd"}, {"name": "adam", "learning_rate": -1}]}
    check_422(client.post("/race", json=body), "optimizers[1].learning_rate", "> 0")
