"""Datasets: generators, CSV parsing, the stratified split and the grid domain."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_playground.data.csv_data import DataError, parse_csv, to_csv
from mlp_playground.data.datasets import DATASETS, DOMAIN, data_domain, generate, stratified_split

CLASSIFIERS = [name for name, info in DATASETS.items() if not info.regression]
REGRESSORS = [name for name, info in DATASETS.items() if info.regression]


def class_counts_cases():
    for name in CLASSIFIERS:
        info = DATASETS[name]
        for k in sorted({info.classes_min, min(3, info.classes_max), info.classes_max}):
            yield name, k


CASES = list(class_counts_cases())


def knn_accuracy(X: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Held-out k-NN accuracy (even indices train, odd test): is the structure learnable?"""
    train = np.arange(len(X)) % 2 == 0
    d = ((X[~train, None, :] - X[None, train, :]) ** 2).sum(-1)
    votes = y[train][np.argsort(d, axis=1)[:, :k]]
    counts = (votes[:, :, None] == np.arange(y.max() + 1)).sum(axis=1)
    return float((counts.argmax(axis=1) == y[~train]).mean())


def test_registry_describes_every_dataset():
    assert set(DATASETS) == {
        "circle",
        "xor",
        "gaussian",
        "spiral",
        "moons",
        "checkerboard",
        "stripes",
        "plane",
        "multi_gaussian",
    }
    for name, info in DATASETS.items():
        assert info.name == name
        assert info.description.endswith(".")
        assert info.classes_min <= info.classes_default <= info.classes_max
        assert info.classes == (info.classes_min, info.classes_max, info.classes_default)
    assert DATASETS["xor"].classes == (2, 2, 2)
    assert DATASETS["spiral"].classes_max == 8
    assert DATASETS["plane"].regression and DATASETS["multi_gaussian"].regression
    assert DATASETS["spiral"].clamp_classes(12) == 8
    assert DATASETS["moons"].clamp_classes(5) == 2


