"""REST routes: /train, /predict, /gradcheck, /race, /api/options, /healthz.

Endpoints that compute are plain ``def`` functions, so FastAPI runs them in its threadpool
and the event loop (and every live session's stream) keeps running during a long request.
Responses are built as plain JSON-ready dicts and returned as ``JSONResponse`` (the grid of
a large request has ~10^5 rows; re-validating it through pydantic would cost more than the
training); the ``response_model`` still documents them. Bad values raise
``ConfigError(field, message)``, which the app turns into a 422 naming the field.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from mlp_playground.config import Settings
from mlp_playground.datasets import DATASETS
from mlp_playground.deps import RegistryDep, SettingsDep
from mlp_playground.features import FEATURES
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.optimizers import OPTIMIZERS
from mlp_playground.nn.regularization import REGULARIZATIONS
from mlp_playground.public import page_options
from mlp_playground.schemas import (
    DATA_EXAMPLE,
    TRAIN_EXAMPLE,
    ErrorResponse,
    GradcheckRequest,
    GradcheckResponse,
    PredictRequest,
    PredictResponse,
    RaceRequest,
    RaceResponse,
    TrainRequest,
    TrainResponse,
)
from mlp_playground.training import (
    ConfigError,
    Predictor,
    TrainConfig,
    Trainer,
    check_int,
    check_number,
    check_points,
    mc_predict,
)
from mlp_playground.training_config import MAX_MC_PASSES, PREDICTION_MODES, SCHEDULES

OFF_LOOP_BYTES = 65_536
"""JSON bodies larger than this are parsed in the threadpool."""


def _too_big(size: int, cap: int) -> JSONResponse:
    message = f"the body is {size} bytes, over the limit of {cap} (max_body_bytes)"
    field = {"loc": ["body"], "field": "body", "msg": message, "type": "value_error"}
    return JSONResponse({"detail": [field]}, status_code=422)


class OffLoopJSONRoute(APIRoute):
    """Cap the body, then parse JSON in the threadpool rather than on the event loop.

    A /predict body of 200,000 points takes about a second to parse; on the loop that
    would freeze every live session's stream meanwhile. Starlette caches the parsed body
    on the request (``Request._json``, the attribute ``Request.json()`` fills), so FastAPI
    then validates the already-parsed value. A body over ``Settings.max_body_bytes`` is
    refused from its Content-Length before it is read (or once read, without one).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            cap = request.app.state.settings.max_body_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                return _too_big(int(declared), cap)
            body = await request.body()
            if len(body) > cap:
                return _too_big(len(body), cap)
            if len(body) > OFF_LOOP_BYTES and "json" in request.headers.get("content-type", ""):
                with contextlib.suppress(ValueError):  # FastAPI reports bad JSON itself
                    request._json = await run_in_threadpool(json.loads, body)
            return await handler(request)

        return parse_then_handle


router = APIRouter(route_class=OffLoopJSONRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "a bad field, named in detail[].field"}
}
GRADCHECK_SAMPLES_PER_PARAMETER = 12
"""Entries checked per parameter tensor: every entry of a small net, a sample of a big one."""
MAX_PREDICT_DROPOUT = 0.9


# --------------------------------------------------------------------------- helpers


def _limits(settings: Settings) -> dict[str, Any]:
    return settings.limits()


def _build(body: TrainRequest, settings: Settings, config: TrainConfig | None = None) -> Trainer:
    """Config and Trainer for a request (data generated, weights initialised, no step)."""
    config = config or body.to_config(_limits(settings))
    if body.grid is not None:
        lo, hi = settings.min_grid_resolution, settings.max_grid_resolution
        if not lo <= body.grid.resolution <= hi:
            raise ConfigError(
                "grid.resolution",
                f"grid.resolution must be in {lo}..{hi}, got {body.grid.resolution}",
            )
    return Trainer(config, body.initial_model, limits=_limits(settings))


def _work(trainer: Trainer, steps: int, settings: Settings) -> float:
    """The work units of ``steps`` updates plus one evaluation of all points per epoch."""
    per_param = trainer.parameter_count() + settings.work_parameter_offset
    batch = min(trainer.config.batch_size, max(trainer.n_train, 1))
    epochs = steps / max(trainer.steps_per_epoch, 1)
    points = len(trainer.data.y)
    return per_param * (
        steps * (batch + settings.work_batch_offset)
        + epochs * (points + settings.work_batch_offset)
    )


