"""The blocks of source the exported scripts are made of, shared by model and training scripts.

Each block is plain text of the script to be, chosen by name: only the features, activations,
loss and optimiser a network uses are written out, so a student reads what their network
does and nothing else. The NumPy blocks perform the engine's floating-point operations in the
engine's order (``mlp_playground.nn``: the same products, the same in-place updates, the
same two-class shortcut of softmax), which is why a training script's losses equal the
server's to the last few bits rather than only approximately.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlp_playground.export import literals
from mlp_playground.nn.activations import ELU_ALPHA, LEAKY_SLOPE

SEPARATOR = "# " + "-" * 94

FEATURE_CODE = {
    "x1": "x1",
    "x2": "x2",
    "x1_squared": "x1 * x1",
    "x2_squared": "x2 * x2",
    "x1_x2": "x1 * x2",
    "sin_x1": "np.sin(x1)",
    "sin_x2": "np.sin(x2)",
}


def section(title: str) -> str:
    return f"{SEPARATOR}\n# {title}\n{SEPARATOR}\n"


def features_block(features: Sequence[str], normalization: dict | None) -> str:
    """``FEATURES``, ``features(points)`` and ``inputs(points)`` (standardised features)."""
    columns = "\n".join(f"            {FEATURE_CODE[f]},  # {f}" for f in features)
    out = section("Input features: what the network sees of a point (x1, x2)")
    out += f"FEATURES = {literals.value(list(features))}\n\n\n"
    out += (
        "def features(points):\n"
        '    """Points (N, 2) -> the feature matrix (N, F), one column per name in FEATURES."""\n'
        "    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)\n"
        "    x1, x2 = points[:, 0], points[:, 1]\n"
        "    return np.column_stack(\n"
        "        [\n"
        f"{columns}\n"
        "        ]\n"
        "    )\n\n\n"
    )
    if normalization is None:
        out += (
            "def inputs(points):\n"
            '    """What the first layer receives: the raw features (this network was trained\n'
            '    without standardisation)."""\n'
            "    return features(points)\n"
        )
        return out
    out += (
        "# Standardisation with the statistics of the training split: each feature minus its\n"
        "# mean, divided by its standard deviation (a constant feature keeps std 1).\n"
        f"MEAN = np.array({literals.vector(normalization['mean'])})\n"
        f"STD = np.array({literals.vector(normalization['std'])})\n\n\n"
        "def inputs(points):\n"
        '    """What the first layer receives: the features of the points, standardised."""\n'
        "    return (features(points) - MEAN) / STD\n"
    )
    return out


def layers_literal(
    layers: Sequence[dict], name: str = "LAYERS", comment: str = "the trained weights"
) -> str:
    """``LAYERS = [{"activation", "W", "b"(, "alpha")}, ...]`` as NumPy arrays."""
    out = (
        f"# {comment}: layer i computes activation(h @ W + b), W[i, j] linking input i to\n"
        "# unit j; the last layer is linear and gives one score per class.\n"
        f"{name} = [\n"
    )
    for layer in layers:
        out += "    {\n"
        out += f"        'activation': {layer['activation']!r},\n"
        out += f"        'W': np.array({literals.array(np.asarray(layer['W']), 8)}),\n"
        out += f"        'b': np.array({literals.array(np.asarray(layer['b']), 8)}),\n"
        if "alpha" in layer:
            out += f"        'alpha': np.array({literals.array(np.asarray(layer['alpha']), 8)}),\n"
        out += "    },\n"
    return out + "]\n"


# --------------------------------------------------------------------------- NumPy activations

_FORWARD = {
    "sigmoid": (
        "def sigmoid(z):\n"
        '    """1 / (1 + exp(-z)), written as 0.5 tanh(z / 2) + 0.5, which never overflows."""\n'
        "    return 0.5 * np.tanh(0.5 * z) + 0.5\n"
    ),
    "tanh": "def tanh(z):\n    return np.tanh(z)\n",
    "relu": "def relu(z):\n    return np.maximum(z, 0.0)\n",
    "leaky_relu": (
        "def leaky_relu(z):\n"
        f'    """z for z > 0, {LEAKY_SLOPE} z otherwise."""\n'
        f"    return np.maximum(z, {LEAKY_SLOPE} * z)\n"
    ),
    "prelu": (
        "def prelu(z, alpha):\n"
        '    """z for z > 0, alpha z otherwise, with one learned slope alpha per unit."""\n'
        "    return np.maximum(z, 0.0) + np.minimum(z, 0.0) * alpha\n"
    ),
    "elu": (
        "def elu(z):\n"
        f'    """z for z > 0, {ELU_ALPHA} (exp(z) - 1) otherwise."""\n'
        f"    return np.maximum(z, {ELU_ALPHA} * np.expm1(np.minimum(z, 0.0)))\n"
    ),
    "linear": "def linear(z):\n    return z\n",
}

