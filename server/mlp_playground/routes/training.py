"""REST routes: /train and /race here; /healthz, /api/options (``routes.options``) and
/predict, /gradcheck (``routes.instruments``) are included, so ``router`` is the one router
the app mounts for all of them.

Endpoints that compute run their work with ``run_compute`` (``routes.compute_limit``): on
compute threads of their own, within this client's share and the server's, so the event
loop (every live session's stream) keeps running during a long request and cheap routes
never wait behind one.
Responses are built as plain JSON-ready dicts and returned as ``JSONResponse`` (the grid of
a large request has ~10^5 rows; re-validating it through pydantic would cost more than the
training); the ``response_model`` still documents them. Bad values raise
``ConfigError(field, message)``, which the app turns into a 422 naming the field. Every
route parses its body with ``OffLoopJSONRoute`` (``routes.body_limit``).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from mlp_playground.config import Settings
from mlp_playground.deps import SettingsDep
from mlp_playground.routes import instruments, options
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.routes.compute_limit import run_compute
from mlp_playground.routes.schemas import (
    DATA_EXAMPLE,
    TRAIN_EXAMPLE,
    RaceRequest,
    RaceResponse,
    TrainRequest,
    TrainResponse,
)
from mlp_playground.routes.training_run import (
    ERRORS,
    Run,
    build_trainer,
    check_work,
    clean,
    grid_json,
    limits_of,
    run_to_end,
)
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig

router = APIRouter(route_class=OffLoopJSONRoute)
router.include_router(options.router)

TRAIN_EXAMPLES = {
    "spiral": {"summary": "Three spiral arms, with the decision grid", "value": TRAIN_EXAMPLE},
    "data": {"summary": "Explicit points (XOR with an x1*x2 feature)", "value": DATA_EXAMPLE},
    "defaults": {"summary": "All defaults (circle)", "value": {}},
}


@router.post("/train", response_model=TrainResponse, responses=ERRORS)
async def train(
    body: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
    settings: SettingsDep,
    request: Request,
) -> JSONResponse:
    """Train a network; returns the model document, the history and the final metrics."""
    return await run_compute(request, _train, body, settings)


def _train(body: TrainRequest, settings: Settings) -> JSONResponse:
    trainer = build_trainer(body, settings)
    steps = check_work([trainer], settings)
    out: dict[str, Any] = {"model": None, **run_to_end(trainer, steps)}
    out["model"] = trainer.model_document()
    if body.grid is not None:
        out["grid"] = grid_json(trainer, body.grid.resolution)
    if body.stats:
        with np.errstate(all="ignore"):
            out["layer_stats"] = clean(trainer.layer_stats())
    return JSONResponse(out)


router.include_router(instruments.router)


@router.post("/race", response_model=RaceResponse, responses=ERRORS)
async def race(body: RaceRequest, settings: SettingsDep, request: Request) -> JSONResponse:
    """The same data and initial weights trained by 2..6 optimisers, in the order asked."""
    return await run_compute(request, _race, body, settings)


def _race(body: RaceRequest, settings: Settings) -> JSONResponse:
    if len(body.optimizers) > settings.max_race_optimizers:
        raise ConfigError(
            "optimizers",
            f"at most {settings.max_race_optimizers} optimizers, got {len(body.optimizers)}",
        )
    base = body.config_dict()
    trainers = []
    for i, spec in enumerate(body.optimizers):
        d = {**base, "optimizer": spec.model_dump(exclude_none=True)}
        try:
            config = TrainConfig.from_dict(d, limits_of(settings))
        except ConfigError as exc:
            f = exc.field
            field = f"optimizers[{i}]{f[len('optimizer') :]}" if f.startswith("optimizer") else f
            raise ConfigError(field, exc.message) from None
        trainers.append(build_trainer(body, settings, config))
    # Bit-identical starting weights whatever the optimiser (the seed already gives the
    # same draw; the copy makes it a guarantee rather than a coincidence of RNG order).
    first = trainers[0].model.params.flat
    for trainer in trainers[1:]:
        trainer.model.params.flat[...] = first
        trainer.initial_loss = trainers[0].initial_loss
    steps = check_work(trainers, settings, f" ({len(trainers)} runs)")
    runs = [Run(trainer, steps) for trainer in trainers]
    # Lockstep: one update of each run in turn, so no run is ever ahead of another.
    while not all(run.done for run in runs):
        for run in runs:
            if not run.done:
                run.advance(1)
    out = []
    for run in runs:
        item = {"optimizer": dict(run.trainer.config.optimizer), **run.result()}
        if body.grid is not None:
            item["grid"] = grid_json(run.trainer, body.grid.resolution)
        out.append(item)
    return JSONResponse({"runs": out})
