"""The model: losses, initial loss, determinism, dropout, predictions, statistics, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_data import circles, spiral, train, xor

from mlp_playground.nn import activations as act
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import cross_entropy, hinge, mse, softmax
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer


# ---------------------------------------------------------------- losses
def test_cross_entropy_hand_values_two_and_three_classes():
    s = np.array([[2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0])
    loss, d = cross_entropy(s, y)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.e)) / 2
    assert loss == pytest.approx(expected, rel=1e-14)
    p0 = 1 / (1 + math.exp(-2))
    np.testing.assert_allclose(d[0], [(p0 - 1) / 2, (1 - p0) / 2], rtol=1e-13)
    s3 = np.array([[1.0, 2.0, 3.0]])
    loss3, d3 = cross_entropy(s3, np.array([2]))
    z = math.exp(1) + math.exp(2) + math.exp(3)
    assert loss3 == pytest.approx(-math.log(math.exp(3) / z), rel=1e-14)
    np.testing.assert_allclose(d3[0], [math.e / z, math.e**2 / z, math.e**3 / z - 1], rtol=1e-13)


def test_hinge_hand_values_and_pytorch_scale():
    s = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0]])  # CS231n's example scores
    y = np.array([0, 1])
    loss, d = hinge(s, y)
    # sample 0: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9; sample 1: 0
    assert loss == pytest.approx(2.9 / 2)
    np.testing.assert_allclose(d, [[-0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    # torch.nn.MultiMarginLoss would give (2.9 / 3 + 0) / 2


def test_mse_definition():
    s = np.array([[1.0], [3.0]])
    loss, d = mse(s, np.array([0.0, 1.0]))
    assert loss == pytest.approx((0.5 * 1 + 0.5 * 4) / 2)
    np.testing.assert_allclose(d, [[0.5], [1.0]])


@pytest.mark.parametrize("k", [2, 3])
def test_losses_are_stable_for_huge_scores(k):
    s = np.zeros((4, k))
    s[:, 0], s[:, 1] = 1e4, -1e4
    y = np.array([0, 1, 1, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        for fn in (cross_entropy, hinge):
            loss, d = fn(s, y)
            assert math.isfinite(loss) and np.isfinite(d).all()
        ce, _ = cross_entropy(s, y)
        assert ce == pytest.approx(2e4 / 2)  # two samples are off by 2e4, two are right
        p = softmax(s)
        assert np.isfinite(p).all() and p[0, 0] == 1.0 and p[1, 1] == 0.0


def test_two_class_softmax_equals_general_softmax():
    s = np.random.default_rng(0).normal(size=(50, 2)) * 10
    e = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax(s), e / e.sum(axis=1, keepdims=True), atol=1e-15)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values_and_derivatives(name):
    z = np.array([[-3.0, -0.5, -1e-3, 1e-3, 0.7, 4.0]]).T  # a batch of 6, one unit
    alpha = np.array([0.25])
    reference = {
        "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": np.tanh(z),
        "relu": np.maximum(z, 0),
        "leaky_relu": np.where(z > 0, z, 0.01 * z),
        "prelu": np.where(z > 0, z, 0.25 * z),
        "elu": np.where(z > 0, z, np.exp(z) - 1),
        "linear": z,
    }[name]
    np.testing.assert_allclose(act.apply(name, z, alpha), reference, rtol=1e-12, atol=1e-15)
    fwd, bwd = act.FUNCTIONS[name]
    a, aux = fwd(z.copy(), alpha)
    h = 1e-7
    numerical = (act.apply(name, z + h, alpha) - act.apply(name, z - h, alpha)) / (2 * h)
    galpha = np.zeros(1)
    analytic = bwd(np.ones_like(z), a, aux, alpha, galpha)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)
    if name == "prelu":
        assert galpha[0] == pytest.approx(np.minimum(z, 0).sum())


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="valid: sigmoid, tanh, relu"):
        MLP(2, [3], 2, activation="swish")


# ---------------------------------------------------------------- initial loss
@pytest.mark.parametrize("k", range(2, 9))
def test_initial_cross_entropy_is_ln_k_with_gaussian_init(k):
    rng = np.random.default_rng(k)
    X = rng.normal(size=(400, 2)) * 3
    y = np.arange(400) % k
    model = MLP(2, [8, 8], k, activation="tanh", init="gaussian", seed=k)
    result = model.loss_and_grads(X, y, train=False)
    assert abs(result.data_loss - math.log(k)) < 0.02


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize(
    ("data", "steps"),
    [(xor, 1500), (circles, 1500), (spiral, 6000)],
    ids=["xor", "circles", "spiral"],
)
def test_training_reaches_97_percent(data, steps, optimizer):
    X, y = data()
    model = MLP(2, [32, 32], 2, activation="tanh", seed=0)
    before = (model.predict_proba(X).argmax(axis=1) == y).mean()
    assert train(model, X, y, optimizer, steps) >= 0.97
    assert before < 0.9  # the data is not trivially separated by the initial net


def test_same_seed_gives_bit_identical_trajectory():
    X, y = spiral(100)

    def run(seed):
        model = MLP(2, [8, 8], 2, activation="relu", dropout=0.2, seed=seed)
        opt = make_optimizer("adam")
        for i in range(50):
            sl = slice((i * 10) % 100, (i * 10) % 100 + 10)
            model.loss_and_grads(X[sl], y[sl], regularization="l2", strength=1e-3)
            opt.step(model.params, model.grads)
        return model.params.flat.copy()

    a, b, c = run(5), run(5), run(6)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("init", INITIALIZERS)
def test_initialisers_scale_and_zero_biases(init):
    model = MLP(200, [300], 2, init=init, seed=0)
    W = model.params["dense0.W"]
    expected_std = {
        "gaussian": 0.01,
        "xavier": math.sqrt(2 / 500),
        "he": math.sqrt(2 / 200),
        "uniform": math.sqrt(1 / 12),
    }[init]
    assert W.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(W.mean()) < 0.05 * expected_std + 1e-3
    assert not model.params["dense0.b"].any()
    if init == "uniform":
        assert W.min() >= -0.5 and W.max() < 0.5


# ---------------------------------------------------------------- dropout and predictions
def test_dropout_is_inverted_and_off_at_predict_time():
    model = MLP(3, [2000], 1, activation="linear", dropout=0.4, seed=0)
    model.params["dense0.W"] = np.eye(3, 2000) * 0 + 1.0
    model.params["dense1.W"] = np.full((2000, 1), 1 / 2000)
    X = np.ones((1, 3))
    assert model.forward(X)[0, 0] == pytest.approx(3.0, rel=1e-12)  # no dropout, no scaling
    train_out = model.forward(X, train=True)[0, 0]
    assert train_out == pytest.approx(3.0, rel=0.05) and train_out != pytest.approx(3.0, rel=1e-9)
    kept = (model.last_masks[0] > 0).mean()
    assert kept == pytest.approx(0.6, abs=0.04)
    assert set(np.unique(model.last_masks[0])) == {0.0, 1 / 0.6}


def test_fixed_masks_make_training_forward_deterministic():
    model = MLP(2, [5, 5], 2, dropout=0.5, seed=1)
    X = np.random.default_rng(0).normal(size=(4, 2))
    masks = model.make_masks(4, np.random.default_rng(2))
    a = model.forward(X, train=True, masks=masks)
    b = model.forward(X, train=True, masks=masks)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.forward(X))


def test_predict_mc_mean_and_spread():
    X = np.random.default_rng(0).normal(size=(20, 2))
    model = MLP(2, [16], 3, dropout=0.5, seed=0)
    mean, std = model.predict_mc(X, passes=30)
    assert mean.shape == std.shape == (20, 3)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)
    assert (std > 0).all()
    model.dropout = 0.0
    mean0, std0 = model.predict_mc(X, passes=5)
    np.testing.assert_allclose(mean0, model.predict_proba(X))
    assert np.abs(std0).max() < 1e-15


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("activation", ["tanh", "relu", "prelu", "sigmoid"])
def test_float32_grid_path_matches_float64(k, activation):
    model = MLP(2, [16, 16], k, activation=activation, seed=3)
    X = np.random.default_rng(0).uniform(-3, 3, size=(1000, 2))
    p64 = model.predict_proba(X)
    p32 = model.predict_proba(X, dtype=np.float32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=1e-5)
    again = model.predict_proba(X[:10], dtype=np.float32)  # other size: fresh buffers
    np.testing.assert_allclose(again, p64[:10], atol=1e-5)
    proba, hidden = model.predict_proba_and_hidden(X, dtype=np.float32)
    hidden64 = model.hidden_outputs(X)
    for h32, h64 in zip(hidden, hidden64, strict=True):
        np.testing.assert_allclose(h32, h64, atol=1e-5)
    assert proba is not p32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_buffered_inference_with_uneven_widths_keeps_two_layers_of_memory(dtype):
    """The grid paths write layers into two buffers in turn (not one buffer per layer: a
    10 x 256 net on a 100 x 100 grid kept ~100 MB per session that way); uneven widths and
    more layers than buffers must still give the plain forward pass's numbers."""
    acts = ["tanh", "relu", "prelu", "sigmoid", "tanh", "relu"]
    model = MLP(2, [7, 32, 32, 5, 32, 12], 3, activation=acts, seed=1)
    X = np.random.default_rng(2).uniform(-2, 2, size=(3000, 2))  # over BUFFERED_MIN_ROWS
    hidden_ref = [h.copy() for h in model.hidden_outputs(X)]
    p_ref = model.predict_proba(X[:100])  # small: the unbuffered path
    for _ in range(2):  # the second call reuses the buffers
        proba, hidden = model.predict_proba_and_hidden(X, dtype=dtype)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(proba[:100], p_ref, atol=tol)
        for got, want in zip(hidden, hidden_ref, strict=True):
            np.testing.assert_allclose(got, want, atol=tol)
    kept = sum(b.nbytes for bufs in model._buffers.values() for b in bufs)
    assert kept <= (2 + 2 * 32) * 3000 * np.dtype(dtype).itemsize