_BACKWARD = {
    "sigmoid": (
        "def sigmoid_backward(da, z, a):\n"
        "    return da * ((1.0 - a) * a)  # sigmoid'(z) = a (1 - a)\n"
    ),
    "tanh": "def tanh_backward(da, z, a):\n    return da * (1.0 - a * a)  # tanh'(z) = 1 - a^2\n",
    "relu": (
        "def relu_backward(da, z, a):\n"
        "    return da * (z > 0.0)  # 1 for z > 0, 0 otherwise (the left slope at 0, as torch)\n"
    ),
    "leaky_relu": (
        "def leaky_relu_backward(da, z, a):\n"
        f"    return da * np.where(z > 0.0, 1.0, {LEAKY_SLOPE})\n"
    ),
    "prelu": (
        "def prelu_backward(da, z, a, alpha):\n"
        '    """d loss / d z, and d loss / d alpha (summed over the batch, one per unit)."""\n'
        "    dalpha = (da * np.minimum(z, 0.0)).sum(axis=0)\n"
        "    return da * np.where(z > 0.0, 1.0, alpha), dalpha\n"
    ),
    "linear": "def linear_backward(da, z, a):\n    return da\n",
    "elu": (
        "def elu_backward(da, z, a):\n"
        f"    return da * np.minimum(a + {ELU_ALPHA}, 1.0)  # 1 for z > 0, exp(z) = a + 1 otherwise\n"
    ),
}


def activations_block(names: Sequence[str], backward: bool = False) -> str:
    """The activation functions used (the output layer's ``linear`` always), and with
    ``backward`` their derivatives, plus the ``ACTIVATIONS`` (and ``BACKWARD``) tables."""
    used = [n for n in dict.fromkeys([*names, "linear"])]
    out = section("Activations" + (" and their derivatives" if backward else ""))
    for n in used:
        out += _FORWARD[n] + "\n\n"
        if backward and n in names:
            out += _BACKWARD[n] + "\n\n"
    table = ", ".join(f"{n!r}: {n}" for n in used)
    out += f"ACTIVATIONS = {{{table}}}\n"
    if backward:
        hidden = [n for n in used if n in names]
        table = ", ".join(f"{n!r}: {n}_backward" for n in hidden)
        out += f"BACKWARD = {{{table}}}\n"
    return out


def softmax_block() -> str:
    return (
        "def softmax(scores):\n"
        '    """Row-wise softmax (shifted by the row maximum: exp never overflows)."""\n'
        "    e = np.exp(scores - scores.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)\n"
    )


# --------------------------------------------------------------------------- NumPy losses

_LOSSES = {
    "cross_entropy": '''def loss_and_gradient(scores, y):
    """Softmax cross-entropy: mean over the batch of -log softmax(scores)_y, and
    d loss / d scores (the 1/N of the mean included)."""
    n, k = scores.shape
    if k == 2:
        # Two classes: softmax is the logistic of the score difference d = s1 - s0, and a
        # point's loss is softplus((1 - 2y) d), computed with logaddexp (no overflow).
        sign = np.where(y == 1, -1.0, 1.0)
        z = (scores[:, 1] - scores[:, 0]) * sign
        softplus = np.logaddexp(0.0, z)
        loss = softplus.sum() / n
        dd = np.exp(z - softplus) * sign  # sigmoid(z), signed: d loss_i / d d_i
        return float(loss), np.outer(dd, [-1.0 / n, 1.0 / n])
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)  # softmax ignores a shift
    e = np.exp(shifted)
    total = e.sum(axis=1)
    loss = (np.log(total).sum() - shifted[rows, y].sum()) / n
    dscores = e / total[:, None]  # the probabilities...
    dscores[rows, y] -= 1.0  # ... minus the one-hot labels
    return float(loss), dscores * (1.0 / n)
''',
    "hinge": '''def loss_and_gradient(scores, y):
    """Multiclass hinge (SVM): mean over the batch of sum_{j != y} max(0, 1 + s_j - s_y),
    and d loss / d scores. (torch's MultiMarginLoss divides this by the number of classes.)"""
    n = scores.shape[0]
    rows = np.arange(n)
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    margins = np.maximum(margins, 0.0)
    loss = margins.sum() / n
    dscores = (margins > 0.0).astype(np.float64)  # +1 for each violated margin...
    dscores[rows, y] = -dscores.sum(axis=1)  # ... and minus their count for the true class
    return float(loss), dscores * (1.0 / n)
''',
    "mse": '''def loss_and_gradient(scores, t):
    """Mean over the batch of 0.5 * sum_k (s_k - t_k)^2, and d loss / d scores."""
    n = scores.shape[0]
    diff = scores - t.reshape(scores.shape)
    loss = 0.5 * float(np.vdot(diff, diff)) / n
    return loss, diff * (1.0 / n)
''',
}


def loss_block(loss: str) -> str:
    return _LOSSES[loss]


ACCURACY = '''def accuracy(scores, y):
    """Fraction of points whose highest score is their label (two classes: s1 > s0)."""
    if scores.shape[1] == 2:
        return float(np.mean((scores[:, 1] > scores[:, 0]) == (y == 1)))
    return float(np.mean(scores.argmax(axis=1) == y))
'''


