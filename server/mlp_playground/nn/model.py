"""The multilayer perceptron: dense hidden layers, a linear output layer, one RNG.

Parameters are named ``dense{i}.W`` (n_in, n_out), ``dense{i}.b`` (n_out,) and, for PReLU
layers, ``dense{i}.alpha`` (n_out,); layer ``i`` is the i-th dense layer, the last one is
the output layer. They live in one flat float64 buffer (weights first, so regularisation
and optimisers touch them in a few calls); ``params`` / ``grads`` are name -> view
dictionaries (see ``layers.ParamDict``). Shape surgery (the edits are ``surgery``'s
functions) rebuilds the buffer, copying every value that keeps its place bit for bit.
"""

from __future__ import annotations

import copy as _copy
import math
from dataclasses import dataclass

import numpy as np

from . import activations as act
from . import surgery
from .initializers import check_initializer, initialize
from .layers import Dense, ParamDict, evaluate_unit_major, ping_pong_buffers
from .losses import CLASSIFICATION_LOSSES, LOSS_FUNCTIONS, check_loss, softmax
from .regularization import check_regularization, penalty
from .stats import hidden_layer_stats
from .surgery import Structure, positive_int

# From this many rows on, inference reuses preallocated buffers: big fresh arrays cost page
# faults on every pass (docs/design.md, "The engine"), small ones are cheaper than a cache lookup.
BUFFERED_MIN_ROWS = 2048


@dataclass(slots=True)
class LossResult:
    """Losses of one evaluation: the data part, the weight penalty, their sum; raw scores."""

    data_loss: float
    reg_loss: float
    total_loss: float
    scores: np.ndarray