def test_hidden_outputs_shapes_and_values():
    model = MLP(2, [4, 3], 2, activation=["relu", "tanh"], seed=0)
    X = np.random.default_rng(0).normal(size=(5, 2))
    h0, h1 = model.hidden_outputs(X)
    np.testing.assert_allclose(h0, np.maximum(X @ model.params["dense0.W"], 0))
    np.testing.assert_allclose(h1, np.tanh(h0 @ model.params["dense1.W"]))


# ---------------------------------------------------------------- statistics
def test_layer_stats_saturation_dead_units_and_gradient_norms():
    model = MLP(2, [4, 3, 2], 2, activation=["tanh", "relu", "sigmoid"], seed=0)
    X = np.random.default_rng(0).normal(size=(64, 2))
    y = np.arange(64) % 2
    model.params["dense0.W"] = np.array([[100.0, 0, 0, 0], [0, 0, 0, 0]]) + 0.001
    model.params["dense1.b"] = [-1e3, 0.0, 0.0]  # unit 0 never fires: dead
    model.params["dense2.W"] = model.params["dense2.W"] * 0
    model.params["dense2.b"] = [50.0, 0.0]  # unit 0 pinned at sigmoid(50) = 1
    stats = model.layer_stats(X, y)
    assert [s["layer"] for s in stats] == [0, 1, 2]
    assert [s["activation"] for s in stats] == ["tanh", "relu", "sigmoid"]
    h0 = np.tanh(X @ model.params["dense0.W"])
    assert stats[0]["saturated"] == pytest.approx(np.mean(np.abs(h0) > 0.99))
    assert stats[0]["saturated"] > 0.2
    assert stats[0]["mean"] == pytest.approx(h0.mean()) and stats[0]["std"] == pytest.approx(
        h0.std()
    )
    assert stats[1]["dead"] >= 1 / 3
    assert stats[2]["saturated"] == pytest.approx(0.5)
    model.loss_and_grads(X, y, train=False)
    for s in stats:
        assert s["grad_norm"] == pytest.approx(np.linalg.norm(model.grads[f"dense{s['layer']}.W"]))
        assert len(s["histogram"]["counts"]) == 20 and len(s["histogram"]["edges"]) == 21
        assert sum(s["histogram"]["counts"]) == 64 * s["units"]


