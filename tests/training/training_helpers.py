"""A small, fast training setup shared by the tests of ``mlp_playground.training``."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

SMALL: dict[str, Any] = {
    "dataset": {"name": "circle", "n_points": 60, "noise": 0.1, "seed": 1},
    "network": {"hidden_layers": [4, 3]},
    "optimizer": {"name": "sgd", "learning_rate": 0.1},
    "batch_size": 8,
}


def merge(partial: dict | None = None) -> dict:
    """SMALL with ``partial`` merged one level deep."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SMALL.items()}
    for k, v in (partial or {}).items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make(partial: dict | None = None, **kw: Any) -> Trainer:
    return Trainer(TrainConfig.from_dict(merge(partial)), **kw)


def flat(trainer: Trainer) -> np.ndarray:
    return np.concatenate([p.ravel() for p in trainer.model.params.values()])
