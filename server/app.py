"""The app factory: thin assembly of routers, the session registry and the static page."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlp_playground import STATIC_DIR, __version__
from mlp_playground.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Tests build one per test with their own settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from mlp_playground.live.registry import SessionRegistry

        registry = SessionRegistry(settings)
        app.state.registry = registry
        await registry.start()
        try:
            yield
        finally:
            await registry.close()

    app = FastAPI(title="MLP Playground", version=__version__, lifespan=lifespan)
    app.state.settings = settings

    from mlp_playground.routes import live, training

    app.include_router(training.router)
    app.include_router(live.router)
    app.include_router(live.rest)
    _install_error_handlers(app)
    if settings.cors_origins:
        # Closed by default (same origin only); an operator lists the origins it trusts.
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
        )
    if settings.allowed_hosts:
        # Added last, so outermost: another host name is a 400 before anything else runs.
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


# --------------------------------------------------------------------------- REST errors
#
# Every bad input is a 422 ``{"detail": [{"loc", "field", "msg", "type"}]}``. FastAPI's
# default handler echoes the offending input back; a NaN there cannot be encoded as JSON
# and turns the 422 into a 500, so these handlers never echo input.


def _field(loc: list[Any] | tuple[Any, ...]) -> str:
    """("body", "data", "labels", 3) -> "data.labels[3]"."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _loc(field: str) -> list[str | int]:
    """ "data.labels[3]" -> ["body", "data", "labels", 3]."""
    parts: list[str | int] = ["body"]
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        parts.append(int(index) if index else name)
    return parts


def _error(field: str, msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": _loc(field), "field": field, "msg": msg, "type": kind}


def _install_error_handlers(app: FastAPI) -> None:
    from mlp_playground.training import ConfigError

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "field": _field(e.get("loc", ())),
                "msg": str(e.get("msg", "invalid value")),
                "type": str(e.get("type", "value_error")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    async def config_error(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": [_error(exc.field, exc.message)]}, status_code=422)

    async def value_error(request: Request, exc: ValueError) -> JSONResponse:
        # A bad value caught below the validation layer (e.g. by the engine): still the
        # client's input, so a 422 rather than a 500; logged so a real bug is visible.
        logging.getLogger("mlp_playground.rest").warning("%s %s: %s", request.method, request.url, exc)
        return JSONResponse({"detail": [_error("body", str(exc))]}, status_code=422)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette answers a body it cannot decode (e.g. invalid UTF-8) with a bare 400; the
        # REST contract says bad input is a 422 naming the field, so say it is the body.
        if exc.status_code == 400 and request.method == "POST":
            msg = "the body is not valid JSON"
            return JSONResponse({"detail": [_error("body", msg, "json_invalid")]}, 422)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ConfigError, config_error)
    app.add_exception_handler(ValueError, value_error)