# --------------------------------------------------------------------------- NumPy optimisers

_SLOTS = {
    "sgd": (),
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "adagrad": ("sum",),
    "rmsprop": ("square_avg",),
    "adam": ("m", "v"),
}

_UPDATES = {
    "sgd": (
        "SGD: w -= lr * g.",
        "        w -= grads[name] * lr\n",
    ),
    "momentum": (
        "Momentum (torch's SGD with momentum): v = momentum * v + g; w -= lr * v.",
        "        g, v = grads[name], state[name]['velocity']\n"
        "        v *= OPTIMIZER['momentum']\n"
        "        v += g\n"
        "        w -= v * lr\n",
    ),
    "nesterov": (
        "Nesterov momentum (torch's nesterov=True): v = momentum * v + g;\n"
        "    w -= lr * (g + momentum * v).",
        "        g, v = grads[name], state[name]['velocity']\n"
        "        v *= OPTIMIZER['momentum']\n"
        "        v += g\n"
        "        w -= (v * OPTIMIZER['momentum'] + g) * lr\n",
    ),
    "adagrad": (
        "AdaGrad: s += g^2; w -= lr * g / (sqrt(s) + epsilon). (The lecture writes |g|\n"
        "    where this standard form, torch's, uses g^2 and a square root.)",
        "        g, s = grads[name], state[name]['sum']\n"
        "        s += g * g\n"
        "        w -= g / (np.sqrt(s) + OPTIMIZER['epsilon']) * lr\n",
    ),
    "rmsprop": (
        "RMSProp: s = decay_rate * s + (1 - decay_rate) * g^2;\n"
        "    w -= lr * g / (sqrt(s) + epsilon)  (torch's alpha is decay_rate).",
        "        g, s = grads[name], state[name]['square_avg']\n"
        "        rho = OPTIMIZER['decay_rate']\n"
        "        s *= rho\n"
        "        s += (g * g) * (1.0 - rho)\n"
        "        w -= g / (np.sqrt(s) + OPTIMIZER['epsilon']) * lr\n",
    ),
    "adam": (
        "Adam (torch's form): m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;\n"
        "    w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon).",
        "        g, m, v = grads[name], state[name]['m'], state[name]['v']\n"
        "        b1, b2 = OPTIMIZER['beta1'], OPTIMIZER['beta2']\n"
        "        m *= b1\n"
        "        m += g * (1.0 - b1)\n"
        "        v *= b2\n"
        "        v += (g * g) * (1.0 - b2)\n"
        "        denominator = np.sqrt(v) / math.sqrt(1.0 - b2**t) + OPTIMIZER['epsilon']\n"
        "        w -= m / denominator * (lr / (1.0 - b1**t))\n",
    ),
}


def optimizer_block(name: str) -> str:
    """``new_state(params)`` and ``update(params, grads, state, t, lr)`` for one optimiser."""
    slots = _SLOTS[name]
    doc, body = _UPDATES[name]
    state = ", ".join(f"{s!r}: np.zeros_like(w)" for s in slots)
    return (
        "def new_state(params):\n"
        '    """The optimiser\'s memory: zeros, one array per parameter and slot."""\n'
        f"    return {{name: {{{state}}} for name, w in params.items()}}\n\n\n"
        "def update(params, grads, state, t, lr):\n"
        f'    """{doc}\n\n'
        '    Every parameter is updated in place; t counts updates from 1."""\n'
        "    for name, w in params.items():\n"
        f"{body}"
    )


def schedule_block(schedule: dict) -> str:
    kind = schedule["kind"]
    out = 'def learning_rate_at(step):\n    """The rate of the update that follows `step` updates'
    if kind == "step":
        return out + (
            " (torch's StepLR, stepped\n"
            '    every update): the base rate times gamma every step_size updates."""\n'
            "    base = OPTIMIZER['learning_rate']\n"
            "    return base * SCHEDULE['gamma'] ** (step // SCHEDULE['step_size'])\n"
        )
    if kind == "cosine":
        return out + (
            " (torch's CosineAnnealingLR,\n"
            "    stepped every update): from the base rate down to min_learning_rate over\n"
            '    total_steps updates, then held."""\n'
            "    base, low = OPTIMIZER['learning_rate'], SCHEDULE['min_learning_rate']\n"
            "    total = SCHEDULE['total_steps']\n"
            "    return low + (base - low) * (1 + math.cos(math.pi * min(step, total) / total)) / 2\n"
        )
    return out + ': constant."""\n    return OPTIMIZER[\'learning_rate\']\n'


# --------------------------------------------------------------------------- torch

TORCH_ACTIVATIONS = {
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "leaky_relu": f"nn.LeakyReLU(negative_slope={LEAKY_SLOPE})",
    "elu": f"nn.ELU(alpha={ELU_ALPHA})",
}


def torch_module(activation: str, units: int) -> str | None:
    """The torch module of a hidden activation (None for linear)."""
    if activation == "prelu":
        return f"nn.PReLU(num_parameters={units}, dtype=torch.float64)"
    return TORCH_ACTIVATIONS.get(activation)
