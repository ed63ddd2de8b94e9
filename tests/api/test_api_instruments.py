"""POST /gradcheck and POST /race: the teaching instruments over REST."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import model_to_document

ROW_KEYS = {"parameter", "index", "analytic", "numerical", "relative_error"}
SMALL = {
    "dataset": {"name": "spiral", "n_points": 120, "classes": 3},
    "network": {"hidden_layers": [5, 4], "activation": "tanh"},
    "regularization": {"kind": "l2", "strength": 0.01},
}


def test_gradcheck_passes_on_a_small_net(client):
    r = client.post("/gradcheck", json={**SMALL, "points": 16})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["passed"] is True and out["worst_relative_error"] < 1e-6
    rows = out["rows"]
    assert all(set(row) == ROW_KEYS for row in rows)
    assert out["worst_relative_error"] == max(row["relative_error"] for row in rows)
    # Every parameter tensor is checked; small ones completely (dense0.W is 2 x 5).
    params = {row["parameter"] for row in rows}
    assert params == {f"dense{i}.{p}" for i in range(3) for p in "Wb"}
    assert sorted(tuple(r["index"]) for r in rows if r["parameter"] == "dense0.W") == [
        (i, j) for i in range(2) for j in range(5)
    ]
    for row in rows:
        assert row["analytic"] == pytest.approx(row["numerical"], rel=1e-5, abs=1e-9)


def test_gradcheck_uses_the_initial_model(client):
    model = MLP(2, [3], 2, activation="tanh", seed=4)
    W = model.params["dense0.W"]
    W[...] = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
    doc = model_to_document(model, ["x1", "x2"], None)
    body = {
        "data": {"points": [[1.0, 2.0]], "labels": [1]},
        "validation_split": 0,
        "initial_model": doc,
        "points": 1,
    }
    rows = client.post("/gradcheck", json=body).json()["rows"]
    # By hand: dE/db_out = softmax(s) - onehot(y) for one point.
    h = np.tanh(np.array([1.0, 2.0]) @ W + model.params["dense0.b"])
    s = h @ model.params["dense1.W"] + model.params["dense1.b"]
    p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    expected = p - np.array([0.0, 1.0])
    got = {tuple(r["index"]): r["analytic"] for r in rows if r["parameter"] == "dense1.b"}
    np.testing.assert_allclose([got[(0,)], got[(1,)]], expected, rtol=1e-12)


def test_gradcheck_samples_the_parameters_of_a_big_net(client):
    body = {"network": {"hidden_layers": [64] * 4}, "points": 32}
    out = client.post("/gradcheck", json=body).json()
    assert out["passed"] is True
    counts = {}
    for row in out["rows"]:
        counts[row["parameter"]] = counts.get(row["parameter"], 0) + 1
    assert len(counts) == 10 and max(counts.values()) == 12  # 12 of dense1.W's 4096


def test_race_runs_start_from_identical_weights_and_come_back_in_order(client):
    optimizers = [
        {"name": "adam", "learning_rate": 0.01},
        {"name": "sgd", "learning_rate": 0.1},
        {"name": "momentum"},
    ]
    body = {**SMALL, "epochs": 5, "optimizers": optimizers}
    r = client.post("/race", json=body)
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert [run["optimizer"]["name"] for run in runs] == ["adam", "sgd", "momentum"]
    assert runs[2]["optimizer"] == {"name": "momentum", "learning_rate": 0.03, "momentum": 0.9}
    initial = {run["metrics"]["initial_loss"] for run in runs}
    assert len(initial) == 1  # bit-identical start
    assert len({run["history"]["train_loss"][-1] for run in runs}) == 3  # different paths
    # Each run is exactly what /train does with that optimiser.
    for run, opt in zip(runs, optimizers, strict=True):
        single = client.post("/train", json={**SMALL, "epochs": 5, "optimizer": opt}).json()
        assert single["history"] == run["history"]
        a, b = copy.deepcopy(single["metrics"]), copy.deepcopy(run["metrics"])
        a.pop("seconds"), b.pop("seconds")
        assert a == b


def test_race_with_zero_steps_has_identical_histories(client):
    body = {**SMALL, "steps": 0, "optimizers": [{"name": "sgd"}, {"name": "rmsprop"}]}
    runs = client.post("/race", json=body).json()["runs"]
    assert runs[0]["history"] == runs[1]["history"]
