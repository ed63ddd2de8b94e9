"""Data losses on the scores of the linear output layer: each returns ``(loss, dscores)``.

``dscores`` is d loss / d scores with the ``1/N`` of the batch mean already applied, so the
backward pass needs no further scaling. All three are finite for scores of +-1e4.

- ``cross_entropy``: mean over the batch of ``-log softmax(s)_y``. The softmax is shifted by
  the row maximum. With two classes the loss is computed as the logistic of the score
  difference ``d = s_1 - s_0`` with ``logaddexp`` (about half the NumPy calls).
- ``hinge``: mean over the batch of ``sum_{j != y} max(0, 1 + s_j - s_y)`` (the multiclass
  SVM / Weston-Watkins loss of CS231n). PyTorch's ``nn.MultiMarginLoss`` divides this sum by
  the number of classes K as well, so its value is ours / K.
- ``mse`` (regression; the model has one linear output per target): mean over the batch of
  ``0.5 * sum_k (s_k - t_k)^2``. The 0.5 makes the gradient ``(s - t) / N``; note that
  ``torch.nn.MSELoss`` has no 0.5 and also averages over outputs, so its value is twice ours
  for a single output. Targets may be ``(N,)`` or ``(N, n_outputs)`` floats.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_ARANGE: dict[int, np.ndarray] = {}
_SIGN = np.array([1.0, -1.0])  # 1 - 2y for y in {0, 1}
_DIFF = np.array([-1.0, 1.0])  # scores @ _DIFF = s_1 - s_0


def _arange(n: int) -> np.ndarray:
    a = _ARANGE.get(n)
    if a is None:
        a = _ARANGE[n] = np.arange(n)
    return a


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, max-shifted; the two-class case is the logistic of the difference."""
    if scores.shape[1] == 2:
        p = np.empty_like(scores)
        d = scores[:, 1] - scores[:, 0]
        d *= 0.5
        np.tanh(d, out=d)  # sigmoid(x) = 0.5 + 0.5 tanh(x / 2): no overflow for any x
        d *= 0.5
        np.add(d, 0.5, out=p[:, 1])
        np.subtract(1.0, p[:, 1], out=p[:, 0])
        return p
    e = scores - scores.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n, k = scores.shape
    if k == 2:
        # loss_n = softplus(z_n) with z = (1 - 2 y) * (s_1 - s_0); d loss / dz = sigmoid(z).
        # Ten NumPy calls in all, against ~20 for the general max-shifted softmax.
        sgn = _SIGN.take(y)
        z = scores.dot(_DIFF)
        z *= sgn
        lse = np.logaddexp(0.0, z)
        loss = np.add.reduce(lse) / n
        z -= lse
        np.exp(z, out=z)  # sigmoid(z) = exp(z - softplus(z)), stable for any z
        z *= sgn
        return float(loss), np.multiply.outer(z, np.array((-1.0 / n, 1.0 / n)))
    rows = _arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)
    ds = np.exp(shifted)
    total = ds.sum(axis=1)
    loss = (np.log(total).sum() - shifted[rows, y].sum()) / n
    ds /= total[:, None]
    ds[rows, y] -= 1.0
    ds *= 1.0 / n
    return float(loss), ds


def hinge(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n = scores.shape[0]
    rows = _arange(n)
    margins = scores - scores[rows, y][:, None]
    margins += 1.0
    margins[rows, y] = 0.0
    np.maximum(margins, 0.0, out=margins)
    loss = margins.sum() / n
    ds = (margins > 0.0).astype(np.float64)
    ds[rows, y] = -ds.sum(axis=1)
    ds *= 1.0 / n
    return float(loss), ds


def mse(scores: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    n = scores.shape[0]
    ds = scores - t.reshape(scores.shape)
    loss = 0.5 * float(np.vdot(ds, ds)) / n
    ds *= 1.0 / n
    return loss, ds


LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
LOSS_FUNCTIONS: dict[str, LossFn] = {"cross_entropy": cross_entropy, "hinge": hinge, "mse": mse}
LOSSES: list[str] = list(LOSS_FUNCTIONS)
CLASSIFICATION_LOSSES = frozenset({"cross_entropy", "hinge"})


def check_loss(name: object) -> str:
    if not isinstance(name, str) or name not in LOSS_FUNCTIONS:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")
    return name
