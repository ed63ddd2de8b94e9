"""Shape surgery on a model: add or remove units and layers, change an activation.

``ShapeSurgery`` is part of ``MLP`` (its methods are the model's). Each edit builds the new
parameter arrays from the old ones and rebuilds the model's flat buffer, copying every
value that keeps its place bit for bit; new weights come from the model's initialiser and
RNG, new biases are 0 and new PReLU slopes 0.25.
"""

from __future__ import annotations

import numpy as np

from . import activations as act


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class ShapeSurgery:
    """Structure edits of ``MLP`` (declarations below are the model's own attributes)."""

    n_inputs: int
    n_outputs: int
    _hidden: list[int]
    _acts: list[str]

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError  # MLP._arrays

    def _build(self, hidden: list[int], acts: list[str], arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError  # MLP._build

    def _draw(self, shape: tuple[int, int], fan_in: int, fan_out: int) -> np.ndarray:
        raise NotImplementedError  # MLP._draw

    def _check_hidden_index(self, layer: object, what: str = "layer") -> int:
        n = len(self._hidden)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise ValueError(f"{what} must be an integer, got {layer!r}")
        if not 0 <= layer < n:
            raise ValueError(f"{what} must be a hidden layer index in 0..{n - 1}, got {layer}")
        return int(layer)

    def add_unit(self, layer: int) -> None:
        """Append one unit to hidden ``layer``: a new column of W (drawn with the model's
        initialiser), a zero bias, slope 0.25 for PReLU, and a new row in the next W."""
        i = self._check_hidden_index(layer)
        arrays = self._arrays()
        sizes = [self.n_inputs, *self._hidden, self.n_outputs]
        n_in, n_out, n_next = sizes[i], sizes[i + 1] + 1, sizes[i + 2]
        W, Wn = arrays[f"dense{i}.W"], arrays[f"dense{i + 1}.W"]
        col = self._draw((n_in, 1), n_in, n_out)
        row = self._draw((1, n_next), n_out, n_next)
        arrays[f"dense{i}.W"] = np.concatenate([W, col], axis=1)
        arrays[f"dense{i}.b"] = np.append(arrays[f"dense{i}.b"], 0.0)
        if f"dense{i}.alpha" in arrays:
            arrays[f"dense{i}.alpha"] = np.append(arrays[f"dense{i}.alpha"], act.PRELU_INIT)
        arrays[f"dense{i + 1}.W"] = np.concatenate([Wn, row], axis=0)
        hidden = list(self._hidden)
        hidden[i] += 1
        self._build(hidden, self._acts, arrays)

    def remove_unit(self, layer: int, index: int) -> None:
        """Remove unit ``index`` of hidden ``layer`` with its incoming and outgoing weights."""
        i = self._check_hidden_index(layer)
        units = self._hidden[i]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"unit index must be an integer, got {index!r}")
        if not 0 <= index < units:
            raise ValueError(f"unit index must be in 0..{units - 1}, got {index}")
        if units == 1:
            raise ValueError("cannot remove the last unit of a layer; remove the layer instead")
        arrays = self._arrays()
        arrays[f"dense{i}.W"] = np.delete(arrays[f"dense{i}.W"], index, axis=1)
        arrays[f"dense{i}.b"] = np.delete(arrays[f"dense{i}.b"], index)
        if f"dense{i}.alpha" in arrays:
            arrays[f"dense{i}.alpha"] = np.delete(arrays[f"dense{i}.alpha"], index)
        arrays[f"dense{i + 1}.W"] = np.delete(arrays[f"dense{i + 1}.W"], index, axis=0)
        hidden = list(self._hidden)
        hidden[i] -= 1
        self._build(hidden, self._acts, arrays)

    def add_layer(self, position: int, units: int, activation: str | None = None) -> None:
        """Insert a hidden layer of ``units`` before hidden layer ``position`` (``position ==
        len(hidden_layers)`` appends it just below the output layer).

        Layers below keep everything. The new layer's weights are drawn with the model's
        initialiser; so are the incoming weights of the layer just above it, whose inputs
        are now the new units (no old weight has a place there), while that layer keeps its
        biases and slopes. The new layer's activation defaults to its neighbour's.
        """
        n = len(self._hidden)
        if isinstance(position, bool) or not isinstance(position, (int, np.integer)):
            raise ValueError(f"position must be an integer, got {position!r}")
        if not 0 <= position <= n:
            raise ValueError(f"position must be in 0..{n}, got {position}")
        units = _positive_int(units, "units")
        if activation is None:
            activation = self._acts[min(position, n - 1)] if n else "tanh"
        activation = act.check_activation(activation)
        old = self._arrays()
        sizes = [self.n_inputs, *self._hidden, self.n_outputs]
        hidden = [*self._hidden[:position], units, *self._hidden[position:]]
        acts = [*self._acts[:position], activation, *self._acts[position:]]
        arrays: dict[str, np.ndarray] = {}
        for name, value in old.items():
            i = int(name[5 : name.index(".")])
            if i < position:
                arrays[name] = value
            elif i >= position:
                arrays[f"dense{i + 1}.{name.split('.')[1]}"] = value
        n_in, n_above = sizes[position], sizes[position + 1]
        arrays[f"dense{position}.W"] = self._draw((n_in, units), n_in, units)
        arrays.pop(f"dense{position}.b", None)
        arrays.pop(f"dense{position}.alpha", None)
        arrays[f"dense{position + 1}.W"] = self._draw((units, n_above), units, n_above)
        self._build(hidden, acts, arrays)

    def remove_layer(self, position: int) -> None:
        """Remove hidden layer ``position``. The layer above gets freshly drawn incoming
        weights (its inputs changed) and keeps its biases and slopes; the rest is kept."""
        p = self._check_hidden_index(position, "position")
        old = self._arrays()
        sizes = [self.n_inputs, *self._hidden, self.n_outputs]
        hidden = [*self._hidden[:p], *self._hidden[p + 1 :]]
        acts = [*self._acts[:p], *self._acts[p + 1 :]]
        arrays: dict[str, np.ndarray] = {}
        for name, value in old.items():
            i = int(name[5 : name.index(".")])
            if i < p:
                arrays[name] = value
            elif i > p:
                arrays[f"dense{i - 1}.{name.split('.')[1]}"] = value
        n_in, n_above = sizes[p], sizes[p + 2]
        arrays[f"dense{p}.W"] = self._draw((n_in, n_above), n_in, n_above)
        self._build(hidden, acts, arrays)

    def set_activation(self, layer: int, name: str) -> None:
        """Change hidden ``layer``'s activation; weights are kept. Switching to PReLU adds
        slopes (0.25), switching away from it removes them."""
        i = self._check_hidden_index(layer)
        name = act.check_activation(name)
        if name == self._acts[i]:
            return
        arrays = self._arrays()
        arrays.pop(f"dense{i}.alpha", None)
        acts = list(self._acts)
        acts[i] = name
        self._build(self._hidden, acts, arrays)
