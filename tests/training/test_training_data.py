"""The data part: point edits, inputs, sizes, and its own state_dict."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_playground.data.features import expand
from mlp_playground.training.config.checks import ConfigError
from tests.training.training_helpers import make


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


def test_points_added_mid_epoch_join_the_next_epoch():
    trainer = make()
    trainer.run_steps(2)  # mid-epoch
    walked = len(trainer.feed.y_epoch)
    trainer.add_point([0.5, 0.5], 1)
    assert len(trainer.feed.y_epoch) == walked and trainer.n_train == walked + 1
    trainer.run_steps(trainer.steps_per_epoch)
    assert len(trainer.feed.y_epoch) == walked + 1


def test_expand_matches_inputs():
    trainer = make({"network": {"features": ["x1", "sin_x2"], "normalize": False}})
    X, _ = trainer.training_batch(5)
    d = trainer.data
    np.testing.assert_array_equal(X, expand(d.X[d.train_idx[:5]], ["x1", "sin_x2"]))


def test_set_data_with_the_same_classes_keeps_the_weights():
    trainer = make()
    trainer.run_steps(5)
    w = trainer.model.params.flat.copy()
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [-1.0, 0.3]])
    trainer.set_data(X, np.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(trainer.model.params.flat, w)
    assert trainer.config.data is None and len(trainer.data.y) == 4


def test_data_state_dict_round_trip_rebuilds_the_split_matrices():
    trainer = make()
    trainer.run_steps(3)
    trainer.add_point([0.2, -0.4], 0)
    state = trainer.feed.state_dict()
    other = make({"seed": 4}).feed
    other.load_state_dict(state)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_epoch", "y_epoch"):
        np.testing.assert_array_equal(getattr(other, name), getattr(trainer.feed, name))
    assert other.pos == trainer.feed.pos > 0
    assert other.features == trainer.features
    np.testing.assert_array_equal(other.normalization.mean, trainer.normalization.mean)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s.pop("epoch_y"), "epoch_y"),
        (lambda s: s.update(X=np.zeros((5, 3))), r"\(N, 2\)"),
        (lambda s: s.update(train_idx=np.array([0, 10_000])), "train_idx"),
        (lambda s: s.update(epoch_X=np.zeros((30, 5))), "epoch_X"),
        (lambda s: s.update(features=["x1", "nope"]), "features"),
        (lambda s: s.update(pos=10_000), "pos"),
    ],
)
def test_data_load_state_dict_rejects_bad_state_and_changes_nothing(edit, match):
    trainer = make()
    trainer.run_steps(2)
    feed = trainer.feed
    state = feed.state_dict()
    edit(state)
    before = feed.state_dict()
    with pytest.raises(ValueError, match=match):
        feed.load_state_dict(state)
    after = feed.state_dict()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
        elif key != "normalization":
            assert after[key] == value
