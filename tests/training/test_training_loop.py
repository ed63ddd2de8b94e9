"""The loop part: determinism, mini-batches, epochs and history, divergence, evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.training.loop import TrainerLoop
from tests.training.training_helpers import flat, make


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
    assert trainer.epochs_done == 3.0
    trainer.run_steps(2)
    assert trainer.epochs_done == pytest.approx(3 + 16 / 42)


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


def test_stop_condition_on_epochs_ends_the_call_at_that_epoch():
    trainer = make({"stop": {"epochs": 2}})
    result = trainer.run_steps(1000)
    assert result.stopped == "epochs" and trainer.epoch == 2
    assert result.steps_done == 2 * trainer.steps_per_epoch


def test_the_loop_part_runs_on_its_own():
    """The loop is handed the config, model, optimiser and RNG: driving it directly is the
    same as driving the trainer."""
    a, b = make({"optimizer": {"name": "momentum"}}), make({"optimizer": {"name": "momentum"}})
    loop = b.loop
    assert isinstance(loop, TrainerLoop) and loop.feed is b.feed
    a.run_steps(11)
    loop.run_steps(11, b.config, b.model, b.optimizer, b.rng)
    assert np.array_equal(flat(a), flat(b)) and b.step == 11
    assert loop.evaluate(b.config, b.model) == a.evaluate()


def test_loop_state_dict_round_trip_and_bad_state():
    trainer = make()
    trainer.run_epochs(2)
    state = trainer.loop.state_dict()
    other = make().loop
    other.load_state_dict(state)
    assert (other.step, other.epoch, other.history) == (trainer.step, 2, trainer.history)
    state["history"].clear()  # a copy: the trainer's history is untouched
    assert len(trainer.history) == 2
    for bad in ({"epoch": 1}, {"step": -1, "epoch": 0}, {"step": 1.5, "epoch": 0}):
        with pytest.raises(ValueError, match="step"):
            other.load_state_dict(bad)
    assert other.step == trainer.step and len(other.history) == 2
