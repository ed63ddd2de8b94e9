"""REST routes that read a model without training it: ``/predict`` and ``/gradcheck``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from mlp_playground.config import Settings
from mlp_playground.deps import RegistryDep, SettingsDep, StoreDep
from mlp_playground.live.messages import RUN_ID
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.routes.compute_limit import run_compute
from mlp_playground.routes.schemas import (
    GradcheckRequest,
    GradcheckResponse,
    PredictRequest,
    PredictResponse,
)
from mlp_playground.routes.training_run import ERRORS, build_trainer
from mlp_playground.store.base import CorruptRun, Store
from mlp_playground.training.config.checks import (
    ConfigError,
    check_int,
    check_number,
    check_points,
)
from mlp_playground.training.config.defaults import MAX_MC_PASSES
from mlp_playground.training.predictor import Predictor, mc_predict
from mlp_playground.training.trainer import Trainer


class PredictRoute(OffLoopJSONRoute):
    """/predict's route: a large body with more JSON arrays (``[``) than a legal one can
    hold is a 422 on ``points`` before it is parsed. A legal body has at most
    ``max_points_predict`` points and one model document, whose arrays number at most
    ``MODEL_ARRAYS_PER_LAYER`` per unit of each layer; a 3.2 M-point body (30.5 MiB, ~850 MB
    once parsed) is refused from its bytes (``bytes.count`` runs at memory speed)."""

    def refuse_unparsed(self, body: bytes, settings: Any) -> Response | None:
        layers = settings.max_hidden_layers + 1
        most = settings.max_points_predict + MODEL_ARRAYS_PER_LAYER * layers * (
            settings.max_units + 2
        )
        arrays = body.count(b"[")
        if arrays <= most + 64:
            return None
        message = (
            f"the body holds {arrays} JSON arrays: more than the at most "
            f"{settings.max_points_predict} points (max_points_predict) and one model allow"
        )
        field = {"loc": ["body", "points"], "field": "points", "msg": message}
        return JSONResponse({"detail": [{**field, "type": "value_error"}]}, status_code=422)


MODEL_ARRAYS_PER_LAYER = 2
"""A layer's weights hold one array per unit (fewer than max_units + 2 with its bias and
the list around them); twice that is room for any other array of a model document."""

router = APIRouter(route_class=OffLoopJSONRoute)
_predict_router = APIRouter(route_class=PredictRoute)  # /predict: included below

GRADCHECK_SAMPLES_PER_PARAMETER = 12
"""Entries checked per parameter tensor: every entry of a small net, a sample of a big one."""
MAX_PREDICT_DROPOUT = 0.9


PREDICT_EXAMPLES = {
    "model": {
        "summary": "A one-layer model on (x1, x2): class 1 where x1 > 0",
        "value": {
            "model": {
                "format": "mlp-playground.model/1",
                "features": ["x1", "x2"],
                "normalization": {"mean": [0.0, 0.0], "std": [1.0, 1.0]},
                "classes": 2,
                "loss": "cross_entropy",
                "layers": [
                    {
                        "weights": [[-1.0, 1.0], [0.0, 0.0]],
                        "bias": [0.0, 0.0],
                        "activation": "linear",
                    }
                ],
            },
            "points": [[-1.0, 0.5], [2.0, -1.0]],
        },
    }
}


@_predict_router.post(
    "/predict",
    response_model=PredictResponse,
    responses={**ERRORS, 404: {"description": "`run`: no saved run has this id"}},
)
async def predict(
    body: Annotated[PredictRequest, Body(openapi_examples=PREDICT_EXAMPLES)],
    settings: SettingsDep,
    registry: RegistryDep,
    store: StoreDep,
    request: Request,
) -> JSONResponse:
    """Class probabilities of a model document, a live session's current model, or a saved
    run's model (on a compute thread, which also reads the store)."""
    return await run_compute(request, _predict, body, settings, registry, store)


