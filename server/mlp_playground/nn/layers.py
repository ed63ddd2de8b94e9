"""The dense layer and the parameter dictionary shared by the model and the optimisers.

CS231n style: a layer holds references to its parameters and gradients, ``forward`` keeps
what ``backward`` needs (on the layer itself rather than in a returned cache tuple, which
saves a tuple per call), and ``backward`` writes the parameter gradients in place.

All parameters of a model live in one contiguous float64 vector (and all gradients in
another); ``model.params["dense0.W"]`` is a reshaped *view* into it. That lets the
optimisers and the regulariser update every parameter with a handful of NumPy calls,
which is what bounds the speed of a small net (docs/design.md, "The engine", speed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import numpy as np

from .activations import FUNCTIONS


class ParamDict(dict):
    """``name -> ndarray`` whose arrays are views into one flat buffer ``self.flat``.

    Assigning ``d[name] = array`` copies the values *into* the existing view (same shape
    required) so the flat buffer stays authoritative; adding or removing names is refused,
    since the set of parameters only changes through the model's shape-surgery methods.
    ``dict(d)`` or ``{k: v.copy() ...}`` give plain snapshots (the former still shares
    memory with the model, so copy the arrays to keep a rollback point).
    """

    flat: np.ndarray
    layout: tuple[tuple[str, tuple[int, ...], int, int], ...]  # (name, shape, start, stop)

    def __init__(self, flat: np.ndarray, layout) -> None:
        super().__init__()
        self.flat = flat
        self.layout = layout
        for name, shape, start, stop in layout:
            dict.__setitem__(self, name, flat[start:stop].reshape(shape))

    def __setitem__(self, name: str, value) -> None:
        if name not in self:
            raise KeyError(f"unknown parameter {name!r}; valid: {', '.join(self)}")
        target = dict.__getitem__(self, name)
        value = np.asarray(value, dtype=np.float64)
        if value.shape != target.shape:
            raise ValueError(
                f"{name}: expected shape {target.shape}, got {value.shape} "
                "(use the model's shape-surgery methods to change shapes)"
            )
        np.copyto(target, value)

    def update(self, other: Mapping | Iterable = (), **kw) -> None:  # type: ignore[override]
        for k, v in dict(other, **kw).items():
            self[k] = v

    def __reduce__(self):  # copy/pickle: an independent buffer with the same layout
        return (ParamDict, (self.flat.copy(), self.layout))

    def _refuse(self, *args, **kw):
        raise TypeError("parameters are added or removed only by the model's shape surgery")

    __delitem__ = pop = popitem = clear = setdefault = _refuse


class Dense:
    """``out = f(x @ W + b)`` with W of shape (n_in, n_out), batch first.

    ``mask`` (forward) is an inverted-dropout mask already scaled by ``1 / (1 - p)``, applied
    after the activation; ``backward`` reuses it so the gradient matches the forward.
    """

    __slots__ = (
        "W", "a", "activation", "alpha", "aux", "b", "bwd", "fwd", "gW", "galpha", "gb",
        "index", "mask", "x",
    )  # fmt: skip

    W: np.ndarray
    b: np.ndarray
    gW: np.ndarray
    gb: np.ndarray
    alpha: np.ndarray | None  # PReLU slopes (and their gradient below); None otherwise
    galpha: np.ndarray | None
    # What forward keeps for backward; Any because they are None until the first forward
    # (typing them Optional would put a check on every use in the hot path).
    x: Any
    a: Any
    aux: Any
    mask: np.ndarray | None

    def __init__(self, index: int, activation: str, params: ParamDict, grads: ParamDict):
        self.index = index
        self.activation = activation
        self.fwd, self.bwd = FUNCTIONS[activation]
        p = f"dense{index}."
        self.W, self.b = params[p + "W"], params[p + "b"]
        self.gW, self.gb = grads[p + "W"], grads[p + "b"]
        self.alpha = params.get(p + "alpha")
        self.galpha = grads.get(p + "alpha")
        self.x = self.a = self.aux = self.mask = None

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        z = x.dot(self.W)  # ndarray.dot: the cheapest matrix product call for tiny arrays
        z += self.b
        a, self.aux = self.fwd(z, self.alpha)
        self.x, self.a, self.mask = x, a, mask
        return a if mask is None else a * mask

    @overload
    def backward(self, dout: np.ndarray, need_dx: Literal[True] = ...) -> np.ndarray: ...
    @overload
    def backward(self, dout: np.ndarray, need_dx: Literal[False]) -> None: ...

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Fill ``gW``, ``gb`` (and ``galpha``) from d loss / d out; return d loss / d x.

        ``dout`` is overwritten (it is always a fresh array owned by the backward pass).
        """
        if self.mask is not None:
            dout *= self.mask
        dz = self.bwd(dout, self.a, self.aux, self.alpha, self.galpha)
        np.dot(self.x.T, dz, out=self.gW)
        # Positional arguments: the cheapest call (numpy's stubs only type the keywords).
        np.add.reduce(dz, 0, None, self.gb)  # type: ignore[call-overload]
        return dz.dot(self.W.T) if need_dx else None

    def evaluate_t(self, xt: np.ndarray, out: np.ndarray, Wt: np.ndarray, b: np.ndarray):
        """``evaluate`` in the transposed layout: ``xt`` (inputs, N) -> ``out`` (units, N).

        A row-major (N, units) grid adds the bias and applies the activation over rows of
        8 values; unit-major, every NumPy loop runs over N contiguous cells (a 100x100 grid
        pass of an 8-8 net: 360 -> 160 us).
        """
        np.dot(Wt, xt, out=out)
        out += b[:, None]
        alpha = None if self.alpha is None else self.alpha.astype(out.dtype)[:, None]
        return self.fwd(out, alpha)[0]

    def evaluate(self, x: np.ndarray, out: np.ndarray, W: np.ndarray, b: np.ndarray):
        """Inference into a preallocated ``out`` (grids): nothing cached, nothing learned."""
        np.dot(x, W, out=out)
        out += b
        alpha = None if self.alpha is None else self.alpha.astype(out.dtype)
        return self.fwd(out, alpha)[0]


