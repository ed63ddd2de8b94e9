"""The trainer's data part: points, the train/validation split, normalisation, the epoch order.

``TrainerData`` owns what the network is fed: the points (``TrainingData``), the input
features and their normalisation (fitted on the training split), the feature matrices of
both splits kept ready for the step loop, and the epoch being walked (its order and the
position in it). It knows nothing of the model or the optimiser: what it needs from the run
(the RNG, the validation fraction, whether to shuffle) is passed to the call that uses it,
so the part can be read, tested and saved (``state_dict``) on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlp_playground.data.datasets import DOMAIN, data_domain, generate, stratified_split
from mlp_playground.data.features import Normalization, check_features, expand
from mlp_playground.training.config.checks import check_int, check_number, check_points
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.state import TrainingData


def make_data(config: TrainConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """The points, labels and class count ``config`` asks for (given or generated)."""
    if config.data is not None:
        d = config.data
        return d["points"], d["labels"], int(d["classes"])
    ds = config.dataset
    assert ds is not None  # a validated config has a dataset or data
    X, y = generate(ds["name"], ds["n_points"], ds["noise"], ds["classes"], ds["seed"])
    return X, y, config.classes


def domain_for(config: TrainConfig, X: np.ndarray) -> tuple[float, float, float, float]:
    """The grid domain: the teaching domain for generated data, the points' box for user data."""
    return DOMAIN if config.data is None else data_domain(X)


def _inputs(
    points: np.ndarray, features: list[str], normalization: Normalization | None
) -> np.ndarray:
    F = expand(points, features)
    if normalization is not None:
        normalization.apply(F, out=F)
    return F