@pytest.mark.parametrize(("name", "k"), CASES)
def test_generator_shape_balance_domain_and_classes(name, k):
    X, y = generate(name, n_points=403, noise=0.3, classes=k, seed=3)
    assert X.shape == (403, 2) and X.dtype == np.float64
    assert y.shape == (403,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1 and counts.sum() == 403
    assert np.isfinite(X).all()
    assert X.min() >= DOMAIN[0] and X.max() <= DOMAIN[1]
    # Points come shuffled, not grouped by class.
    assert not np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("name", list(DATASETS))
def test_generator_is_deterministic_per_seed(name):
    a = generate(name, n_points=200, noise=0.2, seed=7)
    b = generate(name, n_points=200, noise=0.2, seed=7)
    c = generate(name, n_points=200, noise=0.2, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(("name", "k"), CASES)
def test_noise_moves_points_further_from_the_same_structure(name, k):
    clean, y0 = generate(name, n_points=300, noise=0.0, classes=k, seed=1)
    shifts = []
    for noise in (0.1, 0.4, 1.0):
        X, y = generate(name, n_points=300, noise=noise, classes=k, seed=1)
        np.testing.assert_array_equal(y, y0)  # same labels, same order
        shifts.append(np.linalg.norm(X - clean, axis=1).mean())
    assert 0 < shifts[0] < shifts[1] < shifts[2]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_default_noise_is_learnable_and_full_noise_is_harder(name):
    k = min(3, DATASETS[name].classes_max)
    acc = [knn_accuracy(*generate(name, 400, noise, k, seed=0)) for noise in (0.1, 0.3, 1.0)]
    assert acc[0] >= 0.9, acc
    assert acc[1] >= 0.8, acc
    assert acc[2] < acc[0] - 0.05, acc


def test_circle_two_classes_is_disc_inside_ring():
    X, y = generate("circle", 400, noise=0.0, classes=2, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0].max() < r[y == 1].min()


def test_xor_labels_follow_quadrants():
    X, y = generate("xor", 400, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))


def test_stripes_are_ordered_bands_along_x1():
    X, y = generate("stripes", 400, noise=0.0, classes=4, seed=0)
    np.testing.assert_array_equal(y, np.floor((X[:, 0] + 6) / 3).astype(np.int64))


@pytest.mark.parametrize("name", REGRESSORS)
def test_regression_targets(name):
    X, y = generate(name, n_points=500, noise=0.0, seed=2)
    assert X.shape == (500, 2) and y.shape == (500,) and y.dtype == np.float64
    assert y.min() >= -1.0 and y.max() <= 1.0 and y.std() > 0.1
    assert X.min() >= -6.0 and X.max() <= 6.0
    # noise perturbs the targets, more with more noise; ``classes`` is ignored.
    _, y_mid = generate(name, n_points=500, noise=0.3, classes=5, seed=2)
    _, y_hi = generate(name, n_points=500, noise=1.0, seed=2)
    assert 0 < np.abs(y_mid - y).mean() < np.abs(y_hi - y).mean()


def test_plane_is_the_sum_scaled():
    X, y = generate("plane", 100, noise=0.0, seed=0)
    np.testing.assert_allclose(y, (X[:, 0] + X[:, 1]) / 12)


def test_multi_gaussian_peaks():
    X, y = generate("multi_gaussian", 2000, noise=0.0, seed=0)
    near = np.hypot(X[:, 0] + 4, X[:, 1] - 2.5) < 0.5  # the (-4, 2.5) bump is positive
    near_neg = np.hypot(X[:, 0], X[:, 1] - 2.5) < 0.5  # the (0, 2.5) bump is negative
    assert y[near].min() > 0.7 and y[near_neg].max() < -0.7


def test_classes_none_means_default_and_small_n_still_balanced():
    _, y = generate("spiral", 5, classes=None)
    assert np.bincount(y).tolist() == [3, 2]
    _, y = generate("gaussian", 3, classes=8)
    assert sorted(y.tolist()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "donut"}, "valid datasets are circle, xor"),
        ({"name": "xor", "classes": 3}, "2..2"),
        ({"name": "spiral", "classes": 9}, "2..8"),
        ({"name": "spiral", "classes": 1}, "2..8"),
        ({"name": "spiral", "classes": 2.5}, "integer"),
        ({"name": "circle", "noise": 1.5}, "0..1"),
        ({"name": "circle", "noise": -0.1}, "0..1"),
        ({"name": "circle", "noise": float("nan")}, "0..1"),
        ({"name": "circle", "n_points": 0}, "n_points must be in 1..200000"),
        ({"name": "circle", "n_points": 10**7}, "1..200000"),
        ({"name": "circle", "n_points": True}, "integer"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


# --------------------------------------------------------------------------- CSV


def test_parse_csv_with_header_blank_lines_and_whitespace():
    # One delimiter per file (the first content line's): the tab row of the former mixed
    # text is checked on its own in test_parse_csv_tab_separated.
    text = "x1, x2, label\n\n  1.5 , -2 , 0 \n\n3e-1,4,1\r\n-7.25, 8,2\n"
    X, y = parse_csv(text)
    np.testing.assert_array_equal(X, [[1.5, -2.0], [0.3, 4.0], [-7.25, 8.0]])
    assert y.tolist() == [0, 1, 2] and y.dtype == np.int64 and X.dtype == np.float64


def test_parse_csv_tab_separated():
    X, y = parse_csv("x1\tx2\tlabel\r\n-7.25\t8\t2\n")
    np.testing.assert_array_equal(X, [[-7.25, 8.0]])
    assert y.tolist() == [2]


def test_parse_csv_without_header_and_integral_float_labels():
    X, y = parse_csv("\ufeff0,0,1.0\n1,1,0")
    assert X.shape == (2, 2) and y.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("x1,x2,label\n1,2,0\n\n1,2,abc\n", 4, "label 'abc' is not an integer"),
        ("1,2,0\n1,2,1.5\n", 2, "label '1.5' is not an integer"),
        ("1,2,0\n3,4,-1\n", 2, "label -1 is negative"),
        ("1,2,0\n3,nan,1\n", 2, "x2 'nan' is not a finite number"),
        ("1,2,0\ninf,4,1\n", 2, "x1 'inf' is not a finite number"),
        ("1,2,0\n1e999,4,1\n", 2, "x1 '1e999' is not a finite number"),
        ("1,2,0\n1,2\n", 2, "expected 3 columns (x1,x2,label), got 2"),
        ("1,2,0\n1,2,0,5\n", 2, "expected 3 columns"),
        ("x1,x2,label\n1,2,0\nx1,x2,label\n", 3, "x1 'x1' is not a number"),
        ("1,2,0\n1,two,0\n", 2, "x2 'two' is not a number"),
    ],
)
def test_parse_csv_reports_the_bad_line(text, line, message):
    with pytest.raises(DataError) as info:
        parse_csv(text)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"line {line}: ")
    assert isinstance(info.value, ValueError)


