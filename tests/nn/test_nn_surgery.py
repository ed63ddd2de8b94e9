"""Shape surgery keeps every weight that still has a place, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_playground.nn.gradcheck import gradient_check
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer
from mlp_playground.nn.surgery import Structure, add_layer, remove_unit, set_activation

X = np.random.default_rng(0).normal(size=(12, 2)) * 1.5
Y = np.arange(12) % 3


def trained(activation="tanh", hidden=(4, 5, 3)) -> MLP:
    """A model whose biases and slopes are non-zero, so 'kept' is a real claim."""
    model = MLP(2, list(hidden), 3, activation=activation, seed=1)
    opt = make_optimizer("adam", learning_rate=0.05)
    for _ in range(20):
        model.loss_and_grads(X, Y)
        opt.step(model.params, model.grads)
    return model


def snapshot(model):
    return {k: v.copy() for k, v in model.params.items()}


def same_bits(a, b):
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_gradcheck(model):
    result = gradient_check(model, X, Y)
    assert result.worst_relative_error < 1e-6


def test_add_unit():
    model = trained()
    old = snapshot(model)
    model.add_unit(1)
    assert model.hidden_layers == [4, 6, 3]
    p = model.params
    for name in ("dense0.W", "dense0.b", "dense2.b", "dense3.W", "dense3.b"):
        assert same_bits(p[name], old[name]), name
    assert same_bits(p["dense1.W"][:, :5], old["dense1.W"])
    assert same_bits(p["dense1.b"][:5], old["dense1.b"]) and p["dense1.b"][5] == 0.0
    assert same_bits(p["dense2.W"][:5], old["dense2.W"])
    assert p["dense1.W"][:, 5].any() and p["dense2.W"][5].any()  # drawn, not zero
    assert_gradcheck(model)


def test_remove_unit():
    model = trained()
    old = snapshot(model)
    model.remove_unit(1, 2)
    assert model.hidden_layers == [4, 4, 3]
    keep = [0, 1, 3, 4]
    assert same_bits(model.params["dense1.W"], old["dense1.W"][:, keep])
    assert same_bits(model.params["dense1.b"], old["dense1.b"][keep])
    assert same_bits(model.params["dense2.W"], old["dense2.W"][keep])
    for name in ("dense0.W", "dense0.b", "dense2.b", "dense3.W", "dense3.b"):
        assert same_bits(model.params[name], old[name]), name
    assert_gradcheck(model)


def test_add_layer_in_the_middle():
    model = trained()
    old = snapshot(model)
    model.add_layer(1, 7)
    assert model.hidden_layers == [4, 7, 5, 3]
    p = model.params
    assert same_bits(p["dense0.W"], old["dense0.W"]) and same_bits(p["dense0.b"], old["dense0.b"])
    assert p["dense1.W"].shape == (4, 7) and not p["dense1.b"].any()
    assert p["dense2.W"].shape == (7, 5)  # inputs changed: freshly drawn
    assert same_bits(p["dense2.b"], old["dense1.b"])  # the units above keep their biases
    for new, was in (("dense3", "dense2"), ("dense4", "dense3")):
        assert same_bits(p[new + ".W"], old[was + ".W"])
        assert same_bits(p[new + ".b"], old[was + ".b"])
    assert_gradcheck(model)


def test_add_layer_at_both_ends_and_remove_layer():
    model = trained(hidden=(4, 5))
    old = snapshot(model)
    model.add_layer(2, 3, activation="relu")
    assert model.hidden_layers == [4, 5, 3] and model.activations == ["tanh", "tanh", "relu"]
    assert same_bits(model.params["dense1.W"], old["dense1.W"])
    assert same_bits(model.params["dense3.b"], old["dense2.b"])
    model.add_layer(0, 2)
    assert model.hidden_layers == [2, 4, 5, 3]
    assert same_bits(model.params["dense2.W"], old["dense1.W"])
    assert_gradcheck(model)
    before = snapshot(model)
    model.remove_layer(1)
    assert model.hidden_layers == [2, 5, 3]
    assert same_bits(model.params["dense0.W"], before["dense0.W"])
    assert model.params["dense1.W"].shape == (2, 5)
    assert same_bits(model.params["dense1.b"], before["dense2.b"])
    assert same_bits(model.params["dense2.W"], before["dense3.W"])
    assert same_bits(model.params["dense3.W"], before["dense4.W"])
    assert_gradcheck(model)


def test_set_activation_adds_and_removes_prelu_slopes():
    model = trained()
    old = snapshot(model)
    model.set_activation(1, "prelu")
    assert model.activations == ["tanh", "prelu", "tanh"]
    np.testing.assert_array_equal(model.params["dense1.alpha"], 0.25)
    for name, value in old.items():
        assert same_bits(model.params[name], value), name
    opt = make_optimizer("sgd")
    model.loss_and_grads(X, Y)
    opt.step(model.params, model.grads)
    assert (model.params["dense1.alpha"] != 0.25).any()
    assert_gradcheck(model)
    before = snapshot(model)
    model.set_activation(1, "relu")
    assert "dense1.alpha" not in model.params
    for name, value in before.items():
        if name != "dense1.alpha":
            assert same_bits(model.params[name], value), name


def test_surgery_draws_from_the_model_rng_deterministically():
    a, b = trained(), trained()
    for m in (a, b):
        m.add_unit(0)
        m.add_layer(1, 3)
        m.remove_unit(2, 0)
    assert a.params.flat.tobytes() == b.params.flat.tobytes()


def test_training_continues_after_surgery():
    model = trained()
    opt = make_optimizer("momentum")
    model.loss_and_grads(X, Y)
    opt.step(model.params, model.grads)
    model.add_unit(0)
    model.remove_layer(2)
    first = model.loss_and_grads(X, Y).total_loss
    for _ in range(200):
        model.loss_and_grads(X, Y)
        opt.step(model.params, model.grads)
    assert model.loss_and_grads(X, Y).total_loss < first


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.add_unit(3), "hidden layer index in 0..2"),
        (lambda m: m.add_unit(-1), "0..2"),
        (lambda m: m.remove_unit(0, 4), "unit index must be in 0..3"),
        (lambda m: m.add_layer(4, 3), "position must be in 0..3"),
        (lambda m: m.add_layer(1, 0), "units must be a positive integer"),
        (lambda m: m.add_layer(1, 3, activation="gelu"), "valid: sigmoid"),
        (lambda m: m.remove_layer(3), "position"),
        (lambda m: m.set_activation(0, "softmax"), "valid: sigmoid"),
    ],
)
def test_bad_surgery_arguments(call, match):
    model = trained()
    before = model.params.flat.copy()
    with pytest.raises(ValueError, match=match):
        call(model)
    np.testing.assert_array_equal(model.params.flat, before)


def test_cannot_remove_the_last_unit():
    model = MLP(2, [1], 2, seed=0)
    with pytest.raises(ValueError, match="last unit"):
        model.remove_unit(0, 0)
    model.remove_layer(0)
    assert model.hidden_layers == [] and model.params["dense0.W"].shape == (2, 2)
    assert_gradcheck_linear(model)


def assert_gradcheck_linear(model):
    y = np.arange(12) % 2
    assert gradient_check(model, X, y).worst_relative_error < 1e-6


def test_prelu_units_keep_and_get_slopes():
    model = trained("prelu", hidden=(4, 3))
    old = snapshot(model)
    assert (old["dense0.alpha"] != 0.25).all()  # learned
    model.add_unit(0)
    assert same_bits(model.params["dense0.alpha"][:4], old["dense0.alpha"])
    assert model.params["dense0.alpha"][4] == 0.25
    model.remove_unit(0, 1)
    assert same_bits(model.params["dense0.alpha"], np.r_[old["dense0.alpha"][[0, 2, 3]], 0.25])
    model.add_layer(1, 2)  # takes the neighbour's activation: prelu, fresh slopes
    assert model.activations == ["prelu", "prelu", "prelu"]
    np.testing.assert_array_equal(model.params["dense1.alpha"], 0.25)
    assert same_bits(model.params["dense2.alpha"], old["dense1.alpha"])


def test_the_edits_are_functions_of_structure_and_arrays():
    """nn.surgery works on a Structure and a dict of arrays, without a model: the arrays
    it is given are left alone, and an edit that changes nothing says so (None)."""
    s = Structure(2, (3, 2), ("tanh", "relu"), 2)
    arrays = {
        "dense0.W": np.arange(6.0).reshape(2, 3),
        "dense0.b": np.array([1.0, 2.0, 3.0]),
        "dense1.W": np.arange(6.0).reshape(3, 2),
        "dense1.b": np.array([4.0, 5.0]),
        "dense2.W": np.ones((2, 2)),
        "dense2.b": np.zeros(2),
    }
    given = {k: v.copy() for k, v in arrays.items()}
    drawn = []

    def draw(shape, fan_in, fan_out):
        drawn.append((shape, fan_in, fan_out))
        return np.full(shape, -1.0)

    new, out = remove_unit(s, arrays, 0, 1)
    assert new == Structure(2, (2, 2), ("tanh", "relu"), 2) and not drawn
    assert out["dense0.W"].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    assert out["dense1.W"].tolist() == [[0.0, 1.0], [4.0, 5.0]]
    new, out = add_layer(s, arrays, draw, 1, 4, "sigmoid")
    assert new.hidden == (3, 4, 2) and new.activations == ("tanh", "sigmoid", "relu")
    assert drawn == [((3, 4), 3, 4), ((4, 2), 4, 2)]
    assert "dense1.b" not in out  # the new layer's biases are the model's to fill (zeros)
    assert out["dense2.b"].tolist() == [4.0, 5.0] and out["dense3.W"].tolist() == [[1, 1]] * 2
    assert set_activation(s, arrays, 1, "relu") is None
    for name, value in given.items():
        assert same_bits(arrays[name], value), name


def test_a_model_edit_that_changes_nothing_keeps_its_buffers():
    model = trained()
    flat = model.params.flat
    model.set_activation(0, "tanh")
    assert model.params.flat is flat
    assert model.structure == Structure(2, (4, 5, 3), ("tanh",) * 3, 3)
