"""Small datasets and helpers shared by the engine tests (made here, no mlp_playground.data.datasets)."""

from __future__ import annotations

import numpy as np

from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer


def xor(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]^2 away from the axes; label 1 when x1 * x2 > 0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def circles(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 inside radius 0.5, class 1 on a ring of radius 0.8..1.0."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.8, 1.0, n))
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[r * np.cos(t), r * np.sin(t)], y.astype(np.int64)


def spiral(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms (one and a half turns each, radius up to 3: the scale of
    standardised inputs), CS231n style, light noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.linspace(0.1, 1.0, n)
    t = 3.0 * np.pi * r + np.pi * y + rng.normal(0, 0.05, n)
    return 3.0 * np.c_[r * np.cos(t), r * np.sin(t)], y.astype(np.int64)


def train(
    model: MLP, X, y, optimizer: str, steps: int, batch: int = 10, seed: int = 0, **hp
) -> float:
    """Minibatch training with reshuffling each epoch; returns the final train accuracy."""
    rng = np.random.default_rng(seed)
    opt = make_optimizer(optimizer, **hp)
    n = len(y)
    done = 0
    while done < steps:
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            model.loss_and_grads(X[idx], y[idx])
            opt.step(model.params, model.grads)
            done += 1
            if done == steps:
                break
    return accuracy(model, X, y)


def accuracy(model: MLP, X, y) -> float:
    return float((model.predict_proba(X).argmax(axis=1) == y).mean())


def kink_free_case(
    activation: str,
    loss: str,
    regularization: str = "none",
    dropout: float = 0.0,
    hidden: tuple[int, ...] = (5, 4),
    n: int = 8,
    seed: int = 0,
):
    """A model, data and dropout masks whose loss is smooth within +-1e-3 of every weight.

    Centred differences across a kink (relu at z = 0, a hinge margin at 0, |w| at 0 for
    l1) measure the average of two slopes, which no backprop can match; such cases say
    nothing about the code, so the helper redraws until every pre-activation, margin and
    regularised weight is at least 1e-3 away from its kink. Biases and PReLU slopes are
    drawn at random so that they are exercised too.
    """
    from mlp_playground.nn import activations as act

    k = 1 if loss == "mse" else 3
    for attempt in range(200):
        rng = np.random.default_rng(1000 * seed + attempt)
        model = MLP(2, list(hidden), k, activation=activation, dropout=dropout, rng=rng)
        for name, value in model.params.items():
            if name.endswith(".b"):
                model.params[name] = rng.normal(0, 0.3, value.shape)
            elif name.endswith(".alpha"):
                model.params[name] = rng.uniform(0.1, 0.5, value.shape)
        X = rng.normal(0, 1.5, size=(n, 2))
        y = rng.normal(size=n) if loss == "mse" else rng.integers(0, k, n)
        masks = model.make_masks(n, rng) if dropout else None
        h, smallest = X, np.inf
        for i, layer in enumerate(model.layers):
            z = h @ layer.W + layer.b
            if i < len(model.layers) - 1:
                smallest = min(smallest, np.abs(z).min())
                h = act.apply(layer.activation, z, layer.alpha)
                if masks is not None:
                    h = h * masks[i]
        if loss == "hinge":
            margins = z - z[np.arange(n), y][:, None] + 1.0
            margins[np.arange(n), y] = 5.0
            smallest = min(smallest, np.abs(margins).min())
        if regularization == "l1":
            smallest = min(smallest, np.abs(model.weights_flat).min())
        if smallest > 1e-3:
            return model, X, y, masks
    raise AssertionError("no kink-free case found")
