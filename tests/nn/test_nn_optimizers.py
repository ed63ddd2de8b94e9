"""Each optimiser against values worked out by hand (torch.optim's formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import OPTIMIZERS, make_optimizer

W0 = (1.0, -2.0)
G1 = (0.5, -2.0)
G2 = (-0.25, 1.0)
LR = 0.1


def hand_values(name: str) -> list[tuple[float, float]]:
    """(after step 1, after step 2) per element, written out from the update formulas."""
    out = []
    for w0, g1, g2 in zip(W0, G1, G2, strict=True):
        if name == "sgd":
            w1 = w0 - LR * g1
            w2 = w1 - LR * g2
        elif name == "momentum":
            v1 = g1  # 0.9 * 0 + g1
            w1 = w0 - LR * v1
            v2 = 0.9 * v1 + g2
            w2 = w1 - LR * v2
        elif name == "nesterov":
            v1 = g1
            w1 = w0 - LR * (g1 + 0.9 * v1)
            v2 = 0.9 * v1 + g2
            w2 = w1 - LR * (g2 + 0.9 * v2)
        elif name == "adagrad":
            s1 = g1**2
            w1 = w0 - LR * g1 / (math.sqrt(s1) + 1e-10)
            s2 = s1 + g2**2
            w2 = w1 - LR * g2 / (math.sqrt(s2) + 1e-10)
        elif name == "rmsprop":
            s1 = 0.01 * g1**2
            w1 = w0 - LR * g1 / (math.sqrt(s1) + 1e-8)
            s2 = 0.99 * s1 + 0.01 * g2**2
            w2 = w1 - LR * g2 / (math.sqrt(s2) + 1e-8)
        else:  # adam; t = 1: bias corrections 0.1 and 0.001 make the step lr * sign(g)
            m1, v1 = 0.1 * g1, 0.001 * g1**2
            w1 = w0 - LR * (m1 / 0.1) / (math.sqrt(v1) / math.sqrt(0.001) + 1e-8)
            assert w1 == pytest.approx(w0 - LR * math.copysign(1.0, g1), abs=1e-8)
            m2, v2 = 0.9 * m1 + 0.1 * g2, 0.999 * v1 + 0.001 * g2**2
            bc1, bc2 = 1 - 0.9**2, 1 - 0.999**2  # 0.19 and 0.001999
            w2 = w1 - LR * (m2 / bc1) / (math.sqrt(v2) / math.sqrt(bc2) + 1e-8)
        out.append((w1, w2))
    return out


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_two_steps_plain_dicts(name):
    opt = make_optimizer(name, learning_rate=LR)
    params = {"w": np.array(W0)}
    expected = hand_values(name)
    opt.step(params, {"w": np.array(G1)})
    np.testing.assert_allclose(params["w"], [e[0] for e in expected], rtol=1e-12, atol=1e-14)
    opt.step(params, {"w": np.array(G2)})
    np.testing.assert_allclose(params["w"], [e[1] for e in expected], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_two_steps_on_a_model_flat_buffer(name):
    model = MLP(1, [], 1, seed=0)  # one weight and one bias: dense0.W (1, 1), dense0.b (1,)
    model.params["dense0.W"] = [[W0[0]]]
    model.params["dense0.b"] = [W0[1]]
    opt = make_optimizer(name, learning_rate=LR)
    expected = hand_values(name)
    for step, g in enumerate((G1, G2)):
        model.grads["dense0.W"] = [[g[0]]]
        model.grads["dense0.b"] = [g[1]]
        opt.step(model.params, model.grads)
        got = [model.params["dense0.W"][0, 0], model.params["dense0.b"][0]]
        np.testing.assert_allclose(got, [e[step] for e in expected], rtol=1e-12, atol=1e-14)


def test_adam_bias_correction_values():
    """At t = 1 the corrected moments are exactly g and g^2; at t = 2 they divide by
    0.19 and 0.001999."""
    opt = make_optimizer("adam", learning_rate=1.0, epsilon=1e-300)
    params = {"w": np.array([0.0])}
    opt.step(params, {"w": np.array([3.0])})
    assert params["w"][0] == pytest.approx(-1.0, rel=1e-12)
    opt.step(params, {"w": np.array([1.0])})
    m = 0.9 * 0.3 + 0.1 * 1.0
    v = 0.999 * 0.009 + 0.001 * 1.0
    assert params["w"][0] == pytest.approx(-1.0 - (m / 0.19) / math.sqrt(v / 0.001999), rel=1e-12)
    assert opt.steps == {"w": 2}


def test_set_keeps_state_reset_clears_it():
    opt = make_optimizer("momentum", learning_rate=1.0)
    params = {"w": np.array([0.0])}
    opt.step(params, {"w": np.array([1.0])})  # v = 1, w = -1
    opt.set(learning_rate=0.5, momentum=0.5)
    opt.step(params, {"w": np.array([1.0])})  # v = 0.5 * 1 + 1 = 1.5, w = -1 - 0.75
    assert params["w"][0] == pytest.approx(-1.75)
    assert opt.hparams == {"learning_rate": 0.5, "momentum": 0.5}
    opt.reset()
    opt.step(params, {"w": np.array([1.0])})  # v = 1 again
    assert params["w"][0] == pytest.approx(-2.25)


def test_state_is_keyed_by_name_and_dropped_on_shape_change():
    model = MLP(2, [3, 3], 2, seed=0)
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    opt = make_optimizer("adam")
    for _ in range(3):
        model.loss_and_grads(X, y)
        opt.step(model.params, model.grads)
    kept = {k: {s: a.copy() for s, a in v.items()} for k, v in opt.state.items()}
    model.add_unit(1)  # dense1.W, dense1.b, dense2.W change shape; dense0.* do not
    model.loss_and_grads(X, y)
    opt.step(model.params, model.grads)
    steps = opt.steps
    assert steps["dense0.W"] == steps["dense0.b"] == steps["dense2.b"] == 4
    assert steps["dense1.W"] == steps["dense1.b"] == steps["dense2.W"] == 1
    g = model.grads["dense1.W"]
    np.testing.assert_allclose(opt.state["dense1.W"]["m"], 0.1 * g, rtol=1e-14)
    g0 = model.grads["dense0.W"]
    np.testing.assert_allclose(opt.state["dense0.W"]["m"], 0.9 * kept["dense0.W"]["m"] + 0.1 * g0)


def test_adam_after_surgery_equals_independent_per_parameter_runs():
    """With parameters at different step counts, each gets its own bias correction."""
    model = MLP(2, [3], 2, seed=0)
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    opt = make_optimizer("adam", learning_rate=0.05)
    model.loss_and_grads(X, y)
    opt.step(model.params, model.grads)
    model.add_unit(0)
    model.loss_and_grads(X, y)
    grads = {k: v.copy() for k, v in model.grads.items()}
    before = {k: v.copy() for k, v in model.params.items()}
    state = {k: {s: a.copy() for s, a in v.items()} for k, v in opt.state.items()}
    steps = opt.steps
    opt.step(model.params, model.grads)
    for name, p in model.params.items():
        old = state[name]
        if old["m"].shape != p.shape:  # dropped: starts afresh at t = 1
            old, t = {"m": 0.0, "v": 0.0}, 1
        else:
            t = steps[name] + 1
        assert t == (1 if name in ("dense0.W", "dense0.b", "dense1.W") else 2)
        m = 0.9 * old["m"] + 0.1 * grads[name]
        v = 0.999 * old["v"] + 0.001 * grads[name] ** 2
        expected = before[name] - 0.05 / (1 - 0.9**t) * m / (
            np.sqrt(v) / math.sqrt(1 - 0.999**t) + 1e-8
        )
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15, err_msg=name)


def test_defaults_and_names():
    assert set(OPTIMIZERS) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
    assert OPTIMIZERS["momentum"]["momentum"] == 0.9
    assert OPTIMIZERS["adagrad"]["epsilon"] == 1e-10
    assert OPTIMIZERS["rmsprop"]["decay_rate"] == 0.99
    assert OPTIMIZERS["rmsprop"]["epsilon"] == 1e-8
    assert (OPTIMIZERS["adam"]["beta1"], OPTIMIZERS["adam"]["beta2"]) == (0.9, 0.999)
    assert make_optimizer("adam", learning_rate=0.5).hparams["learning_rate"] == 0.5


@pytest.mark.parametrize(
    ("name", "hp", "match"),
    [
        ("adamw", {}, "valid: sgd, momentum"),
        ("sgd", {"learning_rate": -0.1}, "learning_rate"),
        ("sgd", {"learning_rate": 0.0}, "learning_rate"),
        ("sgd", {"learning_rate": float("nan")}, "learning_rate"),
        ("sgd", {"momentum": 0.9}, "valid: learning_rate"),
        ("momentum", {"momentum": 1.0}, "momentum"),
        ("adam", {"beta1": 1.0}, "beta1"),
        ("adam", {"beta2": -0.1}, "beta2"),
        ("adam", {"epsilon": 0.0}, "epsilon"),
        ("rmsprop", {"decay_rate": 1.5}, "decay_rate"),
        ("adagrad", {"learning_rate": "fast"}, "learning_rate"),
    ],
)
def test_bad_hyper_parameters(name, hp, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(name, **hp)


def test_set_rejects_bad_values_and_keeps_old_ones():
    opt = make_optimizer("adam", learning_rate=0.01)
    with pytest.raises(ValueError, match="beta1"):
        opt.set(learning_rate=0.1, beta1=2.0)
    assert opt.hparams["learning_rate"] == 0.01


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_flat_buffer_path_equals_name_by_name_path(name):
    """The fast path (one update over the model's flat buffer) changes nothing numerically."""
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.arange(10) % 3
    fast, slow = MLP(2, [5, 4], 3, seed=0), MLP(2, [5, 4], 3, seed=0)
    opt_fast, opt_slow = make_optimizer(name), make_optimizer(name)
    for _ in range(5):
        fast.loss_and_grads(X, y)
        opt_fast.step(fast.params, fast.grads)
        slow.loss_and_grads(X, y)
        plain = {k: v for k, v in slow.params.items()}  # plain dict of the same views
        opt_slow.step(plain, {k: v for k, v in slow.grads.items()})
    np.testing.assert_allclose(fast.params.flat, slow.params.flat, rtol=1e-14, atol=1e-16)


# --------------------------------------------------------------------------- state_dict


def _grads(model: MLP, rng: np.random.Generator) -> None:
    model.grads.flat[...] = rng.normal(size=model.grads.flat.size)


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["name"] == b["name"] and a["hparams"] == b["hparams"] and a["steps"] == b["steps"]
    assert a["state"].keys() == b["state"].keys()
    for name, slots in a["state"].items():
        assert slots.keys() == b["state"][name].keys()
        for s, v in slots.items():
            np.testing.assert_array_equal(v, b["state"][name][s])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_round_trip_continues_like_the_uninterrupted_optimiser(name):
    """Save after 5 updates, load into a fresh optimiser on a copy of the weights: 7 more
    updates match the uninterrupted run bit for bit (moments and Adam's step counts)."""
    model = MLP(2, [5, 3], 3, seed=0)
    opt = make_optimizer(name, learning_rate=0.05)
    rng = np.random.default_rng(1)
    for _ in range(5):
        _grads(model, rng)
        opt.step(model.params, model.grads)
    saved = opt.state_dict()
    resumed_model = model.copy()
    resumed = make_optimizer(name)  # default hyper-parameters: the state brings its own
    resumed.load_state_dict(saved)
    assert resumed.hparams == opt.hparams
    for _ in range(7):
        _grads(model, rng)
        resumed_model.grads.flat[...] = model.grads.flat
        opt.step(model.params, model.grads)
        resumed.step(resumed_model.params, resumed_model.grads)
    np.testing.assert_array_equal(resumed_model.params.flat, model.params.flat)
    _assert_same_state(resumed.state_dict(), opt.state_dict())


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_state_dict_is_a_copy_and_plain_dict_parameters_resume_too(name):
    opt = make_optimizer(name, learning_rate=LR)
    params = {"w": np.array(W0)}
    opt.step(params, {"w": np.array(G1)})
    saved = opt.state_dict()
    frozen = {k: {s: a.copy() for s, a in v.items()} for k, v in saved["state"].items()}
    other = make_optimizer(name, learning_rate=LR)
    other.load_state_dict(saved)
    p2 = {"w": params["w"].copy()}
    opt.step(params, {"w": np.array(G2)})  # must not move what state_dict returned
    other.step(p2, {"w": np.array(G2)})
    for slot, value in frozen["w"].items():
        np.testing.assert_array_equal(saved["state"]["w"][slot], value)
    np.testing.assert_array_equal(p2["w"], params["w"])
    assert [w2 for _, w2 in hand_values(name)] == pytest.approx(list(params["w"]), abs=1e-12)


def _bad_states() -> list[tuple[str, object, str]]:
    return [
        ("name", "sgd", "for 'sgd'"),
        ("hparams", {"learning_rate": 0.1}, "hparams"),
        ("steps", {}, "steps"),
        ("state.dense0.W", {"m": np.zeros((2, 5))}, "slots"),
        ("state.dense0.W", {"m": np.zeros((2, 5)), "v": np.zeros((5, 2))}, "shapes"),
        ("steps.dense0.W", -1, "non-negative"),
        ("hparams", {"learning_rate": -1.0, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, ">"),
    ]


@pytest.mark.parametrize(("key", "value", "match"), _bad_states())
def test_load_state_dict_rejects_bad_state_and_changes_nothing(key, value, match):
    model = MLP(2, [5], 2, seed=0)
    opt = make_optimizer("adam")
    model.grads.flat[...] = 1.0
    opt.step(model.params, model.grads)
    before = opt.state_dict()
    bad = make_optimizer("adam")
    bad.step(model.copy().params, model.grads)
    state = bad.state_dict()
    if "." in key:  # one parameter's entry: "state.dense0.W"
        section, param = key.split(".", 1)
        state[section][param] = value
    else:
        state[key] = value
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(state)
    missing = {k: v for k, v in before.items() if k != "steps"}
    with pytest.raises(ValueError, match="no 'steps'"):
        opt.load_state_dict(missing)
    _assert_same_state(opt.state_dict(), before)
    # and it still trains from where it was
    opt.step(model.params, model.grads)
    assert set(opt.state_dict()["steps"].values()) == {2}