def test_parse_csv_empty_and_too_many_rows():
    with pytest.raises(DataError, match="no data rows") as info:
        parse_csv("x1,x2,label\n\n")
    assert info.value.line is None
    with pytest.raises(DataError, match="at most 2 points") as info:
        parse_csv("0,0,0\n1,1,1\n2,2,0\n", max_rows=2)
    assert info.value.line == 3


def test_to_csv_round_trips_exactly():
    X, y = generate("spiral", 50, noise=0.3, classes=3, seed=4)
    text = to_csv(X, y)
    assert text.startswith("x1,x2,label\n")
    X2, y2 = parse_csv(text)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    Xr, yr = generate("plane", 5)
    a, b, t = (float(v) for v in (Xr[0, 0], Xr[0, 1], yr[0]))
    assert to_csv(Xr, yr).splitlines()[1] == f"{a!r},{b!r},{t!r}"


# --------------------------------------------------------------------------- split


def test_stratified_split_proportions_per_class():
    y = np.repeat(np.arange(3), [100, 50, 10])
    train, val = stratified_split(y, 0.3, np.random.default_rng(0))
    assert np.bincount(y[val]).tolist() == [30, 15, 3]
    assert np.bincount(y[train]).tolist() == [70, 35, 7]
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(160))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)


def test_stratified_split_is_deterministic_and_random():
    y = np.repeat([0, 1], 50)
    a = stratified_split(y, 0.5, np.random.default_rng(5))
    b = stratified_split(y, 0.5, np.random.default_rng(5))
    c = stratified_split(y, 0.5, np.random.default_rng(6))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[1], np.concatenate([np.arange(25), np.arange(50, 75)]))


def test_stratified_split_zero_and_edge_cases():
    y = np.array([0, 0, 1, 1, 1, 2])
    train, val = stratified_split(y, 0.0, np.random.default_rng(0))
    assert train.tolist() == list(range(6)) and val.size == 0
    # 0.9 of a class of one point would empty it: every class keeps a training point.
    train, val = stratified_split(y, 0.9, np.random.default_rng(0))
    assert sorted(set(y[train].tolist())) == [0, 1, 2]
    assert np.bincount(y[val], minlength=3).tolist() == [1, 2, 0]


def test_split_of_regression_targets_is_plain_random():
    y = np.linspace(-1, 1, 40)
    train, val = stratified_split(y, 0.25, np.random.default_rng(0))
    assert len(val) == 10 and len(train) == 30
    assert not np.array_equal(val, np.arange(10))


@pytest.mark.parametrize("bad", [-0.1, 0.95, 1.0, float("nan")])
def test_split_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match=r"0\.\.0\.9"):
        stratified_split(np.array([0, 1]), bad, np.random.default_rng(0))


# --------------------------------------------------------------------------- domain


def test_data_domain():
    X, _ = generate("circle", 100)
    assert data_domain(X) == DOMAIN
    assert data_domain(np.array([[6.0, -6.0], [0.0, 0.0]])) == DOMAIN
    assert data_domain(np.array([[0.0, 10.0], [20.0, 30.0]])) == (-2.0, 22.0, 8.0, 32.0)
    # A zero-width axis still gets a usable interval.
    lo1, hi1, lo2, hi2 = data_domain(np.array([[100.0, 1.0], [100.0, 3.0]]))
    assert (lo1, hi1) == (90.0, 110.0) and (lo2, hi2) == pytest.approx((0.8, 3.2))
    assert data_domain(np.array([[7.0, 0.0]])) == (6.0, 8.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        data_domain(np.array([[np.nan, 0.0]]))
