"""The trainer's data: points, the train/validation split, normalisation, the epoch order.

``TrainerData`` is the part of ``Trainer`` that owns what the network is fed: it makes the
points (generated or given), splits them with the run's RNG, fits the normalisation on the
training split, keeps the feature matrices of both splits ready for the step loop, walks
the training set one shuffled epoch at a time, and applies live data edits (a new CSV, a
point added or removed) without touching the weights unless the class count changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mlp_playground.data.datasets import DOMAIN, data_domain, generate, stratified_split
from mlp_playground.data.features import Normalization, expand
from mlp_playground.training.config.train_config import (
    DEFAULT_LIMITS,
    TrainConfig,
    check_data,
    check_int,
    check_number,
    check_points,
)
from mlp_playground.training.state import TrainerState, TrainingData


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


class TrainerData(TrainerState):
    """Data, split, normalisation and the epoch being walked (part of ``Trainer``)."""

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs for raw (N, 2) points: features expanded, then normalised
        with the training split's statistics (what the model sees when it trains)."""
        F = expand(points, self.features)
        if self.normalization is not None:
            self.normalization.apply(F, out=F)
        return F

    def _split(self) -> None:
        train_idx, val_idx = stratified_split(self.data.y, self.config.validation_split, self.rng)
        self.data.train_idx = train_idx.astype(np.int64)
        self.data.val_idx = val_idx.astype(np.int64)

    def _fit_normalization(self) -> None:
        self.normalization = None
        if self.config.network["normalize"]:
            if len(self.data.train_idx):
                F = expand(self.data.X[self.data.train_idx], self.features)
                self.normalization = Normalization.fit(F)
            else:  # no points yet: identity until there are some
                self.normalization = Normalization.identity(len(self.features))

    def _prepare(self) -> None:
        """Feature matrices of both splits; the next step starts a new epoch."""
        d = self.data
        F = self.inputs(d.X)
        self._X_train = np.ascontiguousarray(F[d.train_idx])
        self._y_train = d.y[d.train_idx]
        self._X_val = np.ascontiguousarray(F[d.val_idx])
        self._y_val = d.y[d.val_idx]
        self._pos = 0
        self._X_epoch = self._X_train
        self._y_epoch = self._y_train

    def _start_epoch(self) -> None:
        if self.config.shuffle and len(self._y_train) > 1:
            perm = self.rng.permutation(len(self._y_train))
            self._X_epoch = self._X_train[perm]
            self._y_epoch = self._y_train[perm]
        else:
            self._X_epoch = self._X_train
            self._y_epoch = self._y_train

    # ---------------------------------------------------------------- sizes

    @property
    def n_train(self) -> int:
        return len(self._y_train)

    @property
    def steps_per_epoch(self) -> int:
        n = max(len(self._y_train), 1)
        return math.ceil(n / max(1, min(self.config.batch_size, n)))

    @property
    def epochs_done(self) -> float:
        """Completed epochs plus the fraction of the current one."""
        return self.epoch + (self._pos / self.n_train if self.n_train else 0.0)

    def training_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` training inputs (features, normalised) and their labels."""
        return self._X_train[:n], self._y_train[:n]

    # ---------------------------------------------------------------- data edits

    def set_data(self, X: np.ndarray, y: np.ndarray, classes: int | None = None) -> None:
        """Replace the points (live CSV upload). Same class count: weights kept, split and
        normalisation refitted. A different class count re-initialises the model."""
        limits = {**DEFAULT_LIMITS, "max_points_train": 10**9}
        d = check_data(
            {"points": X, "labels": y, "classes": classes},
            self.data.regression,
            limits,
            empty_classes=self.data.classes,
        )
        self.config.data = None
        domain = data_domain(d["points"]) if len(d["labels"]) else self.data.domain
        self._replace_data(d["points"], d["labels"], d["classes"], domain)

    def regenerate(self) -> None:
        """New points from ``config.dataset`` (weights kept when the class count stays)."""
        if self.config.dataset is None:
            return
        X, y, classes = make_data(self.config)
        self._replace_data(X, y, classes, DOMAIN)

    def _replace_data(
        self,
        X: np.ndarray,
        y: np.ndarray,
        classes: int,
        domain: tuple[float, float, float, float],
    ) -> None:
        old_classes = self.data.classes
        d = self.data
        self.data = TrainingData(X, y, d.train_idx, d.val_idx, classes, domain, d.regression)
        if classes != old_classes:
            self.reset()
            return
        self._split()
        self._fit_normalization()
        self._prepare()

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
        self._X_train = np.concatenate([self._X_train, F])
        self._y_train = np.concatenate([self._y_train, d.y[-1:]])

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
        self._prepare()
        return i
