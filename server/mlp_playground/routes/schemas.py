"""Pydantic models of the REST requests and responses (docs/design.md, "The model document" and "The REST contract").

These models check shapes and types and reject non-finite numbers (JSON's ``NaN`` and
``Infinity`` literals, which Python's json module accepts); the meaning of values (names,
ranges, limits, labels below the class count) is checked once, in
``mlp_playground.training.trainer.TrainConfig``, so that REST and the live websocket say the same thing.
Request models forbid unknown fields so that a typo ("lr") is a 422, not a silent default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from mlp_playground.data.datasets import DATASETS
from mlp_playground.data.features import FEATURES
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.optimizers import OPTIMIZERS
from mlp_playground.nn.regularization import REGULARIZATIONS
from mlp_playground.training.config.train_config import TrainConfig

Finite = Annotated[float, Field(allow_inf_nan=False)]
Point = Annotated[list[Finite], Field(min_length=2, max_length=2)]


def _one_of(names: list[str]) -> Any:
    """A name documented as an enum; checked by TrainConfig, whose message lists choices."""
    return Annotated[str, Field(json_schema_extra={"enum": list(names)})]


if TYPE_CHECKING:  # a type checker sees plain names; pydantic sees the documented enums
    Activation = str
    DatasetName = str
    Feature = str
    Initializer = str
    Loss = str
    OptimizerName = str
    Regularization = str
else:
    Activation = _one_of(ACTIVATIONS)
    DatasetName = _one_of(list(DATASETS))
    Feature = _one_of(FEATURES)
    Initializer = _one_of(INITIALIZERS)
    Loss = _one_of(LOSSES)
    OptimizerName = _one_of(list(OPTIMIZERS))
    Regularization = _one_of(REGULARIZATIONS)

_STRICT = ConfigDict(extra="forbid")


class DatasetSpec(BaseModel):
    """A generated dataset (``GET /api/options`` lists names and class ranges)."""

    model_config = _STRICT
    name: DatasetName = Field(default="circle", description="a generated dataset")
    n_points: int = Field(default=400, description="number of points (train + validation)")
    noise: Finite = Field(default=0.1, description="0 (clean) .. 1 (very noisy)")
    classes: int | None = Field(default=None, description="number of classes; null = the default")
    seed: int = Field(default=0, description="seed of the data (the run's seed is separate)")


class DataSpec(BaseModel):
    """Explicit points: labels 0..K-1 (float targets for loss "mse")."""

    model_config = _STRICT
    points: list[Point]
    labels: list[Finite]
    classes: int | None = Field(default=None, description="K; default: the largest label + 1")


class NetworkSpec(BaseModel):
    model_config = _STRICT
    hidden_layers: list[int] = Field(default_factory=lambda: [8, 8])
    activation: Activation | list[Activation] = Field(
        default="tanh", description="one name for every hidden layer, or one per hidden layer"
    )
    init: Initializer = "xavier"
    dropout: Finite = Field(default=0.0, description="probability of dropping a hidden unit")
    features: list[Feature] = Field(default_factory=lambda: ["x1", "x2"])
    normalize: bool = True


class RegularizationSpec(BaseModel):
    model_config = _STRICT
    kind: Regularization = Field(default="none", description="weights only, never biases")
    strength: Finite = 0.0


class OptimizerSpec(BaseModel):
    """An optimiser and its hyper-parameters; unset ones take that optimiser's defaults."""

    model_config = _STRICT
    name: OptimizerName = "adam"
    learning_rate: Finite | None = None
    momentum: Finite | None = None
    decay_rate: Finite | None = None
    beta1: Finite | None = None
    beta2: Finite | None = None
    epsilon: Finite | None = None


class ScheduleSpec(BaseModel):
    """Learning-rate schedule (torch's StepLR / CosineAnnealingLR, stepped every update)."""

    model_config = _STRICT
    kind: Annotated[str, Field(json_schema_extra={"enum": ["constant", "step", "cosine"]})] = (
        "constant"
    )
    step_size: int = Field(default=1000, description="step: lr x gamma every step_size updates")
    gamma: Finite = Field(default=0.5, description="step: the decay factor, 0 < gamma <= 1")
    total_steps: int = Field(default=5000, description="cosine: updates from base to min rate")
    min_learning_rate: Finite = Field(default=0.0, description="cosine: the final rate")


