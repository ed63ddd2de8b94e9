"""The training configuration: the ``/train`` body as plain, validated Python values.

One validator serves REST and the live websocket: ``ConfigError(field, message)`` names the
dotted field so REST can answer 422 with it and the websocket can fill its ``field``. No
pydantic here. ``TrainConfig`` is the value; the rest of the package ``training.config``
is its parts, each imported from where it is defined: ``defaults`` (defaults, limits,
choices), ``checks`` (``ConfigError`` and the value checks), ``merge`` (partial bodies and
live edits) and ``validate`` (the whole-config check, which takes any object with the
config's fields, so it never imports this module).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from mlp_playground.data.datasets import DATASETS
from mlp_playground.training.config.defaults import DEFAULT_LIMITS, default
from mlp_playground.training.config.merge import merge_fields
from mlp_playground.training.config.validate import validate


@dataclass
class TrainConfig:
    """The ``/train`` body (plus live ``speed``) as plain values, in a canonical form.

    Canonical means: ``network.activation`` is a list with one name per hidden layer,
    ``optimizer`` carries exactly that optimiser's hyper-parameters, ``dataset.classes`` is
    an int, and ``data`` (user points, REST only) holds numpy arrays. Build one with
    ``from_dict`` (REST semantics: missing fields take the defaults) or ``merged`` (live
    partial edits on top of the current config); both validate.
    """

    dataset: dict | None = field(default_factory=lambda: default("dataset"))
    data: dict | None = None
    validation_split: float = 0.3
    network: dict = field(default_factory=lambda: default("network"))
    loss: str = "cross_entropy"
    regularization: dict = field(default_factory=lambda: default("regularization"))
    optimizer: dict = field(default_factory=lambda: default("optimizer"))
    batch_size: int = 10
    epochs: int = 50
    steps: int | None = None
    shuffle: bool = True
    seed: int = 0
    speed: float | str = "max"
    schedule: dict = field(default_factory=lambda: default("schedule"))
    stop: dict = field(default_factory=lambda: default("stop"))
    prediction: dict = field(default_factory=lambda: default("prediction"))

    # ---------------------------------------------------------------- building

    @classmethod
    def from_dict(cls, d: Mapping, limits: Mapping | None = None) -> TrainConfig:
        """A full config from a (possibly partial) ``/train`` body; unset fields are defaults.

        An optimiser named without hyper-parameters gets that optimiser's own defaults.
        """
        return cls()._merge(d, live=False, limits=limits)

    def merged(self, partial: Mapping, limits: Mapping | None = None) -> TrainConfig:
        """This config with a live partial edit applied (``{"optimizer": {"momentum": 0.5}}``).

        Switching the optimiser keeps the current learning rate unless the edit gives one;
        switching dataset clamps the class count to the new dataset's range and switches
        the loss between ``mse`` and ``cross_entropy`` when the task type changes.
        """
        return self._merge(partial, live=True, limits=limits)

    def to_dict(self, include_data: bool = False) -> dict:
        """JSON-ready dict; ``data`` (user points) only when ``include_data``."""
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}
        if include_data and self.data is not None:
            out["data"] = {
                "points": self.data["points"].tolist(),
                "labels": self.data["labels"].tolist(),
                "classes": self.data["classes"],
            }
        else:
            out.pop("data")
        return out

    @property
    def regression(self) -> bool:
        return self.loss == "mse"

    @property
    def classes(self) -> int:
        """Number of outputs: K for classification, 1 for regression."""
        if self.data is not None:
            return int(self.data["classes"])
        if self.dataset is None:
            return 2
        return 1 if DATASETS[self.dataset["name"]].regression else int(self.dataset["classes"])

    def learning_rate_at(self, step: int) -> float:
        """The scheduled learning rate for the update that follows ``step`` updates, with
        ``torch.optim.lr_scheduler``'s formulas (StepLR, CosineAnnealingLR) stepped once per
        update; the base rate is ``optimizer.learning_rate``."""
        base = float(self.optimizer.get("learning_rate", 0.0))
        sch = self.schedule
        kind = sch["kind"]
        if kind == "step":
            return base * sch["gamma"] ** (step // sch["step_size"])
        if kind == "cosine":
            total = sch["total_steps"]
            low = sch["min_learning_rate"]
            return low + (base - low) * (1 + math.cos(math.pi * min(step, total) / total)) / 2
        return base

    @property
    def stops(self) -> bool:
        """Whether any stop condition is set."""
        return any(v is not None for v in self.stop.values())

    def planned_steps(self, n_train: int) -> int:
        """Optimiser updates a REST run will make: ``steps``, else epochs x batches/epoch."""
        if self.steps is not None:
            return int(self.steps)
        batch = max(1, min(int(self.batch_size), max(n_train, 1)))
        return int(self.epochs) * math.ceil(max(n_train, 1) / batch)

    # ---------------------------------------------------------------- merging

    def _merge(self, partial: Mapping, live: bool, limits: Mapping | None) -> TrainConfig:
        limits = {**DEFAULT_LIMITS, **(limits or {})}
        cur = {f.name: getattr(self, f.name) for f in fields(self)}
        cfg = TrainConfig(**merge_fields(cur, partial, live))
        validate(cfg, limits)
        return cfg