def _predict(body: PredictRequest, settings: Settings, registry: Any, store: Store) -> JSONResponse:
    given = [name for name in ("model", "session", "run") if getattr(body, name) is not None]
    if len(given) != 1:
        raise ConfigError(
            "model", "give either model (a model document), session or run: one, not both"
        )
    points = check_points("points", body.points, settings.max_points_predict)
    passes = dropout = None
    if body.mc_passes is not None:
        passes = check_int("mc_passes", body.mc_passes, 1, MAX_MC_PASSES)
    if body.dropout is not None:
        dropout = check_number("dropout", body.dropout, 0.0, MAX_PREDICT_DROPOUT)
        if passes is None:
            raise ConfigError("mc_passes", "dropout needs mc_passes (the number of MC passes)")
    if body.model is not None:
        predictor = Predictor.from_document(body.model)
    elif body.run is not None:
        predictor = _run_predictor(store, body.run)
    else:
        predictor = _live_predictor(registry, str(body.session))
    regression = predictor.loss == "mse"
    out: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        if passes is None:
            proba = predictor.predict_proba(points)
            values = predictor.scores(points)[:, 0] if regression else None
        else:
            model = predictor.model  # a private copy: its dropout and RNG are ours to set
            if dropout is not None:
                model.dropout = dropout
            model.rng = np.random.default_rng(0)  # the same request, the same answer
            mean, std = mc_predict(model, predictor.inputs(points), passes, regression)
            if regression:
                proba, values = model.predict_proba(predictor.inputs(points)), mean[:, 0]
            else:
                proba, values = mean, None
            out["std"] = std
    if not np.isfinite(proba).all() or (values is not None and not np.isfinite(values).all()):
        raise ConfigError(
            "model", "the model's outputs overflow for these points (weights too large)"
        )
    out = {
        "probabilities": proba.tolist(),
        "labels": proba.argmax(axis=1).tolist(),
        **{k: np.nan_to_num(v).tolist() for k, v in out.items()},
    }
    if values is not None:
        out["values"] = values.tolist()
    return JSONResponse(out)


router.include_router(_predict_router)


def _run_predictor(store: Store, run_id: str) -> Predictor:
    """The model saved with a run: 404 for an unknown id, 422 for a run saved without one."""
    try:
        run = store.get_run(run_id) if RUN_ID.match(run_id) else None
    except CorruptRun as exc:
        raise HTTPException(500, str(exc)) from None
    if run is None:
        raise HTTPException(404, f"no run with id {run_id!r}")
    if run.get("model") is None:
        raise ConfigError("run", f"run {run_id!r} was saved without a model")
    return Predictor.from_document(run["model"])


def _live_predictor(registry: Any, session_id: str) -> Predictor:
    """The model of a live session here, or held by another process (through Redis, at
    most about a second old): 422 naming ``session`` if none has it."""
    trainer = registry.get_trainer(session_id) if registry is not None else None
    if trainer is not None:
        return _session_predictor(trainer)
    document = None
    if registry is not None and registry.link is not None:
        from mlp_playground.cluster.errors import ClusterUnavailable

        try:
            document = registry.remote_model(session_id)
        except ClusterUnavailable as exc:
            raise HTTPException(
                503,
                f"sessions of other processes unreachable: {exc}",
                headers={"Retry-After": "1"},
            ) from None
    if document is None:
        raise ConfigError("session", f"unknown session {session_id!r}")
    return Predictor.from_document(document)


def _session_predictor(trainer: Trainer) -> Predictor:
    """A private copy of a live model. The session's worker thread may be reshaping it at
    this moment (a copy taken mid-surgery can fail), so try a few times."""
    for _ in range(10):
        try:
            return trainer.predictor()
        except (ValueError, KeyError, IndexError):
            time.sleep(0.01)
    raise ConfigError("session", "the session's model is changing; try again")


@router.post("/gradcheck", response_model=GradcheckResponse, responses=ERRORS)
async def gradcheck(
    body: GradcheckRequest, settings: SettingsDep, request: Request
) -> JSONResponse:
    """Centred-difference gradient check of the (initial or given) model on a batch."""
    return await run_compute(request, _gradcheck, body, settings)


def _gradcheck(body: GradcheckRequest, settings: Settings) -> JSONResponse:
    if not 1 <= body.points <= settings.max_gradcheck_points:
        raise ConfigError(
            "points", f"points must be in 1..{settings.max_gradcheck_points}, got {body.points}"
        )
    trainer = build_trainer(body, settings)
    return JSONResponse(trainer.gradient_check(body.points, GRADCHECK_SAMPLES_PER_PARAMETER))
