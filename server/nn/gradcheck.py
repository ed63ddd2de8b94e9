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
    params, grads = model.params, model.grads
    for name, p in params.items():
        layer_index = int(name[5 : name.index(".")])
        is_weight = name.endswith(".W")
        flat_p = p.reshape(-1)
        analytic = grads[name].reshape(-1).copy()
        if max_per_parameter is None or max_per_parameter >= flat_p.size:
            picks = np.arange(flat_p.size)
        else:
            picks = np.sort(rng.choice(flat_p.size, size=max_per_parameter, replace=False))
        h_in = inputs[layer_index]
        for k in picks:
            w = flat_p[k]
            flat_p[k] = w + epsilon
            plus = model.data_loss_from(layer_index, h_in, y, loss, masks)
            flat_p[k] = w - epsilon
            minus = model.data_loss_from(layer_index, h_in, y, loss, masks)
            flat_p[k] = w
            numerical = (plus - minus) / (2.0 * epsilon)
            if is_weight and regularization != "none":
                numerical += (
                    penalty_of_entry(regularization, strength, w + epsilon)
                    - penalty_of_entry(regularization, strength, w - epsilon)
                ) / (2.0 * epsilon)
            a = float(analytic[k])
            err = relative_error(a, numerical)
            result.rows.append(
                {
                    "parameter": name,
                    "index": [int(i) for i in np.unravel_index(k, p.shape)],
                    "analytic": a,
                    "numerical": float(numerical),
                    "relative_error": err,
                }
            )
            result.worst_relative_error = max(result.worst_relative_error, err)
    result.passed = bool(result.worst_relative_error < tolerance)
    return result