class MLP:
    """A fully connected network ``n_inputs -> hidden_layers... -> n_outputs`` (linear)."""

    def __init__(
        self,
        n_inputs: int,
        hidden_layers: list[int],
        n_outputs: int,
        activation: str | list[str] = "tanh",
        init: str = "xavier",
        dropout: float = 0.0,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        self.n_inputs = positive_int(n_inputs, "n_inputs")
        self.n_outputs = positive_int(n_outputs, "n_outputs")
        if isinstance(hidden_layers, (int, str)) or hidden_layers is None:
            raise ValueError(f"hidden_layers must be a list of unit counts, got {hidden_layers!r}")
        hidden = [positive_int(u, f"hidden_layers[{i}]") for i, u in enumerate(hidden_layers)]
        if isinstance(activation, str):
            acts = [act.check_activation(activation)] * len(hidden)
        else:
            acts = [act.check_activation(a) for a in activation]
            if len(acts) != len(hidden):
                raise ValueError(
                    f"activation list has {len(acts)} names for {len(hidden)} hidden layers"
                )
        self.init = check_initializer(init)
        self.dropout = dropout  # validated by the property
        if rng is not None and seed is not None:
            raise ValueError("give either rng or seed, not both")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.last_masks: list[np.ndarray] | None = None
        arrays: dict[str, np.ndarray] = {}
        sizes = [self.n_inputs, *hidden, self.n_outputs]
        for i in range(len(sizes) - 1):
            arrays[f"dense{i}.W"] = self._draw((sizes[i], sizes[i + 1]), sizes[i], sizes[i + 1])
        self._build(hidden, acts, arrays)

    # ------------------------------------------------------------------ structure
    @property
    def dropout(self) -> float:
        return self._dropout

    @dropout.setter
    def dropout(self, p: float) -> None:
        try:
            p = float(p)
        except (TypeError, ValueError):
            raise ValueError(f"dropout must be a number in [0, 1), got {p!r}") from None
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (probability of dropping), got {p!r}")
        self._dropout = p

    @property
    def hidden_layers(self) -> list[int]:
        return list(self._hidden)

    @property
    def activations(self) -> list[str]:
        return list(self._acts)

    @property
    def params(self) -> ParamDict:
        return self._params

    @property
    def grads(self) -> ParamDict:
        return self._grads

    @property
    def layers(self) -> list[Dense]:
        return self._layers

    @property
    def weights_flat(self) -> np.ndarray:
        """All weight matrices, concatenated (a view; biases and slopes excluded)."""
        return self._wflat

    def _draw(self, shape, fan_in: int, fan_out: int) -> np.ndarray:
        return initialize(self.init, shape, fan_in, fan_out, self.rng)

    def _build(self, hidden: list[int], acts: list[str], arrays: dict[str, np.ndarray]) -> None:
        """(Re)allocate the flat buffers for this structure and fill them from ``arrays``.

        Missing biases start at 0 and missing PReLU slopes at 0.25.
        """
        sizes = [self.n_inputs, *hidden, self.n_outputs]
        n_layers = len(sizes) - 1
        spec: list[tuple[str, tuple[int, ...]]] = []
        for i in range(n_layers):
            spec.append((f"dense{i}.W", (sizes[i], sizes[i + 1])))
        for i in range(n_layers):
            spec.append((f"dense{i}.b", (sizes[i + 1],)))
            if i < len(acts) and acts[i] == "prelu":
                spec.append((f"dense{i}.alpha", (sizes[i + 1],)))
        layout = []
        offset = 0
        for name, shape in spec:
            size = math.prod(shape)
            layout.append((name, shape, offset, offset + size))
            offset += size
        layout_t = tuple(layout)
        params = ParamDict(np.empty(offset), layout_t)
        grads = ParamDict(np.zeros(offset), layout_t)
        for name, view in params.items():
            if name in arrays:
                np.copyto(view, arrays[name])
            elif name.endswith(".alpha"):
                view.fill(act.PRELU_INIT)
            else:
                view.fill(0.0)
        self._hidden = list(hidden)
        self._acts = list(acts)
        self._params, self._grads = params, grads
        n_w = layout[n_layers - 1][3]
        self._wflat, self._gwflat = params.flat[:n_w], grads.flat[:n_w]
        self._layers = [
            Dense(i, acts[i] if i < len(acts) else "linear", params, grads) for i in range(n_layers)
        ]
        self._hidden_layers = self._layers[:-1]
        self._out_layer = self._layers[-1]
        self._buffers: dict = {}
        self.last_masks = None

    def _arrays(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._params.items()}

    # ------------------------------------------------------------------ shape surgery
    # The edits are nn.surgery's functions; the model hands them its structure and a copy
    # of its arrays and rebuilds its buffers from what they return.
    @property
    def structure(self) -> Structure:
        """Inputs, hidden units and activations, outputs (what shape surgery edits)."""
        return Structure(self.n_inputs, tuple(self._hidden), tuple(self._acts), self.n_outputs)

    def _apply(self, edit: surgery.Edit | None) -> None:
        if edit is not None:
            structure, arrays = edit
            self._build(list(structure.hidden), list(structure.activations), arrays)

    def add_unit(self, layer: int) -> None:
        """Append one unit to hidden ``layer`` (``surgery.add_unit``): a new drawn column of
        W, a zero bias, slope 0.25 for PReLU, and a new drawn row in the next W."""
        self._apply(surgery.add_unit(self.structure, self._arrays(), self._draw, layer))

    def remove_unit(self, layer: int, index: int) -> None:
        """Remove unit ``index`` of hidden ``layer`` with its incoming and outgoing weights."""
        self._apply(surgery.remove_unit(self.structure, self._arrays(), layer, index))

    def add_layer(self, position: int, units: int, activation: str | None = None) -> None:
        """Insert a hidden layer of ``units`` before hidden layer ``position`` (``position ==
        len(hidden_layers)`` appends it below the output layer; ``surgery.add_layer``): the
        layers below keep everything, the new layer and the incoming weights of the one
        above are drawn, its activation defaults to its neighbour's."""
        edit = surgery.add_layer(
            self.structure, self._arrays(), self._draw, position, units, activation
        )
        self._apply(edit)

    def remove_layer(self, position: int) -> None:
        """Remove hidden layer ``position``; the layer above gets drawn incoming weights
        and keeps its biases and slopes (``surgery.remove_layer``)."""
        self._apply(surgery.remove_layer(self.structure, self._arrays(), self._draw, position))

    def set_activation(self, layer: int, name: str) -> None:
        """Change hidden ``layer``'s activation, weights kept (``surgery.set_activation``);
        switching to PReLU adds slopes (0.25), switching away removes them."""
        self._apply(surgery.set_activation(self.structure, self._arrays(), layer, name))

    # ------------------------------------------------------------------ checks
    def _check_X(self, X, finite: bool = True) -> np.ndarray:
        if type(X) is not np.ndarray or X.dtype != np.float64:
            X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (N, {self.n_inputs}), got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("X is empty")
        if finite and not math.isfinite(X.sum()):
            self._check_finite(X)
        return X

    @staticmethod
    def _check_finite(X: np.ndarray) -> None:
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values")

    def _check_y(self, y, loss: str, n: int) -> np.ndarray:
        y = np.asarray(y)
        if loss in CLASSIFICATION_LOSSES:
            if y.shape != (n,):
                raise ValueError(f"y must be {n} integer labels, got shape {y.shape}")
            if y.dtype != np.int64:
                if y.dtype.kind not in "iuf" or not np.array_equal(y, np.round(y)):
                    raise ValueError("y must hold integer class labels for " + loss)
                y = y.astype(np.int64)
            # one reduction checks both ends: negative labels wrap to huge unsigned values
            if np.maximum.reduce(y.view(np.uint64)) >= self.n_outputs:
                raise ValueError(f"labels must be in 0..{self.n_outputs - 1}")
            return y
        y = np.asarray(y, dtype=np.float64)
        if y.size != n * self.n_outputs or y.shape[0] != n:
            raise ValueError(f"targets must have shape ({n},) or ({n}, {self.n_outputs})")
        if not np.isfinite(y).all():
            raise ValueError("targets contain NaN or infinite values")
        return y

    # ------------------------------------------------------------------ forward/backward
    def make_masks(self, n: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Inverted-dropout masks (already scaled by 1/(1-p)) for a batch of ``n``."""
        rng = self.rng if rng is None else rng
        p = self._dropout
        scale = 1.0 / (1.0 - p)
        masks = []
        for units in self._hidden:
            m = rng.random((n, units)) >= p
            masks.append(m * scale)
        return masks

    def forward(self, X, train: bool = False, masks: list[np.ndarray] | None = None) -> np.ndarray:
        """Scores (N, n_outputs). Dropout applies when ``train`` (fresh masks from ``rng``)
        or when ``masks`` is given (held fixed, e.g. for the gradient check)."""
        return self._forward(self._check_X(X), train, masks)

    def _forward(self, X: np.ndarray, train: bool, masks) -> np.ndarray:
        if masks is None and train and self._dropout > 0.0 and self._hidden:
            masks = self.make_masks(X.shape[0])
        self.last_masks = masks
        h = X
        if masks is None:
            for layer in self._hidden_layers:
                h = layer.forward(h)
        else:
            if len(masks) != len(self._hidden):
                raise ValueError(f"expected {len(self._hidden)} dropout masks, got {len(masks)}")
            for layer, m in zip(self._hidden_layers, masks, strict=True):
                h = layer.forward(h, m)
        return self._out_layer.forward(h)

    def loss_and_grads(
        self,
        X,
        y,
        loss: str = "cross_entropy",
        regularization: str = "none",
        strength: float = 0.0,
        train: bool = True,
        masks: list[np.ndarray] | None = None,
    ) -> LossResult:
        """Forward, loss, backward: fills ``self.grads`` and returns the losses."""
        loss_fn = LOSS_FUNCTIONS.get(loss) or LOSS_FUNCTIONS[check_loss(loss)]
        if regularization != "none" or strength != 0.0:
            regularization, strength = check_regularization(regularization, strength)
        X = self._check_X(X, finite=False)
        y = self._check_y(y, loss, X.shape[0])
        scores = self._forward(X, train, masks)
        data_loss, d = loss_fn(scores, y)
        if not math.isfinite(data_loss):  # costs nothing on the happy path
            self._check_finite(X)  # bad inputs raise; diverged weights are the caller's call
        layers = self._layers
        for layer in layers[:0:-1]:
            d = layer.backward(d)
        layers[0].backward(d, need_dx=False)
        reg_loss = penalty(regularization, strength, self._wflat, self._gwflat)
        return LossResult(data_loss, reg_loss, data_loss + reg_loss, scores)

    def loss(
        self,
        X,
        y,
        loss: str = "cross_entropy",
        regularization: str = "none",
        strength: float = 0.0,
    ) -> LossResult:
        """``loss_and_grads(..., train=False)``'s losses, bit for bit, without the backward
        pass (2/3 of the cost of a live frame's metrics); ``self.grads`` is left alone."""
        loss_fn = LOSS_FUNCTIONS.get(loss) or LOSS_FUNCTIONS[check_loss(loss)]
        if regularization != "none" or strength != 0.0:
            regularization, strength = check_regularization(regularization, strength)
        X = self._check_X(X, finite=False)
        y = self._check_y(y, loss, X.shape[0])
        scores = self._forward(X, False, None)
        data_loss = loss_fn(scores, y)[0]
        if not math.isfinite(data_loss):
            self._check_finite(X)
        reg_loss = penalty(regularization, strength, self._wflat, None)
        return LossResult(data_loss, reg_loss, data_loss + reg_loss, scores)

    def data_loss_from(
        self, start: int, h: np.ndarray, y: np.ndarray, loss: str, masks=None
    ) -> float:
        """Data loss evaluating layers ``start..`` from their input ``h`` (no caches kept
        for backward; used by the gradient check to skip the unchanged prefix)."""
        for i in range(start, len(self._layers)):
            layer = self._layers[i]
            z = h @ layer.W
            z += layer.b
            h = layer.fwd(z, layer.alpha)[0]
            if masks is not None and i < len(masks):
                h = h * masks[i]
        return LOSS_FUNCTIONS[loss](h, y)[0]

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X, dtype=None) -> np.ndarray:
        """softmax(scores), dropout off. ``dtype=np.float32`` evaluates in float32 (for grids:
        nothing is learned there). Large inputs go through preallocated buffers (one size
        cached per model, so concurrent calls on one model are not safe); the result is new."""
        return self.predict_proba_and_hidden(X, dtype, hidden=False)[0]

    def predict_proba_and_hidden(
        self, X, dtype=None, hidden: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Probabilities and each hidden layer's output from one forward pass (fresh arrays)."""
        X = self._check_X(X)
        n = X.shape[0]
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        if dtype == np.float64 and n < BUFFERED_MIN_ROWS:
            scores = self._forward(X, False, None)
            outs = [layer.a for layer in self._hidden_layers] if hidden else []
            return softmax(scores), outs
        if dtype == np.float32:  # unit-major (layers.evaluate_unit_major): grids, frames
            scores_t, outs = evaluate_unit_major(self._layers, X, self._buffers, hidden)
            return softmax(scores_t.T), outs
        key = (n, dtype.str)
        bufs = self._buffers.get(key)
        if bufs is None:
            self._buffers.clear()  # one grid size at a time: keep memory bounded
            bufs = ping_pong_buffers(self.n_inputs, self._layers, n, dtype, unit_major=False)
            self._buffers[key] = bufs
        h = bufs[0]
        np.copyto(h, X, casting="same_kind")
        outs = []
        for i, layer in enumerate(self._layers):
            width = layer.W.shape[1]
            out = bufs[1 + i % 2][: n * width].reshape(n, width)  # row-major (n, width)
            h = layer.evaluate(h, out, layer.W.astype(dtype), layer.b.astype(dtype))
            if hidden and layer is not self._out_layer:
                outs.append(h.copy())
        return softmax(h), outs

    def predict_mc(self, X, passes: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Monte-Carlo dropout: mean and std of softmax over ``passes`` stochastic passes."""
        passes = positive_int(passes, "passes")
        X = self._check_X(X)
        probs = np.stack([softmax(self._forward(X, True, None)) for _ in range(passes)])
        return probs.mean(axis=0), probs.std(axis=0)

    def hidden_outputs(self, X) -> list[np.ndarray]:
        """Post-activation output of each hidden layer (dropout off), for neuron pictures."""
        self._forward(self._check_X(X), False, None)
        return [layer.a for layer in self._hidden_layers]

    # ------------------------------------------------------------------ statistics
    def layer_stats(
        self,
        X,
        y,
        loss: str = "cross_entropy",
        regularization: str = "none",
        strength: float = 0.0,
    ) -> list[dict]:
        """Per hidden layer statistics on a batch (``nn.stats.hidden_layer_stats``):
        activation mean/std, saturated and dead fractions, incoming-weight gradient norm,
        histogram. Runs without dropout and overwrites ``self.grads`` (the norms need
        them)."""
        self.loss_and_grads(X, y, loss, regularization, strength, train=False)
        return hidden_layer_stats(self._hidden_layers)

    # ------------------------------------------------------------------ misc
    def copy(self) -> MLP:
        """A deep copy: own buffers, own RNG with the same state."""
        new = MLP.__new__(MLP)
        new.n_inputs, new.n_outputs = self.n_inputs, self.n_outputs
        new.init, new._dropout = self.init, self._dropout
        new.rng = _copy.deepcopy(self.rng)
        new._build(self._hidden, self._acts, self._params)
        new._grads.flat[:] = self._grads.flat
        return new

    def __getstate__(self) -> dict:
        """Pickle/deepcopy support: structure, weights and RNG (caches and grads are not
        kept; the layers' views are rebuilt so they alias the new buffer)."""
        return {
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "init": self.init,
            "dropout": self._dropout,
            "rng": self.rng,
            "hidden": list(self._hidden),
            "activations": list(self._acts),
            "params": {k: v.copy() for k, v in self._params.items()},
        }

    def __setstate__(self, state: dict) -> None:
        self.n_inputs, self.n_outputs = state["n_inputs"], state["n_outputs"]
        self.init, self._dropout, self.rng = state["init"], state["dropout"], state["rng"]
        self._build(state["hidden"], state["activations"], state["params"])

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in [self.n_inputs, *self._hidden, self.n_outputs])
        return f"MLP({sizes}, activations={self._acts}, init={self.init!r}, dropout={self.dropout})"
