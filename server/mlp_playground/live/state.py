"""What a live session *is*, apart from its connections and its machinery.

``SessionState`` is the one place a snapshot reads and a restore writes: the effective
config, the trainer (which holds the data and its split, the weights, the optimiser's
state, the RNG, the step and the epoch), whether it trains, and what it streams. The rest
of ``LiveSession`` is identity (id, watch token), its connections, or worker machinery
that is rebuilt from this state (pacing estimates, frame caches, throttles), so a
restored session needs nothing else to carry on where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

#: The page's starting point (TensorFlow Playground's): a small net on the circle data.
LIVE_DEFAULTS: dict[str, Any] = {
    "dataset": {"name": "circle", "n_points": 400, "noise": 0.1, "classes": 2, "seed": 0},
    "validation_split": 0.3,
    "network": {
        "hidden_layers": [4, 2],
        "activation": "tanh",
        "init": "xavier",
        "dropout": 0.0,
        "features": ["x1", "x2"],
        "normalize": True,
    },
    "loss": "cross_entropy",
    "regularization": {"kind": "none", "strength": 0.0},
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
    "shuffle": True,
    "seed": 0,
}
#: Keys of TrainConfig.to_dict() that a live session shows in ``config`` messages.
CONFIG_KEYS = (
    "dataset",
    "validation_split",
    "network",
    "loss",
    "regularization",
    "optimizer",
    "batch_size",
    "shuffle",
    "seed",
    "speed",
    "schedule",
    "stop",
    "prediction",
)


@dataclass(frozen=True)
class Subscription:
    """What a session streams; replaced as a whole so the worker reads it atomically."""

    grid_resolution: int = 100
    fps: float = 30.0
    neurons: bool = False
    neuron_resolution: int = 24
    neuron_fps: float | None = None  # unit grids a second; None: with every frame
    stats: bool = False
    uncertainty: bool = False
    transform: dict | None = None  # {"layer": i, "units": [a, b], "mesh": n}


@dataclass
class SessionState:
    """The session's own state; only the worker thread changes it (see session.py),
    except ``running = False``, which the loop may set to stop a chunk early."""

    config: TrainConfig
    trainer: Trainer
    running: bool = False
    subscription: Subscription = field(default_factory=Subscription)
    #: The saved run this session was loaded from (``load_run``): its title and per-epoch
    #: history, which a ``save`` carries on (a live session records no history itself).
    title: str | None = None
    history: dict[str, list[Any]] | None = None

    @classmethod
    def new(cls, limits: Mapping[str, Any]) -> SessionState:
        """A fresh session on ``LIVE_DEFAULTS``, paused at step 0."""
        config = TrainConfig.from_dict(LIVE_DEFAULTS, limits)
        # No per-epoch history: a live run can go on for hours; metrics are streamed instead.
        return cls(config, Trainer(config, record_history=False, limits=limits))

    def config_dict(self) -> dict[str, Any]:
        """The config as ``config`` and ``hello`` messages show it."""
        full = self.config.to_dict()
        return {k: full[k] for k in CONFIG_KEYS if k in full}
