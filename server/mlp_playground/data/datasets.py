"""2D datasets: generators, the train/validation split and the grid domain.

Every generator draws its points over the teaching domain ``DOMAIN`` = [-6, 6]^2 from one
``numpy.random.Generator`` seeded by ``seed``, so the same arguments always give the same
data (a teacher can reproduce a run, and ``POST /train`` is deterministic). Classes are
balanced (their counts differ by at most one) so that accuracy means the same thing on every
dataset, and every point lies inside the domain (noise is clipped), so the decision grid
over ``DOMAIN`` always shows all the data.

``noise`` runs from 0 (the clean structure) to 1 (very noisy). Each generator scales it by
its own characteristic length (ring width, arm spacing, cell size...) so that 0.1-0.3 is a
comfortable teaching range on every dataset and a net can still learn it. The structure is
drawn first and the noise last, so changing only ``noise`` moves the same points further
from the same clean positions.

Two regression datasets from TensorFlow Playground (``plane``, ``multi_gaussian``) return
float targets in [-1, 1]; ``DATASETS[name].regression`` tells them apart. User data as CSV
(``parse_csv``, ``to_csv``, ``DataError``) lives in ``mlp_playground.data.csv_data``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DATASETS",
    "DOMAIN",
    "DatasetInfo",
    "data_domain",
    "generate",
    "stratified_split",
]

DOMAIN: tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0)
"""(x1_min, x1_max, x2_min, x2_max) of the generated data and of the default grid."""

MIN_POINTS = 1
MAX_POINTS = 200_000
"""Sanity bounds of ``generate``; the server's own (smaller) limits live in config.py."""

_LIMIT = 6.0  # half-width of DOMAIN


@dataclass(frozen=True)
class DatasetInfo:
    """What a client needs to build the dataset controls (published by ``/api/options``)."""

    name: str
    description: str
    classes_min: int
    classes_max: int
    classes_default: int
    regression: bool = False

    @property
    def classes(self) -> tuple[int, int, int]:
        """(min, max, default) number of classes."""
        return (self.classes_min, self.classes_max, self.classes_default)

    def clamp_classes(self, classes: int) -> int:
        """The nearest valid class count, for a live session switching datasets."""
        return min(max(int(classes), self.classes_min), self.classes_max)


# --------------------------------------------------------------------------- generators
#
# Each generator gets (rng, counts, noise) where counts[k] is the number of points of class
# k, and returns (X, y) grouped by class; ``generate`` shuffles and clips. Regression
# generators get (rng, n, noise) and return float targets.


