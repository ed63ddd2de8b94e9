"""REST routes that describe the server: ``/healthz`` and ``/api/options``.

``/api/options`` publishes every choice (with defaults), a complete ``/train`` body that
trains well on this server's limits, the limits themselves and the page's own options.
Both are ``async``, answered on the event loop without a thread: however busy the threads
are (REST compute, large parses), a health check and the page's first request are not
kept waiting. They read the settings and the registry from ``request.app.state`` rather
than through ``deps`` (plain ``def`` dependencies, which FastAPI calls on a thread).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mlp_playground.config import Settings
from mlp_playground.data.datasets import DATASETS
from mlp_playground.data.features import FEATURES
from mlp_playground.nn.activations import ACTIVATIONS
from mlp_playground.nn.initializers import INITIALIZERS
from mlp_playground.nn.losses import LOSSES
from mlp_playground.nn.optimizers import OPTIMIZERS
from mlp_playground.nn.regularization import REGULARIZATIONS
from mlp_playground.public import page_options
from mlp_playground.routes.body_limit import OffLoopJSONRoute
from mlp_playground.training.config.defaults import MAX_MC_PASSES, PREDICTION_MODES, SCHEDULES
from mlp_playground.training.config.train_config import TrainConfig

router = APIRouter(route_class=OffLoopJSONRoute)


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


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Alive. With several processes (``MLPG_REDIS_URL``) also this process's id and
    whether it reaches Redis: it serves its own sessions either way, so status stays ok."""
    registry: Any = getattr(request.app.state, "registry", None)
    link = getattr(registry, "link", None)
    if link is None:
        return {"status": "ok"}
    cluster = link.cluster
    return {
        "status": "ok",
        "process": cluster.process_id,
        "redis": "ok" if cluster.available else "unavailable",
        "sessions": len(registry),
    }


@router.get("/api/options")
async def options(request: Request) -> dict[str, Any]:
    """Every choice (with defaults), a complete ``/train`` body that trains well, the limits."""
    return _options(request.app.state.settings)
