"""The ``POST /runs`` body: pydantic models for its shape, then the checks that need the
engine's rules (a ``/train`` config, a model document), all naming the field at fault.

``validate_run`` is what both doors into the store use (REST here, the live ``save``
message later): it turns a body into the canonical run that ``Store.save_run`` keeps, with
the config in ``TrainConfig.to_dict()`` form (every default filled in, so a run reopens the
same even if a later release changes a default).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlp_playground.config import Settings
from mlp_playground.nn.serialization import model_from_document
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig

MAX_HISTORY_SERIES = 32
MAX_HISTORY_KEY_CHARS = 64
MAX_HISTORY_ENTRIES = 20_000
"""As many entries as a live session keeps (``training_loop.HISTORY_CAP``)."""

RUN_EXAMPLE: dict[str, Any] = {
    "title": "XOR with a 4-unit layer",
    "config": {"network": {"hidden_layers": [4], "activation": "tanh"}, "epochs": 100},
    "data": {"points": [[-1, -1], [-1, 1], [1, -1], [1, 1]], "labels": [0, 1, 1, 0]},
    "history": {"epoch": [0, 1], "train_loss": [0.69, 0.61]},
}


class RunData(BaseModel):
    """The session's points: [x1, x2] pairs and one label each (0..K-1, or values for mse)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    points: list[list[float]]
    labels: list[float]
    classes: int | None = Field(None, description="K; default: the largest label + 1")


class RunRequest(BaseModel):
    """``POST /runs``: what a saved run holds (docs/design.md, "Saved runs and durable sessions")."""

    # No OpenAPI example on purpose: tests/api/test_api_options.py posts every POST example
    # and expects a 200 (this answers 201); RUN_EXAMPLE is used by tests/store instead.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: str | None = Field(None, description="shown with the run; max_run_title_chars")
    config: dict[str, Any] = Field(
        description="the /train fields (no data, initial_model or grid); defaults fill the rest"
    )
    data: RunData
    model: dict[str, Any] | None = Field(None, description="a model document (trained weights)")
    history: dict[str, list[Any]] | None = Field(
        None, description="per-epoch series of numbers or null, as /train's history"
    )


class RunCreated(BaseModel):
    id: str = Field(description="12 URL-safe characters")
    url: str = Field(description="/r/<id>: the page, opening this run paused")
    delete_token: str = Field(description="send as X-Delete-Token to delete; shown once")


class RunDocument(BaseModel):
    """``GET /runs/{id}``: the run as saved, canonical, plus its id and creation time."""

    id: str
    created: str = Field(description="ISO 8601 UTC")
    title: str | None
    config: dict[str, Any]
    data: dict[str, Any]
    model: dict[str, Any] | None
    history: dict[str, list[int | float | None]] | None


class Message(BaseModel):
    """A refusal with one sentence (403, 404, 429, 507)."""

    detail: str


# --------------------------------------------------------------------------- checks


def validate_run(req: RunRequest, settings: Settings) -> dict[str, Any]:
    """The canonical run for a shape-valid body; ``ConfigError(field, ...)`` otherwise."""
    limits = settings.limits()
    config = _config(req.config, limits)
    data = _data(config, req.data, {**limits, "max_points_train": settings.max_live_points})
    return {
        "title": _title(req.title, settings.max_run_title_chars),
        "config": config.to_dict(),
        "data": data,
        "model": _model(req.model, limits, data["classes"]),
        "history": _history(req.history),
    }


def _title(title: str | None, cap: int) -> str | None:
    if title is None:
        return None
    title = title.strip()
    if len(title) > cap:
        raise ConfigError("title", f"title has {len(title)} characters, over the limit of {cap}")
    if any(ord(c) < 32 for c in title):
        raise ConfigError("title", "title must be one line of text (no control characters)")
    return title or None


def _config(cfg: dict[str, Any], limits: dict[str, Any]) -> TrainConfig:
    if cfg.get("data") is not None:
        raise ConfigError("config.data", "a run's points go in data, not config.data")
    try:
        return TrainConfig.from_dict({k: v for k, v in cfg.items() if k != "data"}, limits)
    except ConfigError as exc:
        raise ConfigError(_under("config", exc.field), exc.message) from None


def _under(prefix: str, field: str) -> str:
    if not field or field == prefix or field == "body":
        return prefix
    return f"{prefix}.{field}"


def _data(config: TrainConfig, data: RunData, limits: dict[str, Any]) -> dict[str, Any]:
    """Points and labels checked as ``/train`` checks its ``data`` (finite pairs, as many
    labels as points, integers below K for classification), under the live points cap."""
    body = {**config.to_dict(), "dataset": None, "data": data.model_dump(exclude_none=True)}
    try:
        checked = TrainConfig.from_dict(body, limits).data
    except ConfigError as exc:
        field = exc.field if exc.field.startswith("data") else _under("config", exc.field)
        raise ConfigError(field, exc.message) from None
    assert checked is not None
    return {
        "points": checked["points"].tolist(),
        "labels": checked["labels"].tolist(),
        "classes": int(checked["classes"]),
    }


def _model(doc: dict[str, Any] | None, limits: dict[str, Any], classes: int) -> dict | None:
    """A model document that loads, fits the network caps and has one output per class."""
    if doc is None:
        return None
    try:
        model = model_from_document(doc).model
    except ValueError as exc:
        path = str(exc).split(":", 1)[0]
        field = "model" if path in ("", "document") or " " in path else f"model.{path}"
        raise ConfigError(field, f"model: {exc}") from None
    hidden = list(model.hidden_layers)
    if len(hidden) > int(limits["max_hidden_layers"]):
        raise ConfigError(
            "model.layers",
            f"the model has {len(hidden)} hidden layers, over the limit of "
            f"{limits['max_hidden_layers']}",
        )
    if hidden and max(hidden) > int(limits["max_units"]):
        raise ConfigError(
            "model.layers",
            f"the model has a layer of {max(hidden)} units, over the limit of "
            f"{limits['max_units']}",
        )
    if model.n_outputs != classes:
        raise ConfigError(
            "model", f"the model has {model.n_outputs} outputs; the data needs {classes}"
        )
    return doc


def _history(history: dict[str, list[Any]] | None) -> dict | None:
    """Series of finite numbers (or null where a value was undefined), bounded in count."""
    if history is None:
        return None
    if len(history) > MAX_HISTORY_SERIES:
        raise ConfigError("history", f"history has over {MAX_HISTORY_SERIES} series")
    for key, values in history.items():
        if not 0 < len(key) <= MAX_HISTORY_KEY_CHARS:
            raise ConfigError(
                "history", f"history series names are 1..{MAX_HISTORY_KEY_CHARS} characters"
            )
        if len(values) > MAX_HISTORY_ENTRIES:
            raise ConfigError(
                f"history.{key}", f"history.{key} has over {MAX_HISTORY_ENTRIES} entries"
            )
        bad = next((i for i, v in enumerate(values) if not _finite_or_null(v)), None)
        if bad is not None:
            raise ConfigError(
                f"history.{key}[{bad}]", "history values must be finite numbers or null"
            )
    return history


def _finite_or_null(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond float range: Infinity to a browser
        return False