class StopSpec(BaseModel):
    """Stop conditions, checked at the end of every epoch; null = not used."""

    model_config = _STRICT
    validation_loss: Finite | None = Field(default=None, description="stop once it is <= this")
    validation_accuracy: Finite | None = Field(default=None, description="stop once it is >= this")
    epochs: int | None = Field(default=None, description="stop after this many epochs")


class PredictionSpec(BaseModel):
    """What the decision grid shows: the network as is, or the mean of MC-dropout passes."""

    model_config = _STRICT
    mode: Annotated[str, Field(json_schema_extra={"enum": ["deterministic", "mc_dropout"]})] = (
        "deterministic"
    )
    passes: int = Field(default=20, description="mc_dropout: stochastic passes, 1..100")


class GridSpec(BaseModel):
    model_config = _STRICT
    resolution: int = Field(default=100, description="R: the grid has R x R cells")


TRAIN_EXAMPLE: dict[str, Any] = {
    "dataset": {"name": "spiral", "n_points": 300, "noise": 0.1, "classes": 3, "seed": 0},
    "validation_split": 0.3,
    "network": {"hidden_layers": [16, 16], "activation": "tanh", "init": "xavier"},
    "loss": "cross_entropy",
    "regularization": {"kind": "l2", "strength": 0.0001},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "batch_size": 10,
    "epochs": 100,
    "seed": 0,
    "grid": {"resolution": 20},
}
DATA_EXAMPLE: dict[str, Any] = {
    "data": {
        "points": [[0, 0], [1, 1], [0, 1], [1, 0], [0.1, 0.1], [0.9, 0.9], [0.1, 0.9], [0.9, 0.1]],
        "labels": [0, 0, 1, 1, 0, 0, 1, 1],
    },
    "validation_split": 0,
    "network": {"hidden_layers": [4], "features": ["x1", "x2", "x1_x2"]},
    "optimizer": {"name": "sgd", "learning_rate": 0.5},
    "batch_size": 8,
    "steps": 300,
}


class TrainRequest(BaseModel):
    """The ``POST /train`` body. Give ``dataset`` or ``data`` (neither: the default dataset)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [TRAIN_EXAMPLE]})
    dataset: DatasetSpec | None = None
    data: DataSpec | None = None
    validation_split: Finite = Field(default=0.3, description="fraction held out, 0..0.9")
    network: NetworkSpec = Field(default_factory=lambda: NetworkSpec())
    loss: Loss = Field(default="cross_entropy", description="mse for the regression datasets")
    regularization: RegularizationSpec = Field(default_factory=lambda: RegularizationSpec())
    optimizer: OptimizerSpec = Field(default_factory=lambda: OptimizerSpec(learning_rate=0.01))
    batch_size: int = 10
    epochs: int = 50
    steps: int | None = Field(default=None, description="optimiser updates; overrides epochs")
    shuffle: bool = True
    seed: int = Field(default=0, description="seed of the split, initial weights, batches, dropout")
    initial_model: dict[str, Any] | None = Field(
        default=None, description="a model document to start from (warm start)"
    )
    grid: GridSpec | None = Field(
        default=None, description='{"resolution": R} adds the decision grid'
    )
    schedule: ScheduleSpec = Field(default_factory=lambda: ScheduleSpec())
    stop: StopSpec = Field(default_factory=lambda: StopSpec())
    prediction: PredictionSpec = Field(default_factory=lambda: PredictionSpec())
    stats: bool = Field(
        default=False, description="add layer_stats (per hidden layer, after training)"
    )

    def config_dict(self) -> dict[str, Any]:
        """The fields the client set, as plain values for ``TrainConfig.from_dict``."""
        d = self.model_dump(
            exclude_unset=True,
            exclude={"initial_model", "grid", "points", "optimizers", "stats"},
        )
        if isinstance(d.get("optimizer"), dict):
            d["optimizer"] = {k: v for k, v in d["optimizer"].items() if v is not None}
        if isinstance(d.get("dataset"), dict) and d["dataset"].get("classes") is None:
            d["dataset"].pop("classes", None)
        return d

    def to_config(self, limits: dict[str, Any] | None = None) -> TrainConfig:
        return TrainConfig.from_dict(self.config_dict(), limits)


class GradcheckRequest(TrainRequest):
    """A ``/train`` body plus the number of points in the checked batch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "dataset": {"name": "circle", "n_points": 100},
                    "network": {"hidden_layers": [4, 3], "activation": "tanh"},
                    "regularization": {"kind": "l2", "strength": 0.01},
                    "points": 16,
                }
            ]
        },
    )
    points: int = Field(default=32, description="batch size of the check")