def _check_work(trainers: list[Trainer], settings: Settings, what: str = "") -> int:
    """Planned steps of each run; 422 on ``steps``/``epochs`` when the total is too much."""
    steps = trainers[0].config.planned_steps(trainers[0].n_train)
    total = sum(_work(t, steps, settings) for t in trainers)
    if total > settings.max_work:
        field = "steps" if trainers[0].config.steps is not None else "epochs"
        raise ConfigError(
            field,
            f"too much work for one request{what}: {steps} steps of batch "
            f"{trainers[0].config.batch_size} on {trainers[0].parameter_count()} parameters "
            f"is {total:.3g} work units, over the limit of {settings.max_work:.3g}; ask for "
            "fewer steps or epochs, a smaller batch or a smaller network",
        )
    return steps


def _columns(history: list[dict]) -> dict[str, list]:
    keys = (
        "epoch",
        "step",
        "train_loss",
        "train_accuracy",
        "validation_loss",
        "validation_accuracy",
    )
    return {k: [h[k] for h in history] for k in keys}


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


class _Run:
    """One REST run in progress: its initial metrics, start time and outcome so far."""

    def __init__(self, trainer: Trainer, steps: int) -> None:
        self.trainer = trainer
        self.steps = steps
        self.t0 = time.perf_counter()
        trainer.record()
        self.diverged = False
        self.stopped: str | None = None

    @property
    def done(self) -> bool:
        return self.diverged or self.stopped is not None or self.trainer.step >= self.steps

    def advance(self, k: int) -> None:
        """Up to ``k`` more updates (never past ``steps``); notes divergence and stops."""
        result = self.trainer.run_steps(min(k, self.steps - self.trainer.step))
        self.diverged = result.diverged
        self.stopped = result.stopped

    def result(self) -> dict[str, Any]:
        trainer = self.trainer
        trainer.record()
        metrics = trainer.evaluate().to_dict()
        metrics.update(trainer.initial_loss_report())
        metrics.update(
            learning_rate=_finite(trainer.learning_rate),
            stopped=self.stopped,
            steps=trainer.step,
            epochs=round(trainer.epochs_done, 6),
            seconds=round(time.perf_counter() - self.t0, 6),
            diverged=self.diverged,
        )
        return {"history": _columns(trainer.history), "metrics": metrics}


def _run(trainer: Trainer, steps: int) -> dict[str, Any]:
    """Train for ``steps`` updates (stopping on divergence or a stop condition)."""
    run = _Run(trainer, steps)
    chunk = max(trainer.steps_per_epoch, 1)
    while not run.done:
        run.advance(chunk)
    return run.result()


def _grid(trainer: Trainer, resolution: int) -> dict[str, Any]:
    with np.errstate(all="ignore"):
        result = trainer.grid(resolution, hidden=False)
    if not np.isfinite(result.probabilities).all():
        raise ConfigError("grid", "the model's outputs overflow on the grid (weights too large)")
    out = {
        "domain": [float(v) for v in result.domain],
        "resolution": resolution,
        "probabilities": result.probabilities.tolist(),
    }
    if result.values is not None:
        out["values"] = result.values.tolist()
    if result.std is not None:
        out["std"] = result.std.tolist()
    return out


def _options(settings: Settings) -> dict[str, Any]:
    limits = settings.limits()
    n_points = min(400, settings.max_points_train)  # defaults must pass this server's limits
    datasets = {
        name: {
            "description": info.description,
            "regression": info.regression,
            "classes": {
                "min": info.classes_min,
                "max": min(info.classes_max, settings.max_classes),
                "default": info.classes_default,
            },
            "parameters": {
                "n_points": {"min": 1, "max": settings.max_points_train, "default": n_points},
                "noise": {"min": 0.0, "max": 1.0, "default": 0.1},
                "seed": {"min": 0, "default": 0},
            },
        }
        for name, info in DATASETS.items()
    }
    defaults = TrainConfig.from_dict({"dataset": {"n_points": n_points}}).to_dict()
    defaults.pop("speed", None)
    defaults.update(initial_model=None, grid=None, stats=False)
    return {
        "datasets": datasets,
        "activations": list(ACTIVATIONS),
        "losses": list(LOSSES),
        "initializers": list(INITIALIZERS),
        "regularizations": list(REGULARIZATIONS),
        "optimizers": {name: dict(h) for name, h in OPTIMIZERS.items()},
        "features": list(FEATURES),
        "schedules": list(SCHEDULES),
        "prediction_modes": list(PREDICTION_MODES),
        "max_mc_passes": MAX_MC_PASSES,
        "defaults": defaults,
        "limits": limits,
        **page_options(settings),
    }