class TrainerData:
    """Points, split, features, normalisation and the epoch being walked.

    The split matrices (``X_train``, ``y_train``, ``X_val``, ``y_val``) and the epoch
    (``X_epoch``, ``y_epoch``, position ``pos``) are plain attributes, not properties,
    because the step loop reads them on every update. They are derived: ``prepare`` rebuilds
    them from the points, and only the loop moves ``pos`` and calls ``start_epoch``.
    """

    def __init__(self, data: TrainingData, features: Sequence[str]) -> None:
        self.data = data
        self.features = list(features)
        self.normalization: Normalization | None = None
        self.prepare()

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs for raw (N, 2) points: features expanded, then normalised
        with the training split's statistics (what the model sees when it trains)."""
        return _inputs(points, self.features, self.normalization)

    # ---------------------------------------------------------------- split, fit, epochs

    def split(self, validation_split: float, rng: np.random.Generator) -> None:
        """A new stratified train/validation split drawn from ``rng``."""
        train_idx, val_idx = stratified_split(self.data.y, validation_split, rng)
        self.data.train_idx = train_idx.astype(np.int64)
        self.data.val_idx = val_idx.astype(np.int64)

    def fit_normalization(self, normalize: bool) -> None:
        """Fit the normalisation on the training split (identity while there are no points);
        ``normalize`` False: none. Replaces the object, never mutates it (frame caches key
        on its identity)."""
        self.normalization = None
        if normalize:
            if len(self.data.train_idx):
                F = expand(self.data.X[self.data.train_idx], self.features)
                self.normalization = Normalization.fit(F)
            else:  # no points yet: identity until there are some
                self.normalization = Normalization.identity(len(self.features))

    def prepare(self) -> None:
        """Feature matrices of both splits; the next step starts a new epoch."""
        d = self.data
        F = self.inputs(d.X)
        self.X_train = np.ascontiguousarray(F[d.train_idx])
        self.y_train = d.y[d.train_idx]
        self.X_val = np.ascontiguousarray(F[d.val_idx])
        self.y_val = d.y[d.val_idx]
        self.pos = 0
        self.X_epoch = self.X_train
        self.y_epoch = self.y_train

    def start_epoch(self, shuffle: bool, rng: np.random.Generator) -> None:
        """The order of the epoch that starts now: a permutation drawn from ``rng``, or the
        training set as it is. Gathered once here so a batch is two slices (views)."""
        if shuffle and len(self.y_train) > 1:
            perm = rng.permutation(len(self.y_train))
            self.X_epoch = self.X_train[perm]
            self.y_epoch = self.y_train[perm]
        else:
            self.X_epoch = self.X_train
            self.y_epoch = self.y_train

    # ---------------------------------------------------------------- sizes

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Mini-batches of ``batch_size`` in one epoch (the last one may be short)."""
        n = max(len(self.y_train), 1)
        return math.ceil(n / max(1, min(batch_size, n)))

    @property
    def epoch_fraction(self) -> float:
        """How far the walk is through the current epoch, 0 <= f < 1."""
        return self.pos / self.n_train if self.n_train else 0.0

    def training_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` training inputs (features, normalised) and their labels."""
        return self.X_train[:n], self.y_train[:n]

    # ---------------------------------------------------------------- data edits

    def replace(
        self,
        X: np.ndarray,
        y: np.ndarray,
        classes: int,
        domain: tuple[float, float, float, float],
        regression: bool | None = None,
    ) -> bool:
        """New points (the old split indices stay until the caller re-splits); True when
        the task changed (class count or regression), so the model must be re-initialised."""
        d = self.data
        regression = d.regression if regression is None else regression
        changed = classes != d.classes or regression != d.regression
        self.data = TrainingData(X, y, d.train_idx, d.val_idx, classes, domain, regression)
        return changed

    def add_point(self, point: Sequence[float], label: float) -> None:
        """Add one training point; it joins the next epoch (normalisation unchanged)."""
        p = check_points("point", [point])
        d = self.data
        value: float
        if d.regression:
            value = check_number("label", label, -math.inf, math.inf)
        else:
            value = check_int("label", label, 0, d.classes - 1)
        d.X = np.concatenate([d.X, p])
        d.y = np.concatenate([d.y, np.array([value], dtype=d.y.dtype)])
        d.train_idx = np.append(d.train_idx, len(d.y) - 1)
        F = self.inputs(p)
        self.X_train = np.concatenate([self.X_train, F])
        self.y_train = np.concatenate([self.y_train, d.y[-1:]])

    def remove_point(self, point: Sequence[float], radius: float | None = None) -> int | None:
        """Remove the point nearest ``point`` within ``radius`` (default 3% of the domain
        width); returns its former index, or None if none was close enough."""
        p = check_points("point", [point])[0]
        d = self.data
        if len(d.y) <= 1:
            return None
        if radius is None:
            radius = 0.03 * (d.domain[1] - d.domain[0])
        radius = check_number("radius", radius, 0.0, math.inf)
        dist = np.hypot(d.X[:, 0] - p[0], d.X[:, 1] - p[1])
        i = int(dist.argmin())
        if dist[i] > radius:
            return None
        keep = np.ones(len(d.y), dtype=bool)
        keep[i] = False
        d.X = d.X[keep]
        d.y = d.y[keep]
        tr, va = d.train_idx[d.train_idx != i], d.val_idx[d.val_idx != i]
        d.train_idx = tr - (tr > i)
        d.val_idx = va - (va > i)
        self.prepare()
        return i

    # ---------------------------------------------------------------- resumable state

    def state_dict(self) -> dict[str, Any]:
        """Everything that cannot be recomputed: points, split, task, features,
        normalisation, and the epoch being walked in its shuffled order (the permutation is
        not kept) with the position in it. Arrays are copies."""
        d, norm = self.data, self.normalization
        return {
            "X": np.array(d.X, dtype=np.float64),
            "y": np.array(d.y),
            "train_idx": np.array(d.train_idx, dtype=np.int64),
            "val_idx": np.array(d.val_idx, dtype=np.int64),
            "classes": int(d.classes),
            "domain": [float(v) for v in d.domain],
            "regression": bool(d.regression),
            "features": list(self.features),
            "normalization": None
            if norm is None
            else {"mean": np.array(norm.mean), "std": np.array(norm.std)},
            "epoch_X": np.array(self.X_epoch, dtype=np.float64),
            "epoch_y": np.array(self.y_epoch),
            "pos": int(self.pos),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take ``state`` (from ``state_dict``); the split matrices are rebuilt from it.

        Everything is checked before anything is assigned: a missing key or a wrong shape
        raises ``ValueError`` naming it and leaves this object as it was.
        """
        X = _array(state, "X", np.float64, 2)
        if X.shape[1] != 2:
            raise ValueError(f"X must have shape (N, 2), got {X.shape}")
        n = len(X)
        regression = bool(_get(state, "regression"))
        y = _array(state, "y", np.float64 if regression else np.int64, 1)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels for {n} points")
        idx = {}
        for key in ("train_idx", "val_idx"):
            idx[key] = _array(state, key, np.int64, 1)
            if idx[key].size and (idx[key].min() < 0 or idx[key].max() >= n):
                raise ValueError(f"{key} holds an index outside 0..{n - 1}")
        classes = int(_get(state, "classes"))
        box = [float(v) for v in _get(state, "domain")]
        if len(box) != 4:
            raise ValueError(f"domain must have 4 values, got {len(box)}")
        domain = (box[0], box[1], box[2], box[3])
        try:
            features = check_features(_get(state, "features"))
        except ValueError as exc:
            raise ValueError(f"features: {exc}") from None
        raw = _get(state, "normalization")
        norm = None
        if raw is not None:
            mean, std = _array(raw, "mean", np.float64, 1), _array(raw, "std", np.float64, 1)
            norm = Normalization(mean, std)
            if norm.mean.size != len(features):
                raise ValueError(
                    f"normalization has {norm.mean.size} values for {len(features)} features"
                )
        epoch_X = np.ascontiguousarray(_array(state, "epoch_X", np.float64, 2))
        epoch_y = _array(state, "epoch_y", y.dtype.type, 1)
        if epoch_X.shape[1] != len(features) or len(epoch_y) != len(epoch_X):
            raise ValueError(
                f"epoch_X {epoch_X.shape} and epoch_y {epoch_y.shape} do not fit "
                f"{len(features)} features"
            )
        pos = int(_get(state, "pos"))
        if not 0 <= pos < max(len(epoch_y), 1):
            raise ValueError(f"pos {pos} is outside the epoch of {len(epoch_y)} points")
        data = TrainingData(X, y, idx["train_idx"], idx["val_idx"], classes, domain, regression)
        F = _inputs(X, features, norm)
        # Checked; from here on nothing raises.
        self.data, self.features, self.normalization = data, features, norm
        self.X_train = np.ascontiguousarray(F[data.train_idx])
        self.y_train = y[data.train_idx]
        self.X_val = np.ascontiguousarray(F[data.val_idx])
        self.y_val = y[data.val_idx]
        self.X_epoch, self.y_epoch, self.pos = epoch_X, epoch_y, pos


def _get(state: Mapping[str, Any], key: str) -> Any:
    if not isinstance(state, Mapping):
        raise ValueError(f"expected a mapping holding {key!r}, got {type(state).__name__}")
    if key not in state:
        raise ValueError(f"state has no {key!r}")
    return state[key]


def _array(state: Mapping[str, Any], key: str, dtype: type, ndim: int) -> np.ndarray:
    """``state[key]`` as a private array of ``dtype`` with ``ndim`` dimensions, or ValueError."""
    value = _get(state, key)
    try:
        a: np.ndarray = np.array(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{key} must be an array of {np.dtype(dtype).name}: {exc}") from None
    if key == "X" and a.ndim == 1 and a.size == 0:  # no points at all
        a = a.reshape(0, 2)
    if a.ndim != ndim:
        raise ValueError(f"{key} must have {ndim} dimension(s), got shape {a.shape}")
    return a
