"""The training loop: determinism, mini-batches, divergence, evaluation and live edits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.data.datasets import generate
from mlp_playground.data.features import expand
from mlp_playground.data.grid import grid_points
from mlp_playground.training.trainer import ConfigError, TrainConfig, Trainer

SMALL = {
    "dataset": {"name": "circle", "n_points": 60, "noise": 0.1, "seed": 1},
    "network": {"hidden_layers": [4, 3]},
    "optimizer": {"name": "sgd", "learning_rate": 0.1},
    "batch_size": 8,
}


def merge(partial=None) -> dict:
    """SMALL with ``partial`` merged one level deep."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SMALL.items()}
    for k, v in (partial or {}).items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make(partial=None, **kw) -> Trainer:
    return Trainer(TrainConfig.from_dict(merge(partial)), **kw)


def flat(trainer: Trainer) -> np.ndarray:
    return np.concatenate([p.ravel() for p in trainer.model.params.values()])


# --------------------------------------------------------------------------- config


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


# --------------------------------------------------------------------------- training


def test_same_seed_gives_a_bit_identical_trajectory():
    partial = {"network": {"hidden_layers": [6], "dropout": 0.3}, "optimizer": {"name": "adam"}}
    a, b = make(partial), make(partial)
    a.run_steps(57)
    b.run_steps(20)
    b.run_steps(37)
    assert np.array_equal(flat(a), flat(b))
    c = make({**partial, "seed": 1})
    c.run_steps(57)
    assert not np.array_equal(flat(a), flat(c))


def test_full_batch_step_is_w_minus_lr_grad():
    trainer = make({"batch_size": 10_000, "shuffle": False, "validation_split": 0.0})
    X, y = trainer.training_batch(10_000)
    assert len(y) == 60  # batch_size clamps to the training set
    model = trainer.model.copy()
    model.loss_and_grads(X, y, "cross_entropy")
    expected = {k: p - 0.1 * model.grads[k] for k, p in model.params.items()}
    trainer.run_steps(1)
    for k, p in trainer.model.params.items():
        np.testing.assert_allclose(p, expected[k], rtol=0, atol=1e-15)


def test_unshuffled_mini_batches_walk_the_training_set_in_order():
    trainer = make({"batch_size": 25, "shuffle": False, "validation_split": 0.0})
    X, y = trainer.training_batch(60)
    model = trainer.model.copy()
    for lo, hi in [(0, 25), (25, 50), (50, 60), (0, 25)]:  # last batch short, then wrap
        model.loss_and_grads(X[lo:hi], y[lo:hi], "cross_entropy")
        model.params.flat[...] -= 0.1 * model.grads.flat
    trainer.run_steps(4)
    np.testing.assert_allclose(trainer.model.params.flat, model.params.flat, atol=1e-14)
    assert trainer.step == 4 and trainer.epoch == 1 and len(trainer.history) == 1


def test_epochs_and_history():
    trainer = make()
    assert trainer.steps_per_epoch == math.ceil(42 / 8)  # 60 points, 30% held out
    trainer.run_epochs(3)
    assert trainer.epoch == 3 and trainer.step == 3 * trainer.steps_per_epoch
    assert [h["epoch"] for h in trainer.history] == [1, 2, 3]
    assert {"train_loss", "validation_loss", "train_accuracy", "validation_accuracy"} <= set(
        trainer.history[0]
    )


def test_divergence_rolls_back_to_finite_weights():
    cfg = {
        "dataset": {"name": "plane", "n_points": 50},
        "loss": "mse",
        "optimizer": {"name": "sgd", "learning_rate": 500.0},
        "network": {"hidden_layers": [4], "activation": "relu"},
    }
    trainer = make(cfg)
    before = flat(trainer).copy()
    with np.errstate(all="ignore"):
        result = trainer.run_steps(200)
    assert result.diverged and trainer.diverged and result.steps_done == 0
    assert np.array_equal(flat(trainer), before)  # the weights this call started from
    assert trainer.step == 0
    m = trainer.evaluate()
    assert math.isfinite(m.train_loss) and m.train_accuracy is None


def test_evaluate_matches_predictions():
    trainer = make()
    trainer.run_epochs(20)
    m = trainer.evaluate()
    d = trainer.data
    for idx, acc in [(d.train_idx, m.train_accuracy), (d.val_idx, m.validation_accuracy)]:
        pred = trainer.predict_proba(d.X[idx]).argmax(axis=1)
        assert acc == pytest.approx(np.mean(pred == d.y[idx]), abs=1e-12)
    proba = trainer.predict_proba(d.X[d.val_idx])
    ce = -np.mean(np.log(proba[np.arange(len(d.val_idx)), d.y[d.val_idx]]))
    assert m.validation_loss == pytest.approx(ce, rel=1e-9)


def test_no_validation_split_gives_none():
    m = make({"validation_split": 0.0}).evaluate()
    assert m.validation_loss is None and m.validation_accuracy is None


def test_grid_is_row_major_top_row_first():
    trainer = make()
    g = trainer.grid(16)
    assert g.probabilities.shape == (256, 2)
    points = grid_points(g.domain, 16)
    assert points[0, 1] > points[-1, 1] and points[0, 0] < points[15, 0]
    np.testing.assert_allclose(g.probabilities, trainer.predict_proba(points), atol=1e-12)
    assert [h.shape for h in g.hidden] == [(256, 4), (256, 3)]


def test_reset_reproduces_a_fresh_trainer():
    trainer = make()
    trainer.run_steps(30)
    trainer.reset()
    fresh = make()
    assert np.array_equal(flat(trainer), flat(fresh)) and trainer.step == 0
    trainer.run_steps(30)
    fresh.run_steps(30)
    assert np.array_equal(flat(trainer), flat(fresh))


