"""Issue 6's instruments over REST and in the Trainer (docs/instruments.md): layer
statistics, the optimiser race, MC dropout, the initial-loss check, learning-rate schedules,
stop conditions and regression."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import model_to_document
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

DEEP_TANH = {"hidden_layers": [64] * 10, "activation": "tanh"}


def _stats(client, init: str) -> list[dict]:
    body = {
        "dataset": {"name": "circle", "n_points": 200},
        "network": {**DEEP_TANH, "init": init},
        "steps": 0,
        "stats": True,
    }
    r = client.post("/train", json=body)
    assert r.status_code == 200, r.text
    return r.json()["layer_stats"]


def test_deep_tanh_with_small_gaussian_init_vanishes_and_xavier_does_not(client):
    gaussian = _stats(client, "gaussian")
    xavier = _stats(client, "xavier")
    assert [s["layer"] for s in gaussian] == list(range(10))
    assert all(s["units"] == 64 and s["activation"] == "tanh" for s in gaussian)
    # N(0, 0.01^2) weights: each layer multiplies the spread by about 0.01 * sqrt(64) = 0.08.
    assert gaussian[-1]["std"] < 0.01
    assert gaussian[-1]["std"] < gaussian[0]["std"] / 100
    assert xavier[-1]["std"] > 0.1
    # The gradient reaching the first layer vanishes with the small init too.
    assert gaussian[0]["grad_norm"] < 1e-6 < xavier[0]["grad_norm"]
    for s in gaussian + xavier:
        assert sum(s["histogram"]["counts"]) == 64 * 140  # units x training points (70%)


def test_train_without_stats_has_no_layer_stats(client):
    out = client.post("/train", json={"steps": 3}).json()
    assert "layer_stats" not in out


# --------------------------------------------------------------------------- race

RACE = {
    "dataset": {"name": "moons", "n_points": 120},
    "network": {"hidden_layers": [6]},
    "steps": 30,
    "grid": {"resolution": 16},
    "optimizers": [
        {"name": "sgd", "learning_rate": 0.1},
        {"name": "momentum", "learning_rate": 0.03},
        {"name": "adam", "learning_rate": 0.01},
    ],
}


def test_race_starts_from_identical_weights_and_returns_grids_in_order(client):
    r = client.post("/race", json=RACE)
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert [run["optimizer"]["name"] for run in runs] == ["sgd", "momentum", "adam"]
    first = runs[0]
    for run in runs:
        assert run["metrics"]["initial_loss"] == first["metrics"]["initial_loss"]
        assert run["history"]["step"][0] == 0
        for key in ("train_loss", "validation_loss", "train_accuracy"):
            assert run["history"][key][0] == first["history"][key][0]
        assert run["metrics"]["steps"] == 30
        grid = run["grid"]
        assert grid["resolution"] == 16 and len(grid["probabilities"]) == 256
        assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-9 for p in grid["probabilities"])
    # The optimisers then part ways.
    finals = {run["metrics"]["train_loss"] for run in runs}
    assert len(finals) == 3
    assert runs[0]["grid"]["probabilities"] != runs[2]["grid"]["probabilities"]


def test_race_result_equals_separate_training(client):
    """Lockstep changes the order of work, not the result: each run is what /train gives."""
    runs = client.post("/race", json=RACE).json()["runs"]
    body = {k: v for k, v in RACE.items() if k != "optimizers"}
    for spec, run in zip(RACE["optimizers"], runs, strict=True):
        alone = client.post("/train", json={**body, "optimizer": spec}).json()
        assert alone["metrics"]["train_loss"] == run["metrics"]["train_loss"]
        assert alone["history"] == run["history"]


# --------------------------------------------------------------------------- MC dropout


@pytest.fixture
def trained_model(client) -> dict:
    body = {
        "dataset": {"name": "spiral", "n_points": 150, "classes": 3},
        "network": {"hidden_layers": [16, 16], "activation": "relu"},
        "epochs": 5,
    }
    return client.post("/train", json=body).json()["model"]


POINTS = [[x, y] for x in (-4.0, -1.0, 0.5, 3.0) for y in (-3.0, 0.0, 2.5)]


def test_mc_dropout_mean_converges_to_the_deterministic_prediction(client, trained_model):
    det = np.array(
        client.post("/predict", json={"model": trained_model, "points": POINTS}).json()[
            "probabilities"
        ]
    )
    errors, stds = [], []
    for p in (0.5, 0.05, 0.005, 0.0):
        body = {"model": trained_model, "points": POINTS, "mc_passes": 40, "dropout": p}
        r = client.post("/predict", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        mean, std = np.array(out["probabilities"]), np.array(out["std"])
        assert mean.shape == std.shape == (len(POINTS), 3)
        np.testing.assert_allclose(mean.sum(axis=1), 1.0)
        errors.append(np.abs(mean - det).max())
        stds.append(std.max())
    assert stds[0] > 0.01  # dropout 0.5: the passes disagree
    assert errors[0] > errors[1] > errors[2] and stds[0] > stds[1] > stds[2]
    assert errors[2] < 0.01 and stds[2] < 0.05  # std shrinks like sqrt(p)
    assert errors[3] < 1e-12 and stds[3] < 1e-12  # no dropout: every pass is the network


def test_predict_mc_fields_are_checked(client, trained_model):
    base = {"model": trained_model, "points": POINTS}
    for extra, field in (
        ({"mc_passes": 0}, "mc_passes"),
        ({"mc_passes": 101}, "mc_passes"),
        ({"mc_passes": 5, "dropout": 0.95}, "dropout"),
        ({"dropout": 0.5}, "mc_passes"),
    ):
        r = client.post("/predict", json={**base, **extra})
        assert r.status_code == 422, extra
        assert r.json()["detail"][0]["field"] == field


# --------------------------------------------------------------------------- initial loss


def test_initial_loss_matches_ln_k_for_a_small_init(client):
    body = {"dataset": {"name": "spiral", "n_points": 150, "classes": 3}, "steps": 0}
    m = client.post("/train", json=body).json()["metrics"]
    assert m["expected_initial_loss"] == pytest.approx(math.log(3))
    assert abs(m["initial_loss"] - math.log(3)) < 0.1 * math.log(3)
    assert m["initial_loss_ok"] is True


def test_initial_loss_flags_large_weights(client):
    model = MLP(2, [8], 2, activation="tanh", seed=1)
    for name, p in model.params.items():
        if name.endswith(".W"):
            p *= 30.0
    body = {
        "dataset": {"name": "xor", "n_points": 200},
        "initial_model": model_to_document(model, ["x1", "x2"], None),
        "steps": 0,
    }
    m = client.post("/train", json=body).json()["metrics"]
    assert m["expected_initial_loss"] == pytest.approx(math.log(2))
    assert m["initial_loss"] > 2 * math.log(2)
    assert m["initial_loss_ok"] is False


# --------------------------------------------------------------------------- schedules


def _scheduled_trainer(schedule: dict) -> Trainer:
    cfg = TrainConfig.from_dict(
        {
            "dataset": {"name": "circle", "n_points": 40},
            "validation_split": 0,
            "optimizer": {"name": "sgd", "learning_rate": 0.1},
            "batch_size": 40,
            "shuffle": False,
            "schedule": schedule,
        }
    )
    return Trainer(cfg)


def _rate_used_by_next_update(trainer: Trainer) -> float:
    """Measure the rate of one sgd update: delta = -lr * grad on the full batch."""
    X, y = trainer.training_batch(trainer.n_train)
    model = trainer.model
    model.loss_and_grads(X, y, "cross_entropy", "none", 0.0, True)
    g = model.grads.flat.copy()
    before = model.params.flat.copy()
    trainer.run_steps(1)
    delta = model.params.flat - before
    i = int(np.abs(g).argmax())
    return float(-delta[i] / g[i])


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # step: 0.1 * 0.5 ** floor(t / 3)
        ({"kind": "step", "step_size": 3, "gamma": 0.5}, {0: 0.1, 2: 0.1, 3: 0.05, 7: 0.025}),
        # cosine: 0.01 + 0.09 * (1 + cos(pi * min(t, 10) / 10)) / 2
        (
            {"kind": "cosine", "total_steps": 10, "min_learning_rate": 0.01},
            {0: 0.1, 3: 0.01 + 0.09 * (1 + 0.5877852522924731) / 2, 5: 0.055, 10: 0.01, 12: 0.01},
        ),
        ({"kind": "constant"}, {0: 0.1, 9: 0.1}),
    ],
)
def test_schedules_give_hand_computed_rates(schedule, expected):
    trainer = _scheduled_trainer(schedule)
    for step, rate in expected.items():
        trainer.run_steps(step - trainer.step)
        assert trainer.step == step
        assert trainer.learning_rate == pytest.approx(rate, rel=1e-12)
        assert _rate_used_by_next_update(trainer) == pytest.approx(rate, rel=1e-9)


def test_schedule_rate_is_reported_by_train(client):
    body = {
        "optimizer": {"name": "sgd", "learning_rate": 0.2},
        "schedule": {"kind": "step", "step_size": 4, "gamma": 0.1},
        "steps": 9,
    }
    m = client.post("/train", json=body).json()["metrics"]
    assert m["learning_rate"] == pytest.approx(0.2 * 0.1**2)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"schedule": {"kind": "exponential"}}, "schedule.kind"),
        ({"schedule": {"kind": "step", "gamma": 0}}, "schedule.gamma"),
        ({"schedule": {"step_size": 0}}, "schedule.step_size"),
        ({"schedule": {"kind": "cosine", "min_learning_rate": 1.0}}, "schedule.min_learning_rate"),
        ({"stop": {"validation_accuracy": 1.5}}, "stop.validation_accuracy"),
        ({"stop": {"epochs": 0}}, "stop.epochs"),
        ({"prediction": {"mode": "bayes"}}, "prediction.mode"),
        ({"prediction": {"passes": 0}}, "prediction.passes"),
    ],
)
def test_bad_instrument_fields_are_422_naming_the_field(client, section, field):
    r = client.post("/train", json={**section, "steps": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == field
    with pytest.raises(ConfigError) as exc:
        TrainConfig.from_dict(section)
    assert exc.value.field == field


def test_options_list_the_new_choices_and_defaults(client):
    opts = client.get("/api/options").json()
    assert opts["schedules"] == ["constant", "step", "cosine"]
    assert opts["prediction_modes"] == ["deterministic", "mc_dropout"]
    d = opts["defaults"]
    assert d["schedule"]["kind"] == "constant" and d["prediction"] == {
        "mode": "deterministic",
        "passes": 20,
    }
    assert d["stop"] == {"validation_loss": None, "validation_accuracy": None, "epochs": None}


# --------------------------------------------------------------------------- stop conditions

STOP_BASE = {"dataset": {"name": "circle", "n_points": 200}, "epochs": 60}


def test_stop_after_epochs(client):
    m = client.post("/train", json={**STOP_BASE, "stop": {"epochs": 3}}).json()["metrics"]
    assert m["stopped"] == "epochs" and m["epochs"] == 3


@pytest.mark.parametrize(
    ("key", "target", "met"),
    [
        ("validation_accuracy", 0.9, lambda v, t: v >= t),
        ("validation_loss", 0.3, lambda v, t: v <= t),
    ],
)
def test_stop_at_the_first_epoch_meeting_the_target(client, key, target, met):
    out = client.post("/train", json={**STOP_BASE, "stop": {key: target}}).json()
    assert out["metrics"]["stopped"] == key
    epochs, values = out["history"]["epoch"][1:], out["history"][key][1:]
    hits = [e for e, v in zip(epochs, values, strict=True) if met(v, target)]
    assert hits and hits[0] == epochs[-1] == out["metrics"]["epochs"]
    assert 1 < out["metrics"]["epochs"] < 60


def test_no_stop_condition_trains_every_epoch(client):
    out = client.post("/train", json={**STOP_BASE, "epochs": 4}).json()
    assert out["metrics"]["stopped"] is None and out["metrics"]["epochs"] == 4


# --------------------------------------------------------------------------- regression


def test_regression_on_plane_reaches_low_mse_and_predicts_values(client):
    body = {
        "dataset": {"name": "plane", "n_points": 300, "noise": 0.0},
        "loss": "mse",
        "epochs": 30,
        "grid": {"resolution": 16},
    }
    r = client.post("/train", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    m = out["metrics"]
    assert m["validation_loss"] < 0.005 < m["initial_loss"]
    assert m["train_accuracy"] is None and m["validation_accuracy"] is None
    assert m["expected_initial_loss"] is None and m["initial_loss_ok"] is None
    assert out["model"]["classes"] == 1 and len(out["model"]["layers"][-1]["bias"]) == 1
    values = out["grid"]["values"]
    assert len(values) == 256
    # Row-major from the top-left corner (x1 small, x2 large) to the bottom-right: the
    # target (x1 + x2) / 12 is 0 at those two corners, highest top-right, lowest bottom-left.
    assert values[0] == pytest.approx(0.0, abs=0.1)
    assert values[255] == pytest.approx(0.0, abs=0.1)
    assert values[15] > 0.7 and values[240] < -0.7
    points = [[5.0, 5.0], [-5.0, -5.0], [0.0, 0.0]]
    pred = client.post("/predict", json={"model": out["model"], "points": points}).json()
    np.testing.assert_allclose(pred["values"], [10 / 12, -10 / 12, 0.0], atol=0.1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": {"name": "circle"}, "loss": "mse"}, "loss"),
        ({"dataset": {"name": "plane"}, "loss": "cross_entropy"}, "loss"),
        ({"dataset": {"name": "multi_gaussian"}, "loss": "hinge"}, "loss"),
    ],
)
def test_loss_and_task_mismatch_is_422(client, body, field):
    r = client.post("/train", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["field"] == field and "mse" in detail["msg"]


def test_multi_gaussian_regression_trains(client):
    body = {"dataset": {"name": "multi_gaussian", "n_points": 300}, "loss": "mse", "epochs": 20}
    m = client.post("/train", json=body).json()["metrics"]
    assert m["validation_loss"] < 0.5 * m["initial_loss"]