class RaceRequest(TrainRequest):
    """A ``/train`` body plus 2..6 optimisers, all starting from the same weights."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "dataset": {"name": "moons", "n_points": 200},
                    "network": {"hidden_layers": [8]},
                    "epochs": 10,
                    "optimizers": [
                        {"name": "sgd", "learning_rate": 0.1},
                        {"name": "momentum", "learning_rate": 0.03},
                        {"name": "adam", "learning_rate": 0.01},
                    ],
                }
            ]
        },
    )
    optimizers: list[OptimizerSpec] = Field(min_length=2)


class PredictRequest(BaseModel):
    """``{"model": <model document>, "points": ...}``, ``{"session": id, "points": ...}`` or
    ``{"run": id, "points": ...}`` (a saved run's model); exactly one of the three."""

    model_config = ConfigDict(extra="forbid")
    model: dict[str, Any] | None = None
    session: str | None = None
    run: str | None = Field(default=None, description="a saved run's id (POST /runs)")
    points: list[Point] = Field(min_length=1)
    mc_passes: int | None = Field(
        default=None, description="K (1..100): probabilities are the mean of K MC-dropout passes"
    )
    dropout: Finite | None = Field(
        default=None, description="dropout rate of the MC passes, 0..0.9"
    )


# --------------------------------------------------------------------------- responses


class History(BaseModel):
    """Per epoch (plus step 0 and a final mid-epoch entry): one list per quantity."""

    epoch: list[int]
    step: list[int]
    train_loss: list[float | None]
    train_accuracy: list[float | None]
    validation_loss: list[float | None]
    validation_accuracy: list[float | None]


class TrainMetrics(BaseModel):
    train_loss: float | None
    train_accuracy: float | None
    validation_loss: float | None
    validation_accuracy: float | None
    data_loss: float | None
    regularization_loss: float | None
    total_loss: float | None
    initial_loss: float | None = Field(description="training data loss before any step")
    expected_initial_loss: float | None = Field(
        description="ln K for cross_entropy (K - 1 for hinge) at a small random init"
    )
    initial_loss_ok: bool | None = Field(
        default=None,
        description="initial loss within 10% of the expected one (null: no expectation)",
    )
    learning_rate: float | None = Field(default=None, description="the scheduled rate at the end")
    stopped: str | None = Field(
        default=None,
        description="the stop condition met (validation_loss, validation_accuracy, epochs)",
    )
    steps: int
    epochs: float = Field(description="epochs completed (fractional when mid-epoch)")
    seconds: float
    diverged: bool


class GridOut(BaseModel):
    domain: list[float] = Field(description="[x1_min, x1_max, x2_min, x2_max]")
    resolution: int
    probabilities: list[list[float]] = Field(
        description="R*R rows of K probabilities, row-major, first row at the top (largest x2)"
    )
    values: list[float] | None = Field(default=None, description="regression: R*R raw outputs")
    std: list[list[float]] | None = Field(
        default=None, description="prediction mode mc_dropout: R*R rows of standard deviations"
    )


class LayerStats(BaseModel):
    layer: int
    activation: str
    units: int
    mean: float | None
    std: float | None
    saturated: float | None
    dead: float | None
    grad_norm: float | None
    histogram: dict[str, list[float | None]]


class TrainResponse(BaseModel):
    model: dict[str, Any]
    history: History
    metrics: TrainMetrics
    grid: GridOut | None = None
    layer_stats: list[LayerStats] | None = None


class PredictResponse(BaseModel):
    probabilities: list[list[float]]
    labels: list[int]
    values: list[float] | None = Field(
        default=None, description="raw outputs of an mse (regression) model"
    )
    std: list[list[float]] | None = Field(
        default=None,
        description="with mc_passes: standard deviation of each probability over passes",
    )


class GradcheckRow(BaseModel):
    parameter: str
    index: list[int]
    analytic: float
    numerical: float
    relative_error: float


class GradcheckResponse(BaseModel):
    rows: list[GradcheckRow]
    worst_relative_error: float
    passed: bool
    threshold: float


class RaceRun(BaseModel):
    optimizer: dict[str, Any]
    history: History
    metrics: TrainMetrics
    grid: GridOut | None = None


class RaceResponse(BaseModel):
    runs: list[RaceRun]


class ErrorItem(BaseModel):
    loc: list[str | int]
    field: str = Field(description='dotted path, e.g. "optimizer.learning_rate"')
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem]
