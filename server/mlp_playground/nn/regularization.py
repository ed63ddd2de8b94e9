"""Weight penalties, part of the loss and of its gradient; weights only.

``l2`` adds ``0.5 * strength * sum(W^2)`` (gradient ``strength * W``), ``l1`` adds
``strength * sum(|W|)`` (gradient ``strength * sign(W)``, 0 at 0). Biases and PReLU slopes
are never penalised. The model keeps all weight matrices in one contiguous vector, so a
penalty costs two or three NumPy calls whatever the depth.
"""

from __future__ import annotations

import math

import numpy as np

REGULARIZATIONS: list[str] = ["none", "l1", "l2"]


def check_regularization(kind: object, strength: object) -> tuple[str, float]:
    if not isinstance(kind, str) or kind not in REGULARIZATIONS:
        raise ValueError(f"unknown regularization {kind!r}; valid: {', '.join(REGULARIZATIONS)}")
    try:
        s = float(strength)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"regularization strength must be a number, got {strength!r}") from None
    if not math.isfinite(s) or s < 0.0:
        raise ValueError(f"regularization strength must be finite and >= 0, got {strength!r}")
    return kind, s


def penalty(kind: str, strength: float, weights: np.ndarray, grad: np.ndarray | None) -> float:
    """Return the penalty of the flat ``weights`` and add its gradient into ``grad`` in place."""
    if kind == "none" or strength == 0.0:
        return 0.0
    if kind == "l2":
        if grad is not None:
            grad += strength * weights
        return 0.5 * strength * float(np.dot(weights, weights))
    if kind == "l1":
        if grad is not None:
            grad += strength * np.sign(weights)
        return strength * float(np.abs(weights).sum())
    raise ValueError(f"unknown regularization {kind!r}; valid: {', '.join(REGULARIZATIONS)}")


def penalty_of_entry(kind: str, strength: float, w: float) -> float:
    """The penalty contributed by one weight (used by the gradient check)."""
    if kind == "l2":
        return 0.5 * strength * w * w
    if kind == "l1":
        return strength * abs(w)
    return 0.0