def evaluate_unit_major(
    layers: list[Dense], X: np.ndarray, cache: dict, hidden: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """float32 inference of ``X`` (N, inputs) through ``layers``, unit-major throughout.

    Returns the output layer's (outputs, N) scores (a buffer, reused by the next call) and,
    if ``hidden``, each hidden layer's (N, units) output (a transposed view of a fresh
    copy). The buffers are kept in ``cache`` for one N at a time: the input, and two
    buffers as wide as the widest layer that the layers write into in turn. One per layer
    would keep 100 MB per session for a 10 x 256 net on a 100 x 100 grid.
    """
    n = X.shape[0]
    key = (n, "unit-major")
    bufs = cache.get(key)
    if bufs is None:
        cache.clear()  # one grid size at a time: keep memory bounded
        bufs = ping_pong_buffers(X.shape[1], layers, n, np.float32, unit_major=True)
        cache[key] = bufs
    h = bufs[0]
    np.copyto(h, X.T, casting="same_kind")
    outs = []
    f32 = np.float32
    last = layers[-1]
    for i, layer in enumerate(layers):
        out = bufs[1 + i % 2][: layer.W.shape[1]]
        h = layer.evaluate_t(h, out, layer.W.T.astype(f32), layer.b.astype(f32))
        if hidden and layer is not last:
            outs.append(h.copy().T)
    return h, outs


def ping_pong_buffers(
    n_inputs: int, layers: list[Dense], n: int, dtype: Any, unit_major: bool
) -> list[np.ndarray]:
    """An input buffer and two output buffers as large as the widest layer's output, for
    inference that writes layer ``i``'s output into buffer ``1 + i % 2``: a leading block
    of it, contiguous either way (the first rows of a unit-major ``(width, n)`` buffer, or
    the first ``n * units`` items of a flat one reshaped to ``(n, units)``)."""
    width = max(layer.W.shape[1] for layer in layers)
    if unit_major:
        return [np.empty((n_inputs, n), dtype), *(np.empty((width, n), dtype) for _ in range(2))]
    return [np.empty((n, n_inputs), dtype), *(np.empty(width * n, dtype) for _ in range(2))]
