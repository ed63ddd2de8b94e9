"""REST routes of the code export: ``POST /export`` and ``GET /runs/{id}/export``.

``POST /export`` answers a standalone Python script (``text/x-python``): the model script of
a model document, or the training script of a ``/train`` body (same data, split, initial
weights, batch order and dropout masks as ``/train``; the same work cap, so a body that
``/train`` would refuse is refused here, 422 naming ``train.steps`` or ``train.epochs``).
``GET /runs/{id}/export`` does the same for a saved run: its model's script, or with
``kind=train`` (the default for a run saved without a model) a training script from its
config and points. Both build their script with ``run_compute`` (``routes.compute_limit``):
building a trainer and reading the store run on a compute thread, within this client's
share.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mlp_playground.config import Settings
from mlp_playground.deps import SettingsDep, StoreDep
from mlp_playground.export import FORMATS, training_script
from mlp_playground.export.model_script import model_script
from mlp_playground.export.network import Network
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.routes.compute_limit import run_compute
from mlp_playground.routes.runs import RUN_ID
from mlp_playground.routes.schemas import TrainRequest
from mlp_playground.routes.training_run import ERRORS, build_trainer, check_work, limits_of
from mlp_playground.store.base import CorruptRun, Store
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

MEDIA_TYPE = "text/x-python; charset=utf-8"
SCRIPT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/x-python": {}}, "description": "the script (a file download)"}
}

router = APIRouter(route_class=OffLoopJSONRoute, tags=["export"])


class ExportRequest(BaseModel):
    """``{"format": ..., "model": <model document>}`` or ``{"format": ..., "train": <a
    /train body>}``: exactly one of ``model`` and ``train``."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["numpy", "pytorch"] = Field(
        description="numpy: NumPy only; pytorch: NumPy and torch (a float64 nn.Sequential)"
    )
    model: dict[str, Any] | None = Field(
        default=None, description="a model document: the script of these trained weights"
    )
    train: TrainRequest | None = Field(
        default=None, description="a /train body: a script whose train() makes that run"
    )


def _script(content: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content=content, media_type=MEDIA_TYPE, headers=headers)


def _under(prefix: str, exc: ConfigError) -> ConfigError:
    return ConfigError(f"{prefix}.{exc.field}" if exc.field else prefix, exc.message)


def _training(trainer: Trainer, settings: Settings, fmt: str, prefix: str) -> str:
    try:
        steps = check_work([trainer], settings)
    except ConfigError as exc:
        raise _under(prefix, exc) from None
    return training_script(trainer, steps, fmt)


@router.post("/export", response_class=Response, responses={**SCRIPT, **ERRORS})
async def export(body: ExportRequest, settings: SettingsDep, request: Request) -> Response:
    """A standalone Python script: a trained model (``predict_proba``, ``predict``) or a
    training run (``train()`` returns ``/train``'s history)."""
    return await run_compute(request, _export, body, settings)


def _export(body: ExportRequest, settings: Settings) -> Response:
    if (body.model is None) == (body.train is None):
        raise ConfigError("model", "give either model (a model document) or train (a /train body)")
    if body.model is not None:
        network = Network.from_document(body.model, limits_of(settings))
        return _script(model_script(network, body.format), f"model_{body.format}.py")
    assert body.train is not None
    try:
        trainer = build_trainer(body.train, settings)
    except ConfigError as exc:
        raise _under("train", exc) from None
    script = _training(trainer, settings, body.format, "train")
    return _script(script, f"train_{body.format}.py")


@router.get(
    "/runs/{run_id}/export",
    response_class=Response,
    responses={**SCRIPT, **ERRORS, 404: {"description": "no run has this id"}},
    tags=["saved runs"],
)
async def export_run(
    run_id: str,
    store: StoreDep,
    settings: SettingsDep,
    request: Request,
    format: Annotated[str, Query(description="numpy or pytorch")] = "numpy",
    kind: Annotated[
        str | None,
        Query(
            description="model (the saved weights) or train (a training script); "
            "default: model, or train for a run saved without a model"
        ),
    ] = None,
) -> Response:
    """A saved run as a script: its model, or a training run from its config and points."""
    return await run_compute(request, _export_run, run_id, store, settings, format, kind)


def _export_run(
    run_id: str, store: Store, settings: Settings, format: str, kind: str | None
) -> Response:
    if format not in FORMATS:
        raise ConfigError("format", f"unknown format {format!r}; valid: {', '.join(FORMATS)}")
    if kind not in (None, "model", "train"):
        raise ConfigError("kind", f"unknown kind {kind!r}; valid: model, train")
    try:
        run = store.get_run(run_id) if RUN_ID.match(run_id) else None
    except CorruptRun as exc:
        raise HTTPException(500, str(exc)) from None
    if run is None:
        raise HTTPException(404, f"no run with id {run_id!r}")
    kind = kind or ("model" if run.get("model") is not None else "train")
    if kind == "model":
        if run.get("model") is None:
            raise ConfigError(
                "kind", f"run {run_id!r} was saved without a model; ask for kind=train"
            )
        network = Network.from_document(run["model"], limits_of(settings))
        return _script(model_script(network, format), f"run_{run_id}_model_{format}.py")
    limits = {**limits_of(settings), "max_points_train": settings.max_live_points}
    config = {**run["config"], "dataset": None, "data": run["data"]}
    try:
        trainer = Trainer(TrainConfig.from_dict(config, limits), limits=limits)
    except ConfigError as exc:
        raise _under("config", exc) from None
    script = _training(trainer, settings, format, "config")
    return _script(script, f"run_{run_id}_train_{format}.py")
