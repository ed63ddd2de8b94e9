"""Input features and their standardisation.

The network sees a feature vector computed from each point (x1, x2): TensorFlow
Playground's set, so that a student can check that a linear model on ``x1_squared`` and
``x2_squared`` solves the circle, or ``x1_x2`` solves XOR. Standardisation uses the
training split's statistics only (the validation split must not leak into the model) and is
recorded in the model document so that ``/predict`` applies exactly the same transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

FEATURES: list[str] = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]

STD_FLOOR = 1e-8
"""A feature whose training std is below this is constant: it is centred, not scaled."""


def _x1(X: np.ndarray, out: np.ndarray) -> None:
    out[...] = X[:, 0]


def _x2(X: np.ndarray, out: np.ndarray) -> None:
    out[...] = X[:, 1]


def _x1_squared(X: np.ndarray, out: np.ndarray) -> None:
    np.multiply(X[:, 0], X[:, 0], out=out)


def _x2_squared(X: np.ndarray, out: np.ndarray) -> None:
    np.multiply(X[:, 1], X[:, 1], out=out)


def _x1_x2(X: np.ndarray, out: np.ndarray) -> None:
    np.multiply(X[:, 0], X[:, 1], out=out)


def _sin_x1(X: np.ndarray, out: np.ndarray) -> None:
    np.sin(X[:, 0], out=out)


def _sin_x2(X: np.ndarray, out: np.ndarray) -> None:
    np.sin(X[:, 1], out=out)


_COMPUTE: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "x1": _x1,
    "x2": _x2,
    "x1_squared": _x1_squared,
    "x2_squared": _x2_squared,
    "x1_x2": _x1_x2,
    "sin_x1": _sin_x1,
    "sin_x2": _sin_x2,
}


def check_features(names: Sequence[str]) -> list[str]:
    """Validate a feature list (non-empty, known names, no repeats) and return it as a list."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(f"features must be a list of names from {', '.join(FEATURES)}")
    names = list(names)
    if not names:
        raise ValueError(f"features must name at least one of {', '.join(FEATURES)}")
    for name in names:
        if name not in _COMPUTE:
            raise ValueError(f"unknown feature {name!r}; valid features are {', '.join(FEATURES)}")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"feature {repeated[0]!r} is listed more than once")
    return names


def expand(X: np.ndarray, names: Sequence[str], out: np.ndarray | None = None) -> np.ndarray:
    """Points (N, 2) -> features (N, F), one column per name, in the order given.

    The result has X's float dtype (float32 grids stay float32; anything else becomes
    float64). ``out`` (N, F) lets a per-frame grid pass reuse its buffer.
    """
    names = check_features(names)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {X.shape}")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = X.astype(dtype, copy=False)
    shape = (X.shape[0], len(names))
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    for j, name in enumerate(names):
        _COMPUTE[name](X, out[:, j])
    return out


@dataclass
class Normalization:
    """Per-feature standardisation ``(F - mean) / std`` with training-split statistics."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"normalization mean and std differ in length ({self.mean.size} vs {self.std.size})"
            )

    @classmethod
    def fit(cls, F: np.ndarray) -> Normalization:
        """Statistics of F (N, D). A constant feature gets std 1 (centred, never divided by 0)."""
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[0] == 0:
            raise ValueError(f"need a non-empty (N, D) feature matrix, got shape {F.shape}")
        mean = F.mean(axis=0)
        std = F.std(axis=0)
        std = np.where(std < STD_FLOOR, 1.0, std)
        return cls(mean, std)

    @classmethod
    def identity(cls, n_features: int) -> Normalization:
        """Mean 0, std 1: what "no normalisation" means numerically."""
        return cls(np.zeros(n_features), np.ones(n_features))

    @property
    def n_features(self) -> int:
        return int(self.mean.size)

    def apply(self, F: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(F - mean) / std, keeping F's float dtype; ``out`` may be F itself (in place)."""
        F = np.asarray(F)
        if F.ndim != 2 or F.shape[1] != self.mean.size:
            raise ValueError(f"expected {self.mean.size} features per row, got shape {F.shape}")
        if out is None:
            dtype = F.dtype if F.dtype in (np.float32, np.float64) else np.float64
            out = np.empty(F.shape, dtype=dtype)
        mean = self.mean.astype(out.dtype, copy=False)
        std = self.std.astype(out.dtype, copy=False)
        np.subtract(F, mean, out=out)
        np.divide(out, std, out=out)
        return out

    def to_dict(self) -> dict[str, list[float]]:
        """JSON form for the model document: ``{"mean": [...], "std": [...]}``."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping, n_features: int | None = None) -> Normalization:
        """Read the model-document form, saying exactly which field is wrong.

        ``n_features`` (the model's input width) is checked when given. Values must be
        finite and every std strictly positive.
        """
        if not isinstance(d, Mapping):
            raise ValueError("normalization must be an object with 'mean' and 'std' lists")
        arrays = {}
        for key in ("mean", "std"):
            values = d.get(key)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"normalization.{key} must be a list of numbers")
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"normalization.{key}[{i}] must be a number, got {v!r}")
                if not math.isfinite(v):
                    raise ValueError(f"normalization.{key}[{i}] must be finite, got {v!r}")
            arrays[key] = np.array(values, dtype=np.float64)
        expected = n_features if n_features is not None else arrays["mean"].size
        for key, values in arrays.items():
            if values.size != expected:
                raise ValueError(
                    f"normalization.{key}: expected {expected} values, got {values.size}"
                )
        bad = np.flatnonzero(arrays["std"] <= 0)
        if bad.size:
            raise ValueError(f"normalization.std[{bad[0]}] must be > 0")
        return cls(arrays["mean"], arrays["std"])
