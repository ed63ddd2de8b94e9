"""Hidden-layer activations, each with its derivative right next to it.

Every activation is a pair of functions working *in place* so that a training step on a
small net makes as few NumPy calls (and allocations) as possible:

- ``forward(z, alpha) -> (a, aux)`` overwrites the pre-activation ``z`` with the output
  ``a`` and returns whatever the derivative needs besides ``a`` (``aux``, usually ``None``);
- ``backward(da, a, aux, alpha, galpha) -> dz`` overwrites the upstream gradient ``da``
  with ``dz = da * f'(z)``; PReLU also writes the gradient of its slopes into ``galpha``.

Derivatives are expressed through the output ``a`` whenever the output determines the
slope (tanh, sigmoid, relu, leaky relu, elu), so ``z`` need not be kept. PReLU's slope can
become negative while learning, so its sign of ``z`` is kept in ``aux``. At the kink
``z == 0`` the relu family uses the left slope, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LEAKY_SLOPE = 0.01  # leaky_relu's fixed negative slope
PRELU_INIT = 0.25  # PReLU's initial learnable slope (He et al. 2015, torch.nn.PReLU)
ELU_ALPHA = 1.0


# --- sigmoid: computed as 0.5 * tanh(z / 2) + 0.5, which never overflows (exp(-z) would).
def sigmoid_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z, None


def sigmoid_backward(da, a, aux, alpha=None, galpha=None):  # sigma' = a (1 - a)
    t = 1.0 - a
    t *= a
    da *= t
    return da


# --- tanh
def tanh_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    np.tanh(z, out=z)
    return z, None


def tanh_backward(da, a, aux, alpha=None, galpha=None):  # tanh' = 1 - a^2
    t = a * a
    np.subtract(1.0, t, out=t)
    da *= t
    return da


# --- relu
def relu_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    np.maximum(z, 0.0, out=z)
    return z, None


def relu_backward(da, a, aux, alpha=None, galpha=None):  # 1 where a > 0, else 0
    da *= a > 0.0
    return da


# --- leaky relu (slope 0.01 for z < 0): max(z, 0.01 z)
def leaky_relu_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    np.maximum(z, LEAKY_SLOPE * z, out=z)
    return z, None


def leaky_relu_backward(da, a, aux, alpha=None, galpha=None):  # sign(a) == sign(z)
    da *= np.where(a > 0.0, 1.0, LEAKY_SLOPE)
    return da


# --- prelu: max(z, 0) + alpha * min(z, 0), one learnable alpha per unit
def prelu_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
    neg = np.minimum(z, 0.0)
    np.maximum(z, 0.0, out=z)
    pos = z > 0.0
    z += neg * alpha
    return z, (neg, pos)


def prelu_backward(da, a, aux, alpha=None, galpha=None):
    neg, pos = aux
    # d/d alpha_j = sum_n da_nj * min(z_nj, 0); d/dz = 1 for z > 0, alpha for z <= 0
    np.add.reduce(da * neg, axis=0, out=galpha)
    da *= np.where(pos, 1.0, alpha)
    return da


# --- elu (alpha 1): z for z > 0, exp(z) - 1 otherwise; equals max(z, expm1(min(z, 0)))
def elu_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    np.maximum(z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)), out=z)
    return z, None


def elu_backward(da, a, aux, alpha=None, galpha=None):  # 1 for z > 0, a + 1 = exp(z) else
    t = a + ELU_ALPHA
    np.minimum(t, 1.0, out=t)
    da *= t
    return da


# --- linear (identity)
def linear_forward(z: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, None]:
    return z, None


def linear_backward(da, a, aux, alpha=None, galpha=None):
    return da


Forward = Callable[[np.ndarray, "np.ndarray | None"], tuple]
Backward = Callable[..., np.ndarray]

FUNCTIONS: dict[str, tuple[Forward, Backward]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "prelu": (prelu_forward, prelu_backward),
    "elu": (elu_forward, elu_backward),
    "linear": (linear_forward, linear_backward),
}

ACTIVATIONS: list[str] = list(FUNCTIONS)
RELU_FAMILY = frozenset({"relu", "leaky_relu", "prelu"})


def check_activation(name: object) -> str:
    """Return ``name`` if it is a known activation, else raise ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in FUNCTIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return name


def apply(name: str, z: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """Out-of-place convenience: ``f(z)`` without touching ``z`` (for tests and plots)."""
    out, _ = FUNCTIONS[check_activation(name)][0](np.array(z, dtype=float), alpha)
    return out
