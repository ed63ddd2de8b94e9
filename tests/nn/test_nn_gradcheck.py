"""Backprop against centred differences for every activation x loss x regularisation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from nn_data import kink_free_case

from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.gradcheck import gradient_check, relative_error
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.model import MLP
from mlp_playground.nn.regularization import REGULARIZATIONS

CASES = list(itertools.product(ACTIVATIONS, LOSSES, REGULARIZATIONS))


def numerical_gradients(model, X, y, loss, reg, strength, masks, h=1e-5):
    """An independent, deliberately naive check: full forward for every entry."""
    out = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            w = p[idx]
            p[idx] = w + h
            plus = model.loss_and_grads(X, y, loss, reg, strength, masks=masks).total_loss
            p[idx] = w - h
            minus = model.loss_and_grads(X, y, loss, reg, strength, masks=masks).total_loss
            p[idx] = w
            g[idx] = (plus - minus) / (2 * h)
        out[name] = g
    return out


@pytest.mark.parametrize(("activation", "loss", "reg"), CASES)
def test_gradient_check_every_combination_with_dropout(activation, loss, reg):
    model, X, y, _ = kink_free_case(activation, loss, reg, dropout=0.3)
    result = gradient_check(model, X, y, loss, reg, 0.05, rng=np.random.default_rng(7))
    n_params = sum(p.size for p in model.params.values())
    assert len(result.rows) == n_params  # every entry of every tensor
    assert result.worst_relative_error < 1e-6, max(result.rows, key=lambda r: r["relative_error"])
    assert result.passed


@pytest.mark.parametrize("activation", ["tanh", "prelu", "elu"])
def test_backprop_matches_naive_numerical_gradient(activation):
    model, X, y, masks = kink_free_case(activation, "cross_entropy", "l2", dropout=0.25)
    analytic = model.loss_and_grads(X, y, "cross_entropy", "l2", 0.1, masks=masks)
    grads = {k: v.copy() for k, v in model.grads.items()}
    numerical = numerical_gradients(model, X, y, "cross_entropy", "l2", 0.1, masks)
    assert analytic.reg_loss > 0
    for name, g in grads.items():
        err = np.abs(g - numerical[name]) / np.maximum(np.abs(g) + np.abs(numerical[name]), 1e-8)
        assert err.max() < 1e-6, name


def test_prelu_slopes_are_checked_and_learnable():
    model, X, y, _ = kink_free_case("prelu", "cross_entropy", dropout=0.0)
    result = gradient_check(model, X, y)
    slope_rows = [r for r in result.rows if r["parameter"].endswith(".alpha")]
    assert {r["parameter"] for r in slope_rows} == {"dense0.alpha", "dense1.alpha"}
    assert all(r["relative_error"] < 1e-6 for r in slope_rows)
    assert any(abs(r["analytic"]) > 1e-4 for r in slope_rows)  # a real, non-zero gradient


def test_slopes_are_never_regularised():
    model, X, y, _ = kink_free_case("prelu", "cross_entropy")
    model.loss_and_grads(X, y, "cross_entropy", "none", 0.0)
    plain = {k: v.copy() for k, v in model.grads.items()}
    model.loss_and_grads(X, y, "cross_entropy", "l2", 1.0)
    for name, g in model.grads.items():
        if name.endswith(".W"):
            np.testing.assert_allclose(g, plain[name] + model.params[name], atol=1e-15)
        else:
            np.testing.assert_array_equal(g, plain[name])


def test_sampling_rows_and_table_format():
    model = MLP(2, [30, 30], 3, activation="tanh", seed=1)
    X = np.random.default_rng(0).normal(size=(16, 2))
    y = np.arange(16) % 3
    result = gradient_check(model, X, y, max_per_parameter=5, rng=np.random.default_rng(3))
    per_tensor = {}
    for row in result.rows:
        per_tensor[row["parameter"]] = per_tensor.get(row["parameter"], 0) + 1
        assert set(row) == {"parameter", "index", "analytic", "numerical", "relative_error"}
        assert len(row["index"]) == model.params[row["parameter"]].ndim
    assert per_tensor == {name: min(5, p.size) for name, p in model.params.items()}
    assert result.worst_relative_error == max(r["relative_error"] for r in result.rows)


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    """The check must be able to fail: break tanh's derivative and watch it say so."""
    from mlp_playground.nn import activations

    def wrong(da, a, aux, alpha=None, galpha=None):
        return da  # as if tanh' were 1

    monkeypatch.setitem(activations.FUNCTIONS, "tanh", (activations.tanh_forward, wrong))
    model = MLP(2, [4], 2, activation="tanh", seed=0)
    X = np.random.default_rng(0).normal(size=(6, 2)) * 2
    result = gradient_check(model, X, np.array([0, 1, 0, 1, 1, 0]))
    assert not result.passed
    assert result.worst_relative_error > 1e-2


def test_check_restores_weights_and_leaves_model_rng_alone():
    model = MLP(2, [6], 2, seed=4, dropout=0.5)
    before = model.params.flat.copy()
    state = model.rng.bit_generator.state
    X = np.random.default_rng(1).normal(size=(5, 2))
    gradient_check(model, X, np.array([0, 1, 1, 0, 1]))
    np.testing.assert_array_equal(model.params.flat, before)
    assert model.rng.bit_generator.state == state


def test_relative_error_definition():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(2.0, 1.0) == pytest.approx(0.5)
    assert relative_error(-1.0, 1.0) == pytest.approx(2.0)


def test_bad_arguments():
    model = MLP(2, [3], 2, seed=0)
    X, y = np.zeros((2, 2)), np.array([0, 1])
    with pytest.raises(ValueError, match="loss"):
        gradient_check(model, X, y, loss="nope")
    with pytest.raises(ValueError, match="max_per_parameter"):
        gradient_check(model, X, y, max_per_parameter=0)
    with pytest.raises(ValueError, match="regularization"):
        gradient_check(model, X, y, regularization="l3")
