"""The training configuration's defaults, limits and fixed choices (no logic).

``DEFAULT_CONFIG`` is a complete ``/train`` body; ``DEFAULT_LIMITS`` the caps used when a
caller passes none; ``SECTION_KEYS`` the fields each nested section accepts. Shared by the
checks, the merge and the validation of ``mlp_playground.training.config.train_config``.
"""

from __future__ import annotations

import copy
from typing import Any

from mlp_playground.nn.optimizers import OPTIMIZERS

DEFAULT_LIMITS: dict[str, float] = {
    "max_points_train": 20_000,
    "max_hidden_layers": 10,
    "max_units": 256,
    "max_classes": 8,
    "max_steps": 1_000_000,
    "max_epochs": 10_000,
    "max_batch_size": 20_000,
}
"""Used when a caller passes no limits (the server passes ``Settings.limits()``)."""

MAX_SEED = 2**63 - 1
MAX_SPEED = 1_000_000.0
HPARAM_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low bound exclusive); high is always exclusive
    "learning_rate": (0.0, 1e3, True),
    "momentum": (0.0, 1.0, False),
    "decay_rate": (0.0, 1.0, False),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
    "epsilon": (0.0, 1.0, True),
}


DEFAULT_CONFIG: dict[str, Any] = {
    "dataset": {"name": "circle", "n_points": 400, "noise": 0.1, "classes": 2, "seed": 0},
    "data": None,
    "validation_split": 0.3,
    "network": {
        "hidden_layers": [8, 8],
        "activation": ["tanh", "tanh"],
        "init": "xavier",
        "dropout": 0.0,
        "features": ["x1", "x2"],
        "normalize": True,
    },
    "loss": "cross_entropy",
    "regularization": {"kind": "none", "strength": 0.0},
    "optimizer": {"name": "adam", **OPTIMIZERS["adam"], "learning_rate": 0.01},
    "batch_size": 10,
    "epochs": 50,
    "steps": None,
    "shuffle": True,
    "seed": 0,
    "speed": "max",
    "schedule": {
        "kind": "constant",
        "step_size": 1000,
        "gamma": 0.5,
        "total_steps": 5000,
        "min_learning_rate": 0.0,
    },
    "stop": {"validation_loss": None, "validation_accuracy": None, "epochs": None},
    "prediction": {"mode": "deterministic", "passes": 20},
}
"""A complete configuration that trains circle, xor, gaussian and moons to >= 95%."""

SECTION_KEYS = {
    "dataset": ("name", "n_points", "noise", "classes", "seed"),
    "network": ("hidden_layers", "activation", "init", "dropout", "features", "normalize"),
    "regularization": ("kind", "strength"),
    "data": ("points", "labels", "classes"),
    "schedule": ("kind", "step_size", "gamma", "total_steps", "min_learning_rate"),
    "stop": ("validation_loss", "validation_accuracy", "epochs"),
    "prediction": ("mode", "passes"),
}
SCHEDULES = ("constant", "step", "cosine")
PREDICTION_MODES = ("deterministic", "mc_dropout")
MAX_MC_PASSES = 100


def default(key: str) -> Any:
    """A fresh (deep) copy of ``DEFAULT_CONFIG[key]``, safe to edit."""
    return copy.deepcopy(DEFAULT_CONFIG[key])