# --------------------------------------------------------------------------- routes


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/options")
def options(settings: SettingsDep) -> dict[str, Any]:
    """Every choice (with defaults), a complete ``/train`` body that trains well, the limits."""
    return _options(settings)


TRAIN_EXAMPLES = {
    "spiral": {"summary": "Three spiral arms, with the decision grid", "value": TRAIN_EXAMPLE},
    "data": {"summary": "Explicit points (XOR with an x1*x2 feature)", "value": DATA_EXAMPLE},
    "defaults": {"summary": "All defaults (circle)", "value": {}},
}


@router.post("/train", response_model=TrainResponse, responses=ERRORS)
def train(
    body: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
    settings: SettingsDep,
) -> JSONResponse:
    """Train a network; returns the model document, the history and the final metrics."""
    trainer = _build(body, settings)
    steps = _check_work([trainer], settings)
    out: dict[str, Any] = {"model": None, **_run(trainer, steps)}
    out["model"] = trainer.model_document()
    if body.grid is not None:
        out["grid"] = _grid(trainer, body.grid.resolution)
    if body.stats:
        with np.errstate(all="ignore"):
            out["layer_stats"] = _clean(trainer.layer_stats())
    return JSONResponse(out)


def _clean(obj: Any) -> Any:
    """JSON-ready copy: non-finite floats (a saturated net's statistics) become null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return _finite(obj)
    return obj


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


@router.post("/predict", response_model=PredictResponse, responses=ERRORS)
def predict(
    body: Annotated[PredictRequest, Body(openapi_examples=PREDICT_EXAMPLES)],
    settings: SettingsDep,
    registry: RegistryDep,
) -> JSONResponse:
    """Class probabilities of a model document, or of a live session's current model."""
    if (body.model is None) == (body.session is None):
        raise ConfigError("model", "give either model (a model document) or session, not both")
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
    else:
        trainer = registry.get_trainer(body.session) if registry is not None else None
        if trainer is None:
            raise ConfigError("session", f"unknown session {body.session!r}")
        predictor = _session_predictor(trainer)
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
def gradcheck(body: GradcheckRequest, settings: SettingsDep) -> JSONResponse:
    """Centred-difference gradient check of the (initial or given) model on a batch."""
    if not 1 <= body.points <= settings.max_gradcheck_points:
        raise ConfigError(
            "points", f"points must be in 1..{settings.max_gradcheck_points}, got {body.points}"
        )
    trainer = _build(body, settings)
    return JSONResponse(trainer.gradient_check(body.points, GRADCHECK_SAMPLES_PER_PARAMETER))


@router.post("/race", response_model=RaceResponse, responses=ERRORS)
def race(body: RaceRequest, settings: SettingsDep) -> JSONResponse:
    """The same data and initial weights trained by 2..6 optimisers, in the order asked."""
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
            config = TrainConfig.from_dict(d, _limits(settings))
        except ConfigError as exc:
            f = exc.field
            field = f"optimizers[{i}]{f[len('optimizer') :]}" if f.startswith("optimizer") else f
            raise ConfigError(field, exc.message) from None
        trainers.append(_build(body, settings, config))
    # Bit-identical starting weights whatever the optimiser (the seed already gives the
    # same draw; the copy makes it a guarantee rather than a coincidence of RNG order).
    first = trainers[0].model.params.flat
    for trainer in trainers[1:]:
        trainer.model.params.flat[...] = first
        trainer.initial_loss = trainers[0].initial_loss
    steps = _check_work(trainers, settings, f" ({len(trainers)} runs)")
    runs = [_Run(trainer, steps) for trainer in trainers]
    # Lockstep: one update of each run in turn, so no run is ever ahead of another.
    while not all(run.done for run in runs):
        for run in runs:
            if not run.done:
                run.advance(1)
    out = []
    for run in runs:
        item = {"optimizer": dict(run.trainer.config.optimizer), **run.result()}
        if body.grid is not None:
            item["grid"] = _grid(run.trainer, body.grid.resolution)
        out.append(item)
    return JSONResponse({"runs": out})
