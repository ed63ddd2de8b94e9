"""POST /export of a /train body: the script's train() gives /train's history."""

from __future__ import annotations

import numpy as np
import pytest

from tests.export.helpers import run_scripts

BASE = {"dataset": {"name": "moons", "n_points": 120, "noise": 0.15}, "epochs": 6}
BODIES = [
    {**BASE, "optimizer": {"name": "sgd", "learning_rate": 0.2}},
    {
        **BASE,
        "optimizer": {"name": "momentum"},
        "regularization": {"kind": "l2", "strength": 0.01},
        "network": {"hidden_layers": [6, 4], "activation": ["relu", "leaky_relu"]},
        "schedule": {"kind": "step", "step_size": 20, "gamma": 0.5},
    },
    {
        "dataset": {"name": "spiral", "n_points": 150, "classes": 3},
        "epochs": 5,
        "optimizer": {"name": "nesterov"},
        "regularization": {"kind": "l1", "strength": 0.001},
        "network": {"hidden_layers": [8], "activation": "prelu", "dropout": 0.2},
        "loss": "hinge",
    },
    {
        **BASE,
        "optimizer": {"name": "adagrad"},
        "network": {
            "hidden_layers": [5, 5],
            "activation": ["elu", "sigmoid"],
            "features": ["x1", "x2", "x1_squared", "x2_squared", "x1_x2"],
        },
        "schedule": {"kind": "cosine", "total_steps": 40, "min_learning_rate": 0.01},
        "batch_size": 7,
    },
    {
        "dataset": {"name": "gaussian", "n_points": 160, "classes": 8},
        "epochs": 4,
        "optimizer": {"name": "rmsprop"},
        "network": {
            "hidden_layers": [8, 8],
            "activation": "tanh",
            "dropout": 0.3,
            "features": ["x1", "x2", "sin_x1", "sin_x2"],
            "normalize": False,
        },
        "regularization": {"kind": "l2", "strength": 0.001},
    },
    {
        **BASE,
        "optimizer": {"name": "adam"},
        "network": {"hidden_layers": [6], "activation": "linear", "dropout": 0.1},
        "steps": 37,
        "shuffle": False,
        "seed": 5,
    },
    {
        **BASE,
        "epochs": 30,
        "optimizer": {"name": "adam", "learning_rate": 0.05},
        "stop": {"validation_accuracy": 0.8},
    },
    {
        "dataset": {"name": "plane", "n_points": 100},
        "loss": "mse",
        "epochs": 4,
        "optimizer": {"name": "sgd", "learning_rate": 0.05},
    },
]


def _check(got: dict, want: dict) -> None:
    assert got["step"] == want["step"] and got["epoch"] == want["epoch"]
    np.testing.assert_allclose(got["train_loss"], want["train_loss"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(got["validation_loss"], want["validation_loss"], rtol=1e-6)
    assert got["train_accuracy"] == want["train_accuracy"]
    assert got["validation_accuracy"] == want["validation_accuracy"]


def test_bodies_cover_every_choice() -> None:
    assert {b["optimizer"]["name"] for b in BODIES} == {
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
    }
    assert {b.get("regularization", {}).get("kind", "none") for b in BODIES} == {"none", "l1", "l2"}
    assert {b.get("schedule", {}).get("kind", "constant") for b in BODIES} == {
        "constant",
        "step",
        "cosine",
    }
    assert any(b.get("network", {}).get("dropout") for b in BODIES)


@pytest.mark.parametrize("fmt", ["numpy", "pytorch"])
def test_training_script_gives_the_train_history(client, tmp_path, fmt: str) -> None:
    jobs, expected = [], []
    for body in BODIES:
        r = client.post("/export", json={"format": fmt, "train": body})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/x-python; charset=utf-8"
        jobs.append((r.text, None))
        expected.append(client.post("/train", json=body).json()["history"])
    results = run_scripts(tmp_path, jobs)
    for body, want, got in zip(BODIES, expected, results, strict=True):
        assert len(want["step"]) >= 2, body
        _check(got, want)
    stopped = expected[6]
    assert stopped["epoch"][-1] < 30  # the stop condition ended that run early, in both


def test_numpy_training_is_bit_identical(client, tmp_path) -> None:
    body = BODIES[2]  # prelu, dropout, hinge, l1, nesterov, 3 classes
    script = client.post("/export", json={"format": "numpy", "train": body}).text
    (got,) = run_scripts(tmp_path, [(script, None)])
    assert got["train_loss"] == client.post("/train", json=body).json()["history"]["train_loss"]


def test_over_the_caps_is_422_naming_the_field(client) -> None:
    big = {**BASE, "epochs": 10_000, "network": {"hidden_layers": [256, 256]}}
    r = client.post("/export", json={"format": "numpy", "train": big})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "train.epochs", r.json()
    assert client.post("/train", json=big).status_code == 422  # the same cap as /train
    r = client.post("/export", json={"format": "numpy", "train": {**BASE, "steps": 10**9}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "train.steps"
    many = {"dataset": {"name": "moons", "n_points": 10**6}}
    r = client.post("/export", json={"format": "pytorch", "train": many})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "train.dataset.n_points"
    r = client.post("/export", json={"format": "numpy", "train": {"epochs": "x"}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "train.epochs"
