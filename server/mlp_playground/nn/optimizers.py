"""Optimisers with torch.optim's update formulas and defaults (docs/design.md, "The engine").

With ``g`` the gradient, ``lr`` the learning rate and ``t`` the step number (from 1):

- ``sgd``       ``w -= lr * g``
- ``momentum``  ``v = momentum * v + g; w -= lr * v``  (torch SGD(momentum=0.9); also the
  lecture's form)
- ``nesterov``  ``v = momentum * v + g; w -= lr * (g + momentum * v)``  (torch nesterov=True)
- ``adagrad``   ``s += g^2; w -= lr * g / (sqrt(s) + epsilon)``  (initial accumulator 0,
  epsilon 1e-10, added after the square root, as torch)
- ``rmsprop``   ``s = decay_rate * s + (1 - decay_rate) * g^2; w -= lr * g / (sqrt(s) +
  epsilon)``  (torch's ``alpha`` is our ``decay_rate``, 0.99; epsilon 1e-8 after the root)
- ``adam``      ``m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
  w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)``  (torch's form:
  epsilon is added to the root of the bias-corrected ``v``)

The lecture writes AdaGrad, RMSProp and Adam with ``|g|`` where these use ``g^2`` and a
square root; we implement the standard (torch) versions.

Default learning rates are chosen for the playground (2D data, batch ~10, a few thousand
steps to a clean boundary), not copied from torch: see ``OPTIMIZERS``.

State is keyed by parameter name. When the parameters are a model's ``ParamDict`` (views
into one flat buffer) the state is kept as flat buffers too, so one update costs a fixed
handful of NumPy calls whatever the number of layers; otherwise it is updated name by name.
State whose shape no longer matches its parameter (after shape surgery) is dropped and
starts afresh, as does Adam's step count for that parameter. ``state_dict`` /
``load_state_dict`` are the one public door to that state (a saved session resumes
through them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .layers import ParamDict

OPTIMIZERS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 0.1},
    "momentum": {"learning_rate": 0.03, "momentum": 0.9},
    "nesterov": {"learning_rate": 0.03, "momentum": 0.9},
    "adagrad": {"learning_rate": 0.1, "epsilon": 1e-10},
    "rmsprop": {"learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}

_SLOTS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "adagrad": ("sum",),
    "rmsprop": ("square_avg",),
    "adam": ("m", "v"),
}


def _check_hparam(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if name in ("learning_rate", "epsilon"):
        if v <= 0.0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    elif not 0.0 <= v < 1.0:  # momentum, decay_rate, beta1, beta2
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


class Optimizer:
    """One update rule with its hyper-parameters and per-parameter state."""

    def __init__(self, name: str, **hparams: float) -> None:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
        self.name = name
        self._h: dict[str, float] = dict(OPTIMIZERS[name])
        self.set(**hparams)
        self.reset()

    @property
    def hparams(self) -> dict[str, float]:
        return dict(self._h)

    def set(self, **hparams: float) -> None:
        """Change hyper-parameters; the state (velocities, averages, step counts) is kept."""
        checked = {}
        for k, v in hparams.items():
            if k not in self._h:
                raise ValueError(
                    f"unknown hyper-parameter {k!r} for {self.name}; valid: {', '.join(self._h)}"
                )
            checked[k] = _check_hparam(k, v)
        self._h.update(checked)

    def reset(self) -> None:
        """Forget all state (as if the optimiser had just been created)."""
        self._layout: tuple[tuple[str, tuple[int, ...], int, int], ...] | None = None
        # ^ layout of the flat state, when in flat mode
        self._flat: dict[str, np.ndarray] = {}
        self._state: dict[str, dict[str, np.ndarray]] = {}  # name -> slot -> array (views)
        self._steps: dict[str, int] = {}
        self._scratch: np.ndarray | None = None

    @property
    def state(self) -> dict[str, dict[str, np.ndarray]]:
        """name -> {slot: array} (read-only inspection; arrays are live)."""
        return {k: dict(v) for k, v in self._state.items()}

    @property
    def steps(self) -> dict[str, int]:
        return dict(self._steps)

    # ---------------------------------------------------------------- resumable state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to carry on exactly (PyTorch's meaning): ``name``,
        ``hparams``, ``state`` (parameter name -> slot -> array) and ``steps`` (parameter
        name -> updates made, Adam's bias correction). Arrays are copies: the optimiser
        updates its own in place on the next step."""
        return {
            "name": self.name,
            "hparams": dict(self._h),
            "state": {k: {s: np.array(a) for s, a in v.items()} for k, v in self._state.items()},
            "steps": {k: int(v) for k, v in self._steps.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take ``state`` (from ``state_dict`` of an optimiser of the same name).

        Everything is checked before anything is assigned: another optimiser's name, a
        missing key, a wrong slot or step count, or slots of different shapes raise
        ``ValueError`` naming it and leave this optimiser as it was. The state is matched to
        the parameters by name on the next ``step`` (state whose shape no longer fits its
        parameter starts afresh, as after shape surgery).
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"optimizer state must be a mapping, got {type(state).__name__}")
        for key in ("name", "hparams", "state", "steps"):
            if key not in state:
                raise ValueError(f"optimizer state has no {key!r}")
        if state["name"] != self.name:
            raise ValueError(f"optimizer state is for {state['name']!r}, not {self.name!r}")
        hparams, raw, raw_steps = state["hparams"], state["state"], state["steps"]
        if not isinstance(hparams, Mapping) or set(hparams) != set(self._h):
            raise ValueError(
                f"optimizer hparams must be exactly {', '.join(self._h)}, got {hparams!r}"
            )
        h = {k: _check_hparam(k, v) for k, v in hparams.items()}
        slots = _SLOTS[self.name]
        if not isinstance(raw, Mapping) or not isinstance(raw_steps, Mapping):
            raise ValueError("optimizer state and steps must be mappings")
        if set(raw_steps) != set(raw):
            raise ValueError(f"optimizer steps name {sorted(raw_steps)}, its state {sorted(raw)}")
        named: dict[str, dict[str, np.ndarray]] = {}
        steps: dict[str, int] = {}
        for name, per_slot in raw.items():
            if not isinstance(per_slot, Mapping) or set(per_slot) != set(slots):
                got = sorted(per_slot) if isinstance(per_slot, Mapping) else per_slot
                raise ValueError(
                    f"optimizer state {name!r}: slots must be {list(slots)}, got {got}"
                )
            try:
                arrays = {s: np.array(per_slot[s], dtype=np.float64) for s in slots}
            except (TypeError, ValueError) as exc:
                raise ValueError(f"optimizer state {name!r}: {exc}") from None
            shapes = {a.shape for a in arrays.values()}
            if len(shapes) > 1:
                raise ValueError(f"optimizer state {name!r}: slots of different shapes {shapes}")
            t = raw_steps[name]
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
                raise ValueError(f"optimizer steps {name!r} must be a non-negative integer")
            named[name], steps[name] = arrays, int(t)
        self.reset()
        self._h = h
        self._state, self._steps = named, steps

    # ---------------------------------------------------------------- state management
    def _adopt_layout(self, layout) -> None:
        """Switch the state to flat buffers matching ``layout``, keeping every slot whose
        parameter still exists with the same shape."""
        total = layout[-1][3] if layout else 0
        slots = _SLOTS[self.name]
        flat = {s: np.zeros(total) for s in slots}
        state: dict[str, dict[str, np.ndarray]] = {}
        steps: dict[str, int] = {}
        for name, shape, start, stop in layout:
            views = {s: flat[s][start:stop].reshape(shape) for s in slots}
            old = self._state.get(name)
            if old is not None and all(old[s].shape == shape for s in slots):
                for s in slots:
                    np.copyto(views[s], old[s])
                steps[name] = self._steps.get(name, 0)
            else:
                steps[name] = 0
            state[name] = views
        self._layout, self._flat, self._state, self._steps = layout, flat, state, steps
        self._scratch = np.empty(total)

    def _named_slots(self, name: str, p: np.ndarray) -> dict[str, np.ndarray]:
        st = self._state.get(name)
        if st is None or any(a.shape != p.shape for a in st.values()):
            st = {s: np.zeros_like(p) for s in _SLOTS[self.name]}
            self._state[name] = st
            self._steps[name] = 0
        return st

    # ---------------------------------------------------------------- update
    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update ``params`` in place from ``grads``."""
        if isinstance(params, ParamDict) and isinstance(grads, ParamDict):
            layout = params.layout
            if layout is not self._layout:
                if grads.layout != layout:
                    raise ValueError("params and grads have different layouts")
                if layout != self._layout:
                    self._adopt_layout(layout)
                self._layout = layout
            steps = self._steps
            scratch = self._scratch
            assert scratch is not None  # set with the layout
            if self.name != "adam":
                self._update(params.flat, grads.flat, self._flat, 0, scratch)
                return
            ts = set(steps.values())
            if len(ts) == 1:
                t = ts.pop() + 1
                for k in steps:
                    steps[k] = t
                self._update(params.flat, grads.flat, self._flat, t, scratch)
                return
            # Adam after shape surgery: parameters are at different step counts.
            for name, _shape, start, stop in layout:
                t = steps[name] = steps[name] + 1
                self._update(
                    params.flat[start:stop],
                    grads.flat[start:stop],
                    {s: a[start:stop] for s, a in self._flat.items()},
                    t,
                    scratch[start:stop],
                )
            return
        if self._layout is not None:  # leaving flat mode: keep the named views' values
            self._state = {k: {s: a.copy() for s, a in v.items()} for k, v in self._state.items()}
            self._layout, self._flat = None, {}
        for name, p in params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"gradient {name} has shape {g.shape}, parameter {p.shape}")
            st = self._named_slots(name, p)
            t = self._steps[name] = self._steps[name] + 1
            self._update(p, g, st, t, np.empty_like(p))

    def _update(self, p, g, st, t: int, tmp: np.ndarray) -> None:
        h = self._h
        lr = h["learning_rate"]
        name = self.name
        if name == "sgd":
            np.multiply(g, lr, out=tmp)
            p -= tmp
        elif name == "momentum" or name == "nesterov":
            v = st["velocity"]
            v *= h["momentum"]
            v += g
            if name == "momentum":
                np.multiply(v, lr, out=tmp)
            else:
                np.multiply(v, h["momentum"], out=tmp)
                tmp += g
                tmp *= lr
            p -= tmp
        elif name == "adagrad":
            s = st["sum"]
            np.multiply(g, g, out=tmp)
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += h["epsilon"]
            np.divide(g, tmp, out=tmp)
            tmp *= lr
            p -= tmp
        elif name == "rmsprop":
            s = st["square_avg"]
            rho = h["decay_rate"]
            s *= rho
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - rho
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += h["epsilon"]
            np.divide(g, tmp, out=tmp)
            tmp *= lr
            p -= tmp
        else:  # adam
            b1, b2 = h["beta1"], h["beta2"]
            m, v = st["m"], st["v"]
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= math.sqrt(1.0 - b2**t)
            tmp += h["epsilon"]
            np.divide(m, tmp, out=tmp)
            tmp *= lr / (1.0 - b1**t)
            p -= tmp

    def __repr__(self) -> str:
        return f"Optimizer({self.name!r}, {self._h})"


def make_optimizer(name: str, **hparams: float) -> Optimizer:
    """An optimiser by name with defaults from ``OPTIMIZERS`` overridden by ``hparams``."""
    return Optimizer(name, **hparams)