def _class_labels(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _uniform_annulus(rng: np.random.Generator, n: int, r0: float, r1: float) -> np.ndarray:
    """Radii drawn so that points are uniform over the area of the ring r0 <= r <= r1."""
    return np.sqrt(rng.uniform(r0 * r0, r1 * r1, n))


def _circle(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """Class 0 a central disc, class k a ring around it (TensorFlow Playground for K=2)."""
    k = len(counts)
    y = _class_labels(counts)
    width = 5.5 / k
    gap = 0.15 * width
    lo = np.where(y == 0, 0.0, y * width + gap)
    hi = (y + 1) * width - gap
    r = np.sqrt(rng.uniform(lo * lo, hi * hi))
    t = rng.uniform(0.0, 2.0 * np.pi, len(y))
    X = np.column_stack([r * np.cos(t), r * np.sin(t)])
    return X, y, noise * 0.5 * width


def _xor(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """Class 0 in the quadrants where x1*x2 > 0, class 1 where x1*x2 < 0."""
    y = _class_labels(counts)
    mag = rng.uniform(0.4, 5.6, (len(y), 2))
    s1 = rng.choice(np.array([-1.0, 1.0]), len(y))
    s2 = np.where(y == 0, s1, -s1)
    X = mag * np.column_stack([s1, s2])
    return X, y, noise * 1.5


def _blob_centres(k: int, radius: float) -> np.ndarray:
    # Offset by 45 degrees so that K=2 gives TensorFlow Playground's diagonal pair.
    angles = np.pi / 4 + 2.0 * np.pi * np.arange(k) / k
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


def _gaussian(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """K round blobs evenly spaced on a circle; noise widens them until they overlap."""
    k = len(counts)
    y = _class_labels(counts)
    centres = _blob_centres(k, 3.5 if k == 2 else 4.0)
    spread = 0.5 + 1.5 * noise
    X = centres[y] + rng.standard_normal((len(y), 2)) * spread
    return X, y, 0.0


def _spiral(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """K interleaved arms (TensorFlow Playground's spiral for K=2, CS231n's for K=3)."""
    k = len(counts)
    y = _class_labels(counts)
    # Two arms wind 1.75 turns as in the Playground; more arms wind less so that the gap
    # between neighbouring arms stays learnable from a few hundred points.
    turns = 1.75 if k == 2 else max(0.6, 3.0 / k)
    u = rng.uniform(0.0, 1.0, len(y))
    r = 0.3 + 5.2 * u
    t = 2.0 * np.pi * (turns * u + y / k)
    X = np.column_stack([r * np.sin(t), r * np.cos(t)])
    arm_gap = 5.2 / (turns * k)  # radial distance between neighbouring arms
    return X, y, noise * 0.5 * arm_gap


def _moons(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """Two interleaving half circles (scikit-learn's make_moons, scaled to the domain)."""
    y = _class_labels(counts)
    t = rng.uniform(0.0, np.pi, len(y))
    upper = y == 0
    mx = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    my = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    scale = 3.5
    X = scale * np.column_stack([mx - 0.5, my - 0.25])
    return X, y, noise * 2.0


_BOARD = 4  # cells per side of the checkerboard


def _board_colours(k: int) -> np.ndarray:
    """Colour of each cell (row-major) such that neighbours always differ and all K occur."""
    i, j = np.meshgrid(np.arange(_BOARD), np.arange(_BOARD), indexing="xy")
    step = 1 if k == 2 else (k + 1) // 2
    return ((i + step * j) % k).ravel()


def _checkerboard(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """A 4x4 board of cells; K colours laid out so that neighbouring cells differ."""
    k = len(counts)
    y = _class_labels(counts)
    colours = _board_colours(k)
    # For each point pick one of the cells of its colour uniformly: sort cells by colour,
    # then index into that colour's run.
    order = np.argsort(colours, kind="stable")
    per_colour = np.bincount(colours, minlength=k)
    start = np.concatenate([[0], np.cumsum(per_colour)[:-1]])
    pick = order[start[y] + (rng.uniform(0.0, 1.0, len(y)) * per_colour[y]).astype(np.int64)]
    cell = 2 * _LIMIT / _BOARD
    margin = 0.1 * cell
    offset = rng.uniform(margin, cell - margin, (len(y), 2))
    X = np.column_stack([pick % _BOARD, pick // _BOARD]) * cell - _LIMIT + offset
    return X, y, noise * 0.3 * cell


def _stripes(rng: np.random.Generator, counts: np.ndarray, noise: float):
    """K vertical bands across x1, class k the k-th band from the left."""
    k = len(counts)
    y = _class_labels(counts)
    width = 2 * _LIMIT / k
    margin = 0.1 * width
    x1 = -_LIMIT + y * width + rng.uniform(margin, width - margin, len(y))
    x2 = rng.uniform(-_LIMIT + 0.3, _LIMIT - 0.3, len(y))
    return np.column_stack([x1, x2]), y, noise * 0.5 * width


def _plane(rng: np.random.Generator, n: int, noise: float):
    """TensorFlow Playground's "plane": target (x1 + x2) / 12, labelled at a noisy position."""
    X = rng.uniform(-_LIMIT, _LIMIT, (n, 2))
    shifted = X + rng.standard_normal((n, 2)) * (2.0 * noise)
    return X, np.clip(shifted.sum(axis=1) / (2 * _LIMIT), -1.0, 1.0)


_TF_GAUSSIANS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def _multi_gaussian(rng: np.random.Generator, n: int, noise: float):
    """TensorFlow Playground's "multi gaussian": six bumps of alternating sign.

    The target is the signed bump of largest magnitude, each bump falling linearly from 1 at
    its centre to 0 at distance 2 (as in the Playground), read at a noisy position.
    """
    X = rng.uniform(-_LIMIT, _LIMIT, (n, 2))
    p = X + rng.standard_normal((n, 2)) * (2.0 * noise)
    d = np.hypot(p[:, 0:1] - _TF_GAUSSIANS[:, 0], p[:, 1:2] - _TF_GAUSSIANS[:, 1])
    value = np.clip(1.0 - d / 2.0, 0.0, 1.0) * _TF_GAUSSIANS[:, 2]
    best = np.abs(value).argmax(axis=1)
    return X, np.take_along_axis(value, best[:, None], axis=1)[:, 0]


_Classifier = Callable[[np.random.Generator, np.ndarray, float], tuple]
_Regressor = Callable[[np.random.Generator, int, float], tuple]

_GENERATORS: dict[str, _Classifier | _Regressor] = {
    "circle": _circle,
    "xor": _xor,
    "gaussian": _gaussian,
    "spiral": _spiral,
    "moons": _moons,
    "checkerboard": _checkerboard,
    "stripes": _stripes,
    "plane": _plane,
    "multi_gaussian": _multi_gaussian,
}

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo("circle", "A central disc inside one ring per further class.", 2, 8, 2),
        DatasetInfo("xor", "Two classes on opposite quadrants, the classic XOR problem.", 2, 2, 2),
        DatasetInfo("gaussian", "K round Gaussian blobs spaced evenly on a circle.", 2, 8, 2),
        DatasetInfo("spiral", "K interleaved spiral arms, one class per arm.", 2, 8, 2),
        DatasetInfo("moons", "Two interleaving half-moons, as in scikit-learn.", 2, 2, 2),
        DatasetInfo(
            "checkerboard", "A 4x4 board whose neighbouring cells have different classes.", 2, 8, 2
        ),
        DatasetInfo("stripes", "K vertical bands across the plane, one class per band.", 2, 8, 2),
        DatasetInfo("plane", "Regression: the target rises linearly with x1 + x2.", 1, 1, 1, True),
        DatasetInfo(
            "multi_gaussian",
            "Regression: six bumps of alternating sign give targets in [-1, 1].",
            1,
            1,
            1,
            True,
        ),
    ]
}


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return int(value)


def generate(
    name: str,
    n_points: int = 400,
    noise: float = 0.1,
    classes: int | None = 2,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a dataset: ``X`` (N, 2) float64 inside ``DOMAIN`` and ``y`` (N,).

    ``y`` is int64 labels 0..classes-1 (balanced, shuffled) for classification datasets and
    float64 targets in [-1, 1] for regression ones (whose ``classes`` argument is ignored).
    ``classes=None`` means the dataset's default. Raises ValueError naming the valid choices
    for an unknown name or an out-of-range ``n_points``, ``noise`` or ``classes``.
    """
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None:
        raise ValueError(f"unknown dataset {name!r}; valid datasets are {', '.join(DATASETS)}")
    n = _check_int("n_points", n_points, MIN_POINTS, MAX_POINTS)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise ValueError(f"noise must be a number in 0..1, got {noise!r}")
    noise = float(noise)
    if not 0.0 <= noise <= 1.0:  # also rejects NaN
        raise ValueError(f"noise must be in 0..1, got {noise}")
    rng = np.random.default_rng(seed)
    gen = _GENERATORS[name]

    if info.regression:
        X, y = gen(rng, n, noise)
        return np.clip(X, -_LIMIT, _LIMIT), np.asarray(y, dtype=np.float64)

    k = (
        info.classes_default
        if classes is None
        else _check_int(
            f"classes for dataset {name!r}", classes, info.classes_min, info.classes_max
        )
    )
    # Balanced: the first n % k classes get one extra point.
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    X, y, sigma = gen(rng, counts, noise)
    # Always draw the noise (even for sigma 0) so that the clean and noisy versions of a
    # seed share their structure draw.
    X = X + rng.standard_normal(X.shape) * sigma
    np.clip(X, -_LIMIT, _LIMIT, out=X)
    order = rng.permutation(n)
    return np.ascontiguousarray(X[order], dtype=np.float64), y[order].astype(np.int64)


# --------------------------------------------------------------------------- split, domain


def stratified_split(
    y: np.ndarray, validation_split: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation), each sorted, with ``validation_split`` of every class held out.

    Each class contributes round(validation_split * its count) validation points but always
    keeps at least one training point, so training sees every class. Float targets
    (regression) get a plain random split. ``validation_split`` 0 puts everything in
    training. Deterministic for a given ``rng`` state.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise ValueError(f"validation_split must be a number in 0..0.9, got {validation_split!r}")
    if not 0.0 <= float(validation_split) <= 0.9:
        raise ValueError(f"validation_split must be in 0..0.9, got {validation_split}")
    n = len(y)
    perm = rng.permutation(n)
    if np.issubdtype(y.dtype, np.floating) or n == 0:
        n_val = min(round(float(validation_split) * n), max(n - 1, 0))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    if y.min() < 0:
        raise ValueError("labels must be non-negative integers")
    # Group by class keeping the random order inside each class, then hold out each class's
    # first n_val[k] points: rank-within-class < n_val[class].
    grouped = perm[np.argsort(y[perm], kind="stable")]
    labels = y[grouped]
    counts = np.bincount(labels)
    n_val = np.minimum(np.rint(validation_split * counts).astype(np.int64), counts - 1)
    n_val = np.maximum(n_val, 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[labels]
    held = rank < n_val[labels]
    return np.sort(grouped[~held]), np.sort(grouped[held])


def data_domain(X: np.ndarray) -> tuple[float, float, float, float]:
    """The grid domain for these points: ``DOMAIN`` if they all fit in it.

    Otherwise the points' bounding box padded by 10% of its width per side (an axis where
    every point has the same coordinate gets +-1, or +-10% of that coordinate if larger), so
    user data in any units fills the picture.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {X.shape}")
    if X.shape[0] == 0:
        return DOMAIN
    if not np.isfinite(X).all():
        raise ValueError("points must be finite numbers")
    lo = X.min(axis=0)
    hi = X.max(axis=0)
    if lo.min() >= -_LIMIT and hi.max() <= _LIMIT:
        return DOMAIN
    width = hi - lo
    centre = (lo + hi) / 2
    pad = np.where(width > 0, 0.1 * width, np.maximum(1.0, 0.1 * np.abs(centre)))
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
