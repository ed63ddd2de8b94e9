"""Weight initialisers. Biases always start at 0 (the model does that, not these).

- ``gaussian``: N(0, 0.01^2), the lecture's first idea. Activations shrink layer after layer,
  which is exactly what the playground wants students to see; the initial cross-entropy is
  then ln K because all scores are ~0.
- ``xavier``: Glorot normal, std = sqrt(2 / (fan_in + fan_out)) (torch ``xavier_normal_``).
- ``he``: Kaiming normal, std = sqrt(2 / fan_in) (torch ``kaiming_normal_``, fan_in, relu gain).
- ``uniform``: U(-0.5, 0.5), TensorFlow Playground's choice.

All draws come from the model's one ``numpy.random.Generator`` so a seed fixes everything.
"""

from __future__ import annotations

import math

import numpy as np


def gaussian(shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape) * 0.01


def xavier(shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))


def he(shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def uniform(shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-0.5, 0.5, size=shape)


_FUNCTIONS = {"gaussian": gaussian, "xavier": xavier, "he": he, "uniform": uniform}
INITIALIZERS: list[str] = list(_FUNCTIONS)


def check_initializer(name: object) -> str:
    if not isinstance(name, str) or name not in _FUNCTIONS:
        raise ValueError(f"unknown init {name!r}; valid: {', '.join(INITIALIZERS)}")
    return name


def initialize(
    name: str, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw a float64 array of ``shape`` for a layer with the given fans.

    ``shape`` may be a slice of the layer (one new column or row after shape surgery); the
    fans are those of the whole layer so the new weights match the scale of the old ones.
    """
    return _FUNCTIONS[check_initializer(name)](shape, fan_in, fan_out, rng)
