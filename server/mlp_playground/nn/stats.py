"""Per-layer statistics of a model on a batch: the numbers behind the page's health panel.

They are read off the hidden ``Dense`` layers right after a forward and backward pass
(``MLP.layer_stats`` runs it), from what each layer keeps for its backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import activations as act
from .layers import Dense

HISTOGRAM_BINS = 20


def hidden_layer_stats(layers: Sequence[Dense]) -> list[dict]:
    """Per hidden layer: activation mean/std, saturated and dead fractions, the norm of
    the gradient of its incoming weights, and a 20-bin histogram of its outputs.

    ``layers`` are the hidden layers of a model that has just run a forward and backward
    pass on the batch (their outputs ``a`` and gradients ``gW`` are that batch's).
    ``saturated`` is the fraction of activation values (units x samples) in the flat
    part of tanh (|a| > 0.99) or sigmoid (a outside [0.01, 0.99]); ``dead`` is the
    fraction of relu-family units whose pre-activation is <= 0 on the whole batch.
    """
    stats = []
    for layer in layers:
        a, name = layer.a, layer.activation
        if name == "tanh":
            saturated = float(np.mean(np.abs(a) > 0.99))
        elif name == "sigmoid":
            saturated = float(np.mean((a < 0.01) | (a > 0.99)))
        else:
            saturated = 0.0
        if name == "prelu":
            dead = float(np.mean(~layer.aux[1].any(axis=0)))
        elif name in act.RELU_FAMILY:
            dead = float(np.mean((a <= 0.0).all(axis=0)))
        else:
            dead = 0.0
        try:
            counts, edges = np.histogram(a, bins=HISTOGRAM_BINS)
        except ValueError:  # non-finite or overflowing outputs (a runaway net): no bins
            counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
            edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
        stats.append(
            {
                "layer": layer.index,
                "activation": name,
                "units": int(a.shape[1]),
                "mean": float(a.mean()),
                "std": float(a.std()),
                "saturated": saturated,
                "dead": dead,
                "grad_norm": float(np.linalg.norm(layer.gW)),
                "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            }
        )
    return stats