# ---------------------------------------------------------------- copy and errors
def test_copy_is_deep_and_keeps_rng_state():
    model = MLP(2, [5], 2, dropout=0.3, seed=0)
    clone = model.copy()
    np.testing.assert_array_equal(clone.params.flat, model.params.flat)
    X = np.ones((3, 2))
    np.testing.assert_array_equal(clone.forward(X, train=True), model.forward(X, train=True))
    clone.params["dense0.W"] = np.zeros((2, 5))
    assert model.params["dense0.W"].any()


def test_params_dict_copies_into_views_and_refuses_new_names():
    model = MLP(2, [3], 2, seed=0)
    view = model.params["dense0.W"]
    model.params["dense0.W"] = np.ones((2, 3))
    assert view is model.params["dense0.W"] and view.sum() == 6.0
    assert model.params.flat[:6].sum() == 6.0
    with pytest.raises(ValueError, match="expected shape"):
        model.params["dense0.W"] = np.ones((3, 3))
    with pytest.raises(KeyError):
        model.params["dense9.W"] = np.ones(1)
    with pytest.raises(TypeError):
        del model.params["dense0.W"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_layers": [3, 0]}, "hidden_layers\\[1\\] must be a positive integer, got 0"),
        ({"hidden_layers": [2.5]}, "positive integer"),
        ({"n_inputs": 0}, "n_inputs"),
        ({"activation": ["tanh"]}, "1 names for 2 hidden layers"),
        ({"init": "zeros"}, "valid: gaussian, xavier, he, uniform"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    args = {"n_inputs": 2, "hidden_layers": [3, 3], "n_outputs": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        MLP(**args)


def test_bad_call_arguments():
    model = MLP(2, [3], 3, seed=0)
    X = np.zeros((4, 2))
    y = np.array([0, 1, 2, 1])
    with pytest.raises(ValueError, match="NaN"):
        model.loss_and_grads(np.array([[0.0, np.nan]] * 4), y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict_proba([[np.inf, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        model.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        model.loss_and_grads(X, np.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        model.loss_and_grads(X, np.array([0, -1, 2, 1]))
    with pytest.raises(ValueError, match="integer class labels"):
        model.loss_and_grads(X, np.array([0, 0.5, 2, 1]))
    with pytest.raises(ValueError, match="valid: cross_entropy, hinge, mse"):
        model.loss_and_grads(X, y, loss="l2")
    with pytest.raises(ValueError, match="valid: none, l1, l2"):
        model.loss_and_grads(X, y, regularization="dropout", strength=0.1)
    with pytest.raises(ValueError, match="strength"):
        model.loss_and_grads(X, y, regularization="l2", strength=-1.0)
    with pytest.raises(ValueError, match="passes"):
        model.predict_mc(X, passes=0)


def test_regression_model_with_mse():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(100, 2))
    t = X[:, 0] - 0.5 * X[:, 1]
    model = MLP(2, [8], 1, activation="tanh", seed=0)
    opt = make_optimizer("adam", learning_rate=0.02)
    first = model.loss_and_grads(X, t, loss="mse").data_loss
    for _ in range(500):
        model.loss_and_grads(X, t, loss="mse")
        opt.step(model.params, model.grads)
    last = model.loss_and_grads(X, t[:, None], loss="mse").data_loss
    assert last < first / 50
    with pytest.raises(ValueError, match="targets"):
        model.loss_and_grads(X, np.zeros(99), loss="mse")


def test_deepcopy_and_pickle_rebuild_aliasing_views():
    import copy
    import pickle

    model = MLP(2, [4], 2, activation="prelu", dropout=0.2, seed=0)
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = np.arange(6) % 2
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.params.flat.tobytes() == model.params.flat.tobytes()
        opt = make_optimizer("sgd")
        clone.loss_and_grads(X, y)
        opt.step(clone.params, clone.grads)  # flat update must reach the layers' views
        assert clone.layers[0].W is clone.params["dense0.W"]
        assert not np.array_equal(clone.forward(X), model.forward(X))
    pd = copy.deepcopy(model.params)
    assert pd.flat is not model.params.flat and list(pd) == list(model.params)