def test_warm_start_keeps_model_and_normalization():
    trainer = make()
    trainer.run_steps(20)
    doc = trainer.model_document()
    warm = Trainer(TrainConfig.from_dict(merge({"dataset": {"seed": 9}})), doc)
    assert warm.model_document() == doc
    with pytest.raises(ConfigError) as info:
        Trainer(TrainConfig.from_dict(merge({"dataset": {"classes": 3}})), doc)
    assert info.value.field == "initial_model"


# --------------------------------------------------------------------------- live edits


def test_hyper_parameter_edit_keeps_weights_and_state():
    trainer = make({"optimizer": {"name": "momentum"}})
    trainer.run_steps(10)
    w = flat(trainer).copy()
    opt = trainer.optimizer
    changed = trainer.reconfigure(trainer.config.merged({"optimizer": {"learning_rate": 0.05}}))
    assert changed == {"optimizer.learning_rate"}
    assert trainer.optimizer is opt and opt.hparams["learning_rate"] == 0.05
    assert np.array_equal(flat(trainer), w)


def test_optimizer_switch_keeps_weights():
    trainer = make()
    trainer.run_steps(10)
    w = flat(trainer).copy()
    trainer.reconfigure(trainer.config.merged({"optimizer": {"name": "adam"}}))
    assert trainer.optimizer.name == "adam" and np.array_equal(flat(trainer), w)


def test_adding_units_and_layers_keeps_existing_weights():
    trainer = make()
    trainer.run_steps(10)
    W0 = trainer.model.params["dense0.W"].copy()
    changed = trainer.reconfigure(trainer.config.merged({"network": {"hidden_layers": [5, 3]}}))
    assert "network.hidden_layers" in changed
    assert trainer.model.hidden_layers == [5, 3]
    np.testing.assert_array_equal(trainer.model.params["dense0.W"][:, :4], W0)
    W_out = trainer.model.params["dense2.W"].copy()
    # Removing the first layer keeps the 3-unit layer's outgoing weights.
    trainer.reconfigure(trainer.config.merged({"network": {"hidden_layers": [3]}}))
    assert trainer.model.hidden_layers == [3]
    np.testing.assert_array_equal(trainer.model.params["dense1.W"], W_out)
    trainer.reconfigure(trainer.config.merged({"network": {"activation": ["relu"]}}))
    assert trainer.model.activations == ["relu"]
    assert trainer.run_steps(5).steps_done == 5


def test_feature_edit_keeps_rows_of_remaining_features():
    trainer = make()
    trainer.run_steps(10)
    W = trainer.model.params["dense0.W"].copy()
    new = trainer.config.merged({"network": {"features": ["x2", "x1_x2", "x1"]}})
    trainer.reconfigure(new)
    W2 = trainer.model.params["dense0.W"]
    assert W2.shape == (3, 4)
    np.testing.assert_array_equal(W2[0], W[1])
    np.testing.assert_array_equal(W2[2], W[0])
    assert trainer.model.params["dense1.W"].shape == (4, 3)
    assert trainer.run_steps(3).steps_done == 3
    doc = trainer.model_document()
    assert doc["features"] == ["x2", "x1_x2", "x1"] and len(doc["normalization"]["mean"]) == 3


def test_dataset_edit_regenerates_and_keeps_weights_but_class_change_reinitialises():
    trainer = make()
    trainer.run_steps(10)
    w = flat(trainer).copy()
    trainer.reconfigure(trainer.config.merged({"dataset": {"noise": 0.3}}))
    X, _ = generate("circle", 60, 0.3, 2, 1)
    np.testing.assert_array_equal(trainer.data.X, X)
    assert np.array_equal(flat(trainer), w)
    trainer.reconfigure(trainer.config.merged({"dataset": {"classes": 3}}))
    assert trainer.model.n_outputs == 3 and trainer.step == 0


def test_seed_and_init_edits_reinitialise():
    trainer = make()
    trainer.run_steps(10)
    trainer.reconfigure(trainer.config.merged({"seed": 5}))
    assert np.array_equal(flat(trainer), flat(make({"seed": 5})))
    trainer.reconfigure(trainer.config.merged({"network": {"init": "he"}}))
    assert np.array_equal(flat(trainer), flat(make({"seed": 5, "network": {"init": "he"}})))


def test_point_edits():
    trainer = make()
    n = len(trainer.data.y)
    trainer.add_point([1.0, 1.0], 1)
    assert len(trainer.data.y) == n + 1 and trainer.data.train_idx[-1] == n
    with pytest.raises(ConfigError) as info:
        trainer.add_point([0.0, 0.0], 2)
    assert info.value.field == "label"
    assert trainer.remove_point([1.0, 1.0], radius=0.01) == n
    assert trainer.remove_point([100.0, 100.0], radius=0.01) is None
    trainer.set_data(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    assert trainer.run_steps(5).steps_done == 0 and trainer.data.classes == 2
    trainer.add_point([1.0, 0.0], 0)
    trainer.add_point([-1.0, 0.0], 1)
    assert trainer.run_steps(3).steps_done == 3
    trainer.set_data(np.array([[0, 0], [1, 1], [2, 2.0]]), np.array([0, 1, 2]))
    assert trainer.model.n_outputs == 3


def test_expand_matches_inputs():
    trainer = make({"network": {"features": ["x1", "sin_x2"], "normalize": False}})
    X, _ = trainer.training_batch(5)
    d = trainer.data
    np.testing.assert_array_equal(X, expand(d.X[d.train_idx[:5]], ["x1", "sin_x2"]))
