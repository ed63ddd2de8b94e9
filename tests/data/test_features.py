"""Input features and standardisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.data.features import FEATURES, Normalization, check_features, expand

X = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, -1.0]])


def test_feature_names():
    assert FEATURES == ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]


def test_expand_all_features_by_hand():
    F = expand(X, FEATURES)
    expected = [
        [1.0, 2.0, 1.0, 4.0, 2.0, math.sin(1.0), math.sin(2.0)],
        [-3.0, 0.5, 9.0, 0.25, -1.5, math.sin(-3.0), math.sin(0.5)],
        [0.0, -1.0, 0.0, 1.0, -0.0, 0.0, math.sin(-1.0)],
    ]
    assert F.shape == (3, 7) and F.dtype == np.float64
    np.testing.assert_allclose(F, expected, rtol=0, atol=1e-15)


def test_expand_keeps_the_requested_order_and_reuses_out():
    F = expand(X, ["x1_x2", "x1"])
    np.testing.assert_array_equal(F, [[2.0, 1.0], [-1.5, -3.0], [0.0, 0.0]])
    out = np.full((3, 2), np.nan)
    assert expand(X, ["x2_squared", "sin_x2"], out=out) is out
    np.testing.assert_allclose(out[:, 0], [4.0, 0.25, 1.0])
    np.testing.assert_allclose(out[:, 1], np.sin([2.0, 0.5, -1.0]))


def test_expand_dtype_follows_points():
    assert expand(X.astype(np.float32), ["x1", "x1_squared"]).dtype == np.float32
    assert expand(np.array([[1, 2]]), ["x1_x2"]).dtype == np.float64
    assert expand(np.array([[1, 2]]), ["x1_x2"])[0, 0] == 2.0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "at least one of x1, x2, x1_squared"),
        (["x1", "x3"], "unknown feature 'x3'; valid features are x1, x2, x1_squared"),
        (["x1", "x2", "x1"], "feature 'x1' is listed more than once"),
        ("x1", "must be a list"),
    ],
)
def test_bad_feature_lists(names, message):
    with pytest.raises(ValueError, match=message):
        expand(X, names)
    with pytest.raises(ValueError, match=message):
        check_features(names)


def test_expand_rejects_wrong_point_shape():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        expand(np.zeros((4, 3)), ["x1"])


def test_normalization_fit_apply():
    F = np.array([[1.0, 10.0, 5.0], [3.0, 10.0, 5.0], [5.0, 10.0, 5.0]])
    norm = Normalization.fit(F)
    np.testing.assert_allclose(norm.mean, [3.0, 10.0, 5.0])
    # Population std of 1,3,5 is sqrt(8/3); constant columns get std 1 (centred only).
    np.testing.assert_allclose(norm.std, [math.sqrt(8 / 3), 1.0, 1.0])
    Z = norm.apply(F)
    np.testing.assert_allclose(Z[:, 0], np.array([-2.0, 0.0, 2.0]) / math.sqrt(8 / 3))
    np.testing.assert_array_equal(Z[:, 1:], 0.0)
    assert np.isfinite(norm.apply(np.array([[0.0, 11.0, 4.0]]))).all()
    # Standardised training data has mean 0 and std 1 in every varying column.
    rng = np.random.default_rng(0)
    G = rng.normal(4.0, 3.0, (500, 2))
    Zg = Normalization.fit(G).apply(G)
    np.testing.assert_allclose(Zg.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Zg.std(axis=0), 1.0)


def test_normalization_apply_in_place_and_float32():
    norm = Normalization(np.array([1.0, 2.0]), np.array([2.0, 4.0]))
    F = np.array([[3.0, 6.0], [1.0, 2.0]])
    assert norm.apply(F, out=F) is F
    np.testing.assert_array_equal(F, [[1.0, 1.0], [0.0, 0.0]])
    F32 = np.array([[3.0, 6.0]], dtype=np.float32)
    out = norm.apply(F32)
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 1.0]]
    with pytest.raises(ValueError, match="expected 2 features"):
        norm.apply(np.zeros((1, 3)))


def test_normalization_dict_round_trip_and_validation():
    norm = Normalization.fit(expand(X, ["x1", "x2", "x1_x2"]))
    d = norm.to_dict()
    assert set(d) == {"mean", "std"} and all(type(v) is float for v in d["mean"] + d["std"])
    back = Normalization.from_dict(d, n_features=3)
    np.testing.assert_array_equal(back.mean, norm.mean)
    np.testing.assert_array_equal(back.std, norm.std)
    assert Normalization.identity(2).to_dict() == {"mean": [0.0, 0.0], "std": [1.0, 1.0]}

    bad = [
        ({"mean": [0.0], "std": [1.0, 1.0]}, None, "normalization.std: expected 1 values, got 2"),
        ({"mean": [0.0, 0.0], "std": [1.0, 1.0]}, 3, "normalization.mean: expected 3 values"),
        (
            {"mean": [0.0, float("nan")], "std": [1, 1]},
            None,
            r"normalization.mean\[1\] must be finite",
        ),
        ({"mean": [0.0], "std": [float("inf")]}, None, r"normalization.std\[0\] must be finite"),
        ({"mean": [0.0], "std": [0.0]}, None, r"normalization.std\[0\] must be > 0"),
        ({"mean": [0.0], "std": ["1"]}, None, r"normalization.std\[0\] must be a number"),
        ({"mean": [0.0]}, None, "normalization.std must be a list"),
        ([0.0, 1.0], None, "must be an object"),
    ]
    for doc, n, message in bad:
        with pytest.raises(ValueError, match=message):
            Normalization.from_dict(doc, n_features=n)


def test_fit_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        Normalization.fit(np.zeros((0, 2)))
