"""Numerical gradient check, the lecture's "toujours vérifier la validité d'un gradient".

For each checked entry ``w`` the numerical derivative is the centred difference
``(E(w + h) - E(w - h)) / 2h`` (error O(h^2), against O(h) for the slide's one-sided
difference), compared with backprop's value through the relative error
``|a - n| / max(|a|, |n|, tiny)``. Dropout masks are drawn once and held fixed, otherwise
the loss would not be a function of the weights.

Speed: perturbing a parameter of layer ``L`` cannot change layers below ``L``, so their
outputs are computed once and each evaluation restarts from layer ``L``; the penalty's
difference is computed from the one perturbed weight rather than the whole vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .losses import check_loss
from .model import MLP
from .regularization import check_regularization, penalty_of_entry

TINY = 1e-12
DEFAULT_TOLERANCE = 1e-5  # "passed" threshold on the worst relative error (kinks aside)


@dataclass
class GradCheckResult:
    rows: list[dict] = field(default_factory=list)
    worst_relative_error: float = 0.0
    passed: bool = True


def relative_error(a: float, n: float) -> float:
    return abs(a - n) / max(abs(a), abs(n), TINY)


def gradient_check(
    model: MLP,
    X,
    y,
    loss: str = "cross_entropy",
    regularization: str = "none",
    strength: float = 0.0,
    max_per_parameter: int | None = None,
    rng: np.random.Generator | None = None,
    epsilon: float = 1e-5,
    tolerance: float = DEFAULT_TOLERANCE,
) -> GradCheckResult:
    """Compare backprop with centred differences on every parameter tensor.

    ``max_per_parameter`` samples that many entries per tensor (without replacement, with
    ``rng``; all entries when None or when the tensor is smaller). The model's weights are
    restored exactly and its own RNG is not used (masks come from ``rng``); ``model.grads``
    is left holding the analytic gradient.
    """
    check_loss(loss)
    regularization, strength = check_regularization(regularization, strength)
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    if max_per_parameter is not None and (
        isinstance(max_per_parameter, bool)
        or not isinstance(max_per_parameter, (int, np.integer))
        or max_per_parameter < 1
    ):
        raise ValueError(f"max_per_parameter must be a positive integer, got {max_per_parameter!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    X = model._check_X(X)
    y = model._check_y(y, loss, X.shape[0])
    masks = model.make_masks(X.shape[0], rng) if model.dropout > 0 and model.hidden_layers else None

    model.loss_and_grads(X, y, loss, regularization, strength, masks=masks)
    # Inputs of every layer with the masks applied (the unchanged prefix for layer L).
    inputs = [X]
    for i, layer in enumerate(model.layers[:-1]):
        h = layer.a if masks is None else layer.a * masks[i]
        inputs.append(h.copy())

    result = GradCheckResult()
    check = _Entries(model, inputs, y, loss, regularization, strength, masks, epsilon)
    for name, p in model.params.items():
        flat_p = p.reshape(-1)
        if max_per_parameter is None or max_per_parameter >= flat_p.size:
            picks = np.arange(flat_p.size)
        else:
            picks = np.sort(rng.choice(flat_p.size, size=max_per_parameter, replace=False))
        analytic = model.grads[name].reshape(-1).copy()
        for k in picks:
            result.rows.append(check.entry(name, p, int(k), float(analytic[k])))
            result.worst_relative_error = max(
                result.worst_relative_error, result.rows[-1]["relative_error"]
            )
    result.passed = bool(result.worst_relative_error < tolerance)
    return result


class _Entries:
    """Centred differences of one entry at a time, against the analytic gradient that
    ``model.grads`` holds (only the layers from the entry's own on are re-evaluated)."""

    def __init__(
        self,
        model: MLP,
        inputs: list[np.ndarray],
        y: np.ndarray,
        loss: str,
        regularization: str,
        strength: float,
        masks: list[np.ndarray] | None,
        epsilon: float,
    ) -> None:
        self.model, self.inputs, self.y, self.loss = model, inputs, y, loss
        self.regularization, self.strength = regularization, strength
        self.masks, self.epsilon = masks, epsilon

    def entry(self, name: str, p: np.ndarray, k: int, a: float) -> dict:
        """Row of entry ``k`` of parameter ``name`` (``p``) whose analytic derivative is ``a``."""
        layer_index = int(name[5 : name.index(".")])
        flat_p, eps = p.reshape(-1), self.epsilon
        h_in, data_loss_from = self.inputs[layer_index], self.model.data_loss_from
        w = flat_p[k]
        flat_p[k] = w + eps
        plus = data_loss_from(layer_index, h_in, self.y, self.loss, self.masks)
        flat_p[k] = w - eps
        minus = data_loss_from(layer_index, h_in, self.y, self.loss, self.masks)
        flat_p[k] = w
        numerical = (plus - minus) / (2.0 * eps)
        if name.endswith(".W") and self.regularization != "none":
            reg, strength = self.regularization, self.strength
            numerical += (
                penalty_of_entry(reg, strength, w + eps) - penalty_of_entry(reg, strength, w - eps)
            ) / (2.0 * eps)
        return {
            "parameter": name,
            "index": [int(i) for i in np.unravel_index(k, p.shape)],
            "analytic": a,
            "numerical": float(numerical),
            "relative_error": relative_error(a, numerical),
        }
