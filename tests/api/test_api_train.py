"""POST /train and POST /predict: accuracy, determinism, warm start, grid, predictions."""

from __future__ import annotations

import copy
import json
import math
import threading
import time

import httpx
import numpy as np
import pytest

from mlp_playground.data.features import expand
from mlp_playground.data.grid import grid_points
from mlp_playground.nn.serialization import model_from_document
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.predictor import Predictor
from mlp_playground.training.trainer import Trainer


def defaults(client) -> dict:
    return client.get("/api/options").json()["defaults"]


def without_seconds(response: dict) -> dict:
    out = copy.deepcopy(response)
    out["metrics"].pop("seconds")
    return out


@pytest.mark.parametrize("name", ["circle", "xor", "gaussian", "moons"])
def test_documented_defaults_reach_95_percent(client, name):
    body = defaults(client)
    body["dataset"] = {**body["dataset"], "name": name}
    r = client.post("/train", json=body)
    assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["validation_accuracy"] >= 0.95, m
    assert m["steps"] == 50 * math.ceil(280 / 10) and m["epochs"] == 50 and not m["diverged"]


def test_spiral_with_three_arms(client):
    body = {
        "dataset": {"name": "spiral", "n_points": 300, "noise": 0.1, "classes": 3},
        "network": {"hidden_layers": [16, 16], "activation": "tanh"},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "epochs": 60,
    }
    m = client.post("/train", json=body).json()["metrics"]
    assert m["validation_accuracy"] >= 0.90, m
    assert m["expected_initial_loss"] == pytest.approx(math.log(3))
    # A sane initialisation starts near ln K (the lecture's sanity check).
    assert abs(m["initial_loss"] - math.log(3)) < 0.5


def test_same_request_same_response(client):
    body = {
        "dataset": {"name": "moons", "n_points": 100},
        "network": {"hidden_layers": [6], "dropout": 0.2},
        "epochs": 5,
        "grid": {"resolution": 16},
    }
    a, b = (client.post("/train", json=body).json() for _ in range(2))
    assert without_seconds(a) == without_seconds(b)
    c = client.post("/train", json={**body, "seed": 1}).json()
    assert c["model"] != a["model"]


def test_response_shape(client):
    body = {"dataset": {"name": "circle", "n_points": 100}, "epochs": 3}
    out = client.post("/train", json=body).json()
    assert set(out) == {"model", "history", "metrics"}
    h = out["history"]
    assert h["epoch"] == [0, 1, 2, 3] and h["step"] == [0, 7, 14, 21]  # step 0, then per epoch
    assert len(h["train_loss"]) == len(h["validation_accuracy"]) == 4
    assert h["train_loss"][0] == out["metrics"]["initial_loss"]
    doc = out["model"]
    assert doc["format"] == "mlp-playground.model/1" and doc["classes"] == 2
    assert [len(layer["bias"]) for layer in doc["layers"]] == [8, 8, 2]


def test_steps_override_epochs_and_partial_epoch_is_recorded(client):
    body = {"dataset": {"name": "circle", "n_points": 100}, "epochs": 100, "steps": 10}
    out = client.post("/train", json=body).json()
    assert out["metrics"]["steps"] == 10
    assert out["metrics"]["epochs"] == pytest.approx(1 + 3 / 7)
    assert out["history"]["step"] == [0, 7, 10]


def test_warm_start_with_zero_steps_returns_the_model_unchanged(client):
    first = client.post("/train", json={"dataset": {"name": "xor"}, "epochs": 2}).json()
    body = {"dataset": {"name": "xor", "seed": 7}, "initial_model": first["model"], "steps": 0}
    again = client.post("/train", json=body).json()
    assert again["model"] == first["model"]
    assert again["metrics"]["steps"] == 0


