"""The reconfiguration part: live edits keep weights where they fit, reset where they must."""

from __future__ import annotations

import numpy as np

from mlp_playground.data.datasets import generate
from mlp_playground.nn.model import MLP
from mlp_playground.training.reconfigure import config_diff, reshape_hidden
from tests.training.training_helpers import flat, make


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
    resets = trainer.resets
    trainer.reconfigure(trainer.config.merged({"seed": 5}))
    assert np.array_equal(flat(trainer), flat(make({"seed": 5})))
    trainer.reconfigure(trainer.config.merged({"network": {"init": "he"}}))
    assert np.array_equal(flat(trainer), flat(make({"seed": 5, "network": {"init": "he"}})))
    assert trainer.resets == resets + 2


def test_no_change_changes_nothing():
    trainer = make()
    trainer.run_steps(4)
    w, opt = flat(trainer).copy(), trainer.optimizer
    assert trainer.reconfigure(trainer.config.merged({})) == set()
    assert trainer.optimizer is opt and np.array_equal(flat(trainer), w) and trainer.step == 4


def test_config_diff_and_reshape_hidden():
    assert config_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == {"a.c", "d"}
    model = MLP(2, [4, 2], 2, seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    reshape_hidden(model, [4, 2], [4, 3, 2])  # an insertion at position 1
    assert model.hidden_layers == [4, 3, 2]
    np.testing.assert_array_equal(model.params["dense0.W"], before["dense0.W"])
    np.testing.assert_array_equal(model.params["dense3.W"], before["dense2.W"])
    reshape_hidden(model, [4, 3, 2], [4, 2])  # and deleting it again
    assert model.hidden_layers == [4, 2]
    np.testing.assert_array_equal(model.params["dense2.W"], before["dense2.W"])
