"""Value checks of the training configuration: each raises ``ConfigError(field, message)``.

``field`` is the dotted path of the bad value ("optimizer.learning_rate", "data.labels[3]")
so REST can answer 422 naming it and the websocket can fill its ``field``; ``message`` is a
sentence a user can act on. ``check_points`` and ``check_data`` validate user points.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from mlp_playground.training.config.defaults import SECTION_KEYS


class ConfigError(ValueError):
    """A bad configuration value: ``field`` is its dotted path ("optimizer.learning_rate",
    "data.labels[3]"), ``message`` a sentence a user can act on."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


def is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_int(path: str, v: object, lo: int, hi: int) -> int:
    """An integer in lo..hi (2.0 counts as 2, True does not), else ConfigError(path)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise ConfigError(path, f"{path} must be an integer in {lo}..{hi}, got {v!r}")
    if not lo <= int(v) <= hi:
        raise ConfigError(path, f"{path} must be in {lo}..{hi}, got {v}")
    return int(v)


def check_number(
    path: str, v: object, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False
) -> float:
    """A finite number in [lo, hi] (bounds open when asked), else ConfigError(path)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ConfigError(path, f"{path} must be a number, got {v!r}")
    try:
        v = float(v)
    except OverflowError:  # an integer literal with hundreds of digits
        v = math.inf
    if not math.isfinite(v):
        raise ConfigError(path, f"{path} must be a finite number")
    if v < lo or (lo_open and v == lo):
        raise ConfigError(path, f"{path} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if v > hi or (hi_open and v == hi):
        raise ConfigError(path, f"{path} must be {'<' if hi_open else '<='} {hi:g}, got {v:g}")
    return v


def check_bool(path: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(path, f"{path} must be true or false, got {v!r}")
    return v


def check_name(path: str, v: object, choices: Sequence[str], what: str) -> str:
    if not isinstance(v, str) or v not in choices:
        raise ConfigError(path, f"unknown {what} {v!r}; valid choices are {', '.join(choices)}")
    return v


def check_mapping(path: str, v: object) -> Mapping:
    if not isinstance(v, Mapping):
        raise ConfigError(path, f"{path} must be an object")
    return v


def check_keys(path: str, d: Mapping, allowed: Sequence[str]) -> None:
    for key in d:
        if key not in allowed:
            raise ConfigError(
                f"{path}.{key}" if path else str(key),
                f"unknown field {key!r}; valid fields are {', '.join(allowed)}",
            )


def check_points(path: str, points: object, max_points: int | None = None) -> np.ndarray:
    """A list of [x1, x2] finite pairs -> (N, 2) float64, or ConfigError naming the row."""
    try:
        X = np.asarray(points, dtype=np.float64)
    except OverflowError:  # an integer literal too large for a float: not finite
        raise ConfigError(path, f"{path} must be finite numbers") from None
    except (TypeError, ValueError):
        X = None
    if X is None or X.ndim != 2 or X.shape[1] != 2:
        if isinstance(points, Sequence) and not isinstance(points, str):
            for i, p in enumerate(points):
                if (
                    isinstance(p, str)
                    or not isinstance(p, Sequence)
                    or len(p) != 2
                    or not all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in p)
                ):
                    raise ConfigError(f"{path}[{i}]", f"{path}[{i}] must be a pair [x1, x2]")
        raise ConfigError(path, f"{path} must be a list of [x1, x2] pairs")
    if X.shape[0] == 0:
        raise ConfigError(path, f"{path} must not be empty")
    if max_points is not None and X.shape[0] > max_points:
        raise ConfigError(path, f"too many points: {X.shape[0]} > the limit of {max_points}")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        raise ConfigError(f"{path}[{bad[0]}]", f"{path}[{bad[0]}] must be finite numbers")
    return X


def check_data(
    d: Mapping, regression: bool, limits: Mapping, empty_classes: int | None = None
) -> dict:
    """Validate a ``data`` object -> {"points": (N,2), "labels": (N,), "classes": K}.

    ``empty_classes`` allows no points at all (a live session's cleared canvas) and is the
    class count to keep then.
    """
    check_keys("data", d, SECTION_KEYS["data"])
    if "points" not in d or "labels" not in d:
        raise ConfigError("data", "data needs 'points' and 'labels'")
    if empty_classes is not None and len(d["points"]) == 0 and len(d["labels"]) == 0:
        classes = d.get("classes") or empty_classes
        return {
            "points": np.zeros((0, 2)),
            "labels": np.zeros(0, dtype=np.float64 if regression else np.int64),
            "classes": 1 if regression else int(classes),
        }
    X = check_points("data.points", d["points"], int(limits["max_points_train"]))
    labels = d["labels"]
    try:
        y = np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError("data.labels", "data.labels must be a list of numbers") from None
    if y.ndim != 1:
        raise ConfigError("data.labels", "data.labels must be a flat list of numbers")
    if y.shape[0] != X.shape[0]:
        raise ConfigError(
            "data.labels", f"data.labels has {y.shape[0]} values for {X.shape[0]} points"
        )
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ConfigError(f"data.labels[{bad[0]}]", "labels must be finite numbers")
    if regression:
        if d.get("classes") not in (None, 1):
            raise ConfigError("data.classes", "regression data (loss 'mse') has no classes")
        return {"points": X, "labels": y, "classes": 1}
    classes = _check_class_labels(y, d.get("classes"), int(limits["max_classes"]))
    return {"points": X, "labels": y.astype(np.int64), "classes": classes}


def _check_class_labels(y: np.ndarray, classes: object, max_classes: int) -> int:
    """Labels must be integers 0, 1, 2, ... below ``classes`` (or below ``max_classes``
    when no count is given); returns the class count (at least 2)."""
    bad = np.flatnonzero((y != np.rint(y)) | (y < 0))
    if bad.size:
        raise ConfigError(
            f"data.labels[{bad[0]}]", f"labels must be integers 0, 1, 2, ...; got {y[bad[0]]:g}"
        )
    top = int(y.max())
    if classes is None:
        count = max(top + 1, 2)
        if count > max_classes:
            raise ConfigError(
                "data.labels",
                f"labels go up to {top}: that is {top + 1} classes, more than {max_classes}",
            )
        return count
    count = check_int("data.classes", classes, 2, max_classes)
    bad = np.flatnonzero(y >= count)
    if bad.size:
        raise ConfigError(
            f"data.labels[{bad[0]}]", f"label {int(y[bad[0]])} is not below classes = {count}"
        )
    return count