def test_one_sgd_step_is_w_minus_lr_grad(client):
    rng = np.random.default_rng(3)
    points = rng.uniform(-3, 3, (12, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(int)
    start = client.post(
        "/train",
        json={
            "data": {"points": points.tolist(), "labels": labels.tolist()},
            "network": {"hidden_layers": [3], "normalize": False},
            "steps": 0,
        },
    ).json()["model"]
    lr = 0.3
    body = {
        "data": {"points": points.tolist(), "labels": labels.tolist()},
        "validation_split": 0,
        "network": {"hidden_layers": [3], "normalize": False},
        "optimizer": {"name": "sgd", "learning_rate": lr},
        "batch_size": 12,
        "shuffle": False,
        "steps": 1,
        "initial_model": start,
    }
    after = client.post("/train", json=body).json()["model"]
    model = model_from_document(start).model
    model.loss_and_grads(expand(points, ["x1", "x2"]), labels, "cross_entropy")
    for i, layer in enumerate(after["layers"]):
        W = model.params[f"dense{i}.W"] - lr * model.grads[f"dense{i}.W"]
        b = model.params[f"dense{i}.b"] - lr * model.grads[f"dense{i}.b"]
        np.testing.assert_allclose(layer["weights"], W, rtol=0, atol=1e-14)
        np.testing.assert_allclose(layer["bias"], b, rtol=0, atol=1e-14)


def test_predict_reproduces_validation_accuracy(client):
    body = {"dataset": {"name": "spiral", "n_points": 200, "noise": 0.2}, "epochs": 10}
    out = client.post("/train", json=body).json()
    # The split is the run's: rebuild it with the same config (same seed).
    data = Trainer(TrainConfig.from_dict(body)).data
    X, y = data.X[data.val_idx], data.y[data.val_idx]
    r = client.post("/predict", json={"model": out["model"], "points": X.tolist()})
    assert r.status_code == 200, r.text
    pred = r.json()
    accuracy = float(np.mean(np.array(pred["labels"]) == y))
    assert accuracy == pytest.approx(out["metrics"]["validation_accuracy"], abs=1e-12)
    proba = np.array(pred["probabilities"])
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert 0.5 < accuracy < 1.0  # noisy spiral after 10 epochs: learned, not perfect


def test_grid_matches_predict_row_major_top_row_first(client):
    body = {
        "dataset": {"name": "gaussian", "n_points": 100},
        "epochs": 2,
        "grid": {"resolution": 16},
    }
    out = client.post("/train", json=body).json()
    g = out["grid"]
    assert g["resolution"] == 16 and g["domain"] == [-6.0, 6.0, -6.0, 6.0]
    proba = np.array(g["probabilities"])
    assert proba.shape == (256, 2)
    points = grid_points(g["domain"], 16)
    assert points[0].tolist() == [-5.625, 5.625]  # top-left cell first
    pred = client.post("/predict", json={"model": out["model"], "points": points.tolist()}).json()
    np.testing.assert_allclose(proba, pred["probabilities"], atol=1e-12)


def test_grid_domain_of_user_data_is_its_padded_bounding_box(client):
    body = {
        "data": {"points": [[0, 0], [10, 20], [5, 5], [8, 1]], "labels": [0, 1, 0, 1]},
        "validation_split": 0,
        "steps": 1,
        "grid": {"resolution": 16},
    }
    g = client.post("/train", json=body).json()["grid"]
    assert g["domain"] == pytest.approx([-1.0, 11.0, -2.0, 22.0])


def test_diverged_training_is_a_200(client):
    body = {
        "dataset": {"name": "plane", "n_points": 50},
        "loss": "mse",
        "network": {"hidden_layers": [4], "activation": "relu"},
        "optimizer": {"name": "sgd", "learning_rate": 500},
        "steps": 200,
    }
    r = client.post("/train", json=body)
    assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["diverged"] is True
    assert m["train_accuracy"] is None and m["expected_initial_loss"] is None
    assert all(math.isfinite(w) for layer in r.json()["model"]["layers"] for w in layer["bias"])


def test_regression_trains_and_predicts_values(client):
    body = {"dataset": {"name": "plane", "n_points": 200}, "epochs": 20}
    out = client.post("/train", json=body).json()
    assert out["model"]["loss"] == "mse" and out["model"]["classes"] == 1
    m = out["metrics"]
    assert m["validation_loss"] < 0.1 * m["initial_loss"]
    pred = client.post("/predict", json={"model": out["model"], "points": [[5, 5], [-5, -5]]})
    values = pred.json()["values"]
    assert values[0] > 0.4 and values[1] < -0.4  # target (x1 + x2) / 12


def test_hinge_loss_trains(client):
    body = {"dataset": {"name": "gaussian", "classes": 4}, "loss": "hinge", "epochs": 10}
    m = client.post("/train", json=body).json()["metrics"]
    assert m["expected_initial_loss"] == 3.0 and m["validation_accuracy"] >= 0.9


def test_large_bodies_parsed_off_the_loop_behave_the_same(client):
    from mlp_playground.routes.body_limit import OFF_LOOP_BYTES

    out = client.post("/train", json={"dataset": {"name": "xor"}, "epochs": 1}).json()
    pts = np.random.default_rng(0).uniform(-6, 6, (3000, 2))
    text = json.dumps({"model": out["model"], "points": pts.tolist()})
    assert len(text) > OFF_LOOP_BYTES
    headers = {"content-type": "application/json"}
    r = client.post("/predict", content=text, headers=headers)
    assert r.status_code == 200
    trainer = Predictor.from_document(out["model"])
    np.testing.assert_allclose(r.json()["probabilities"], trainer.predict_proba(pts), atol=1e-12)
    bad = text[: text.rindex("]]")] + "], [NaN, 1.0]]}"
    r = client.post("/predict", content=bad, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "points[3000][0]"
    r = client.post("/predict", content=text[:-2], headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_training_does_not_block_the_server(live_server):
    """A long /train runs in the threadpool: /healthz answers while it is in flight."""
    body = {"dataset": {"name": "circle", "n_points": 2000}, "epochs": 150}
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(
            r=httpx.post(live_server.url + "/train", json=body, timeout=120)
        )
    )
    thread.start()
    try:
        time.sleep(0.3)
        assert httpx.get(live_server.url + "/healthz", timeout=30).status_code == 200
        assert thread.is_alive()  # the training request is still running
    finally:
        thread.join()
    assert result["r"].status_code == 200


def test_predict_a_live_session(client):
    from mlp_playground.live.registry import SessionRegistry  # noqa: F401  (the registry exists)

    registry = client.app.state.registry
    session = registry.create()
    assert session is not None
    try:
        r = client.post("/predict", json={"session": session.id, "points": [[0, 0], [5, 5]]})
        assert r.status_code == 200, r.text
        expected = session.trainer.predict_proba(np.array([[0.0, 0.0], [5.0, 5.0]]))
        np.testing.assert_allclose(r.json()["probabilities"], expected, atol=1e-12)
    finally:
        registry.drop(session, "test")
