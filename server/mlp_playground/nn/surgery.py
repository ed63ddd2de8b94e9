"""Shape surgery: add or remove units and layers, change an activation.

Plain functions from a network's ``Structure`` and parameter arrays (``dense{i}.W``,
``dense{i}.b``, ``dense{i}.alpha``, see model.py) to the edited structure and arrays; they
know nothing of the model object. ``MLP.add_unit`` and its siblings call them and rebuild
the model's flat buffer from the result, so every value that keeps its place is copied
bit for bit. New weights come from ``draw`` (the model's initialiser and RNG); an array an
edit leaves out is filled by the rebuild: biases with 0, PReLU slopes with 0.25.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import activations as act

Draw = Callable[[tuple[int, int], int, int], np.ndarray]
"""``draw(shape, fan_in, fan_out)``: a new weight matrix from the model's initialiser."""
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Structure:
    """A network's shape: input width, hidden unit counts and activations, output width."""

    n_inputs: int
    hidden: tuple[int, ...]
    activations: tuple[str, ...]
    n_outputs: int

    @property
    def sizes(self) -> list[int]:
        """Widths, inputs to outputs: dense layer ``i`` maps ``sizes[i]`` to ``sizes[i + 1]``."""
        return [self.n_inputs, *self.hidden, self.n_outputs]


Edit = tuple[Structure, Arrays]
"""What an edit returns: the new structure and its parameter arrays (some may be missing)."""


def positive_int(value: object, what: str) -> int:
    """``value`` as an int if it is a positive integer (bools refused), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _index(value: object, what: str, stop: int, shown: str) -> int:
    """``value`` as an int in ``0..stop - 1``; ``shown`` is the range as the error says it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if not 0 <= value < stop:
        raise ValueError(f"{what} must be {shown}, got {value}")
    return int(value)


def _hidden_index(s: Structure, layer: object, what: str = "layer") -> int:
    n = len(s.hidden)
    return _index(layer, what, n, f"a hidden layer index in 0..{n - 1}")


def _renumbered(arrays: Arrays, position: int, shift: int, skip: int | None = None) -> Arrays:
    """``arrays`` with layers from ``position`` on renumbered by ``shift`` (layer ``skip``
    dropped): the layers below keep their names and values."""
    out: Arrays = {}
    for name, value in arrays.items():
        i = int(name[5 : name.index(".")])  # "dense{i}.{kind}"
        if i == skip:
            continue
        out[name if i < position else f"dense{i + shift}.{name.split('.')[1]}"] = value
    return out


def add_unit(s: Structure, arrays: Arrays, draw: Draw, layer: int) -> Edit:
    """Append one unit to hidden ``layer``: a new column of W (drawn), a zero bias, slope
    0.25 for PReLU, and a new (drawn) row in the next layer's W."""
    i = _hidden_index(s, layer)
    sizes = s.sizes
    n_in, n_out, n_next = sizes[i], sizes[i + 1] + 1, sizes[i + 2]
    arrays = dict(arrays)
    col = draw((n_in, 1), n_in, n_out)
    row = draw((1, n_next), n_out, n_next)
    arrays[f"dense{i}.W"] = np.concatenate([arrays[f"dense{i}.W"], col], axis=1)
    arrays[f"dense{i}.b"] = np.append(arrays[f"dense{i}.b"], 0.0)
    if f"dense{i}.alpha" in arrays:
        arrays[f"dense{i}.alpha"] = np.append(arrays[f"dense{i}.alpha"], act.PRELU_INIT)
    arrays[f"dense{i + 1}.W"] = np.concatenate([arrays[f"dense{i + 1}.W"], row], axis=0)
    hidden = list(s.hidden)
    hidden[i] += 1
    return Structure(s.n_inputs, tuple(hidden), s.activations, s.n_outputs), arrays


def remove_unit(s: Structure, arrays: Arrays, layer: int, index: int) -> Edit:
    """Remove unit ``index`` of hidden ``layer`` with its incoming and outgoing weights."""
    i = _hidden_index(s, layer)
    units = s.hidden[i]
    index = _index(index, "unit index", units, f"in 0..{units - 1}")
    if units == 1:
        raise ValueError("cannot remove the last unit of a layer; remove the layer instead")
    arrays = dict(arrays)
    arrays[f"dense{i}.W"] = np.delete(arrays[f"dense{i}.W"], index, axis=1)
    arrays[f"dense{i}.b"] = np.delete(arrays[f"dense{i}.b"], index)
    if f"dense{i}.alpha" in arrays:
        arrays[f"dense{i}.alpha"] = np.delete(arrays[f"dense{i}.alpha"], index)
    arrays[f"dense{i + 1}.W"] = np.delete(arrays[f"dense{i + 1}.W"], index, axis=0)
    hidden = list(s.hidden)
    hidden[i] -= 1
    return Structure(s.n_inputs, tuple(hidden), s.activations, s.n_outputs), arrays


def add_layer(
    s: Structure,
    arrays: Arrays,
    draw: Draw,
    position: int,
    units: int,
    activation: str | None = None,
) -> Edit:
    """Insert a hidden layer of ``units`` before hidden layer ``position`` (``position ==
    len(hidden)`` appends it just below the output layer).

    Layers below keep everything. The new layer's weights are drawn; so are the incoming
    weights of the layer just above it, whose inputs are now the new units (no old weight
    has a place there), while that layer keeps its biases and slopes. The new layer's
    activation defaults to its neighbour's.
    """
    n = len(s.hidden)
    position = _index(position, "position", n + 1, f"in 0..{n}")
    units = positive_int(units, "units")
    if activation is None:
        activation = s.activations[min(position, n - 1)] if n else "tanh"
    activation = act.check_activation(activation)
    sizes = s.sizes
    hidden = (*s.hidden[:position], units, *s.hidden[position:])
    acts = (*s.activations[:position], activation, *s.activations[position:])
    out = _renumbered(arrays, position, +1)
    n_in, n_above = sizes[position], sizes[position + 1]
    out[f"dense{position}.W"] = draw((n_in, units), n_in, units)
    out[f"dense{position + 1}.W"] = draw((units, n_above), units, n_above)
    return Structure(s.n_inputs, hidden, acts, s.n_outputs), out


def remove_layer(s: Structure, arrays: Arrays, draw: Draw, position: int) -> Edit:
    """Remove hidden layer ``position``. The layer above gets freshly drawn incoming
    weights (its inputs changed) and keeps its biases and slopes; the rest is kept."""
    p = _hidden_index(s, position, "position")
    sizes = s.sizes
    hidden = (*s.hidden[:p], *s.hidden[p + 1 :])
    acts = (*s.activations[:p], *s.activations[p + 1 :])
    out = _renumbered(arrays, p + 1, -1, skip=p)
    n_in, n_above = sizes[p], sizes[p + 2]
    out[f"dense{p}.W"] = draw((n_in, n_above), n_in, n_above)
    return Structure(s.n_inputs, hidden, acts, s.n_outputs), out


def set_activation(s: Structure, arrays: Arrays, layer: int, name: str) -> Edit | None:
    """Change hidden ``layer``'s activation, weights kept; None if it already has it.
    Switching to PReLU adds slopes (0.25, by the rebuild), switching away removes them."""
    i = _hidden_index(s, layer)
    name = act.check_activation(name)
    if name == s.activations[i]:
        return None
    arrays = {k: v for k, v in arrays.items() if k != f"dense{i}.alpha"}
    acts = list(s.activations)
    acts[i] = name
    return Structure(s.n_inputs, s.hidden, tuple(acts), s.n_outputs), arrays
