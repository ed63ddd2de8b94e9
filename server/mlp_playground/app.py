"""The app factory: thin assembly of routers, the session registry and the static page."""

from __future__ import annotations

import asyncio
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

#: What a browser on this machine puts in ``Host`` (IPv6 is left out: Starlette's host
#: check cannot parse "[::1]:8000", and the default bind is IPv4 anyway).
LOOPBACK_NAMES = ["127.0.0.1", "localhost"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application with every protection on, however it is served.

    ``mlp-playground``, ``uvicorn mlp_playground.app:create_app --factory`` and the tests all
    get the same app: bound to loopback it answers only to the loopback names (DNS
    rebinding), websocket messages are capped by the live route itself, REST bodies by
    ``max_body_bytes``. Tests build one per test with their own settings.
    """
    settings = _with_host_check(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from mlp_playground.live.registry import SessionRegistry
        from mlp_playground.store import open_store

        # Connecting (and migrating) blocks: off the loop. The store outlives the registry,
        # which may still write snapshots while it closes.
        store = await asyncio.to_thread(open_store, settings)
        app.state.store = store
        try:
            registry = SessionRegistry(settings, store)
            app.state.registry = registry
            await registry.start()
            try:
                async with _classes_in(app, store, registry):
                    yield
            finally:
                await registry.close()
        finally:
            await asyncio.to_thread(store.close)

    app = FastAPI(
        title="MLP Playground",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served below from vendored files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings

    _include_routers(app)
    _install_error_handlers(app)
    _add_middleware(app, settings)
    # Last: the page's files answer every path no router took.
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


@asynccontextmanager
async def _classes_in(app: FastAPI, store: Any, registry: Any) -> AsyncIterator[None]:
    """The classes kept in the store, and shared over Redis when it is configured.

    The link is imported only with Redis configured: the single-process install has no
    ``redis`` package.
    """
    classes = app.state.classes
    classes.use_store(store)
    classes.start(registry)
    link = None
    if registry.link is not None:
        from mlp_playground.classroom.class_link import ClassLink

        link = await ClassLink.start(classes, registry, store)
    try:
        yield
    finally:
        if link is not None:
            await link.close()
        await classes.close()


def _include_routers(app: FastAPI) -> None:
    """One router per concern; all before the static mount, which would answer first."""
    from mlp_playground.classroom.classes import ClassRegistry
    from mlp_playground.routes import classroom, docs, export, lessons, live, qr, runs, training

    app.state.classes = ClassRegistry(app.state.settings)  # the store's, from the lifespan

    app.include_router(training.router)
    app.include_router(runs.router)
    app.include_router(live.router)
    app.include_router(live.rest)
    app.include_router(docs.router)
    app.include_router(lessons.router)
    app.include_router(qr.router)
    app.include_router(classroom.router)
    app.include_router(export.router)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """CORS (closed unless origins are listed), the body cap, the cross-site refusal, the
    host check, and outermost the security headers (on every response, errors included);
    uvicorn's log lines lose their secrets."""
    from mlp_playground import security_headers
    from mlp_playground.log_redaction import install_redaction
    from mlp_playground.routes.body_limit import BodyLimitMiddleware
    from mlp_playground.routes.cross_site import CrossSiteMiddleware

    install_redaction()
    if settings.cors_origins:
        # Closed by default (same origin only); an operator lists the origins it trusts.
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
        )
    # Counted while a body streams in: a chunked one is cut as it passes max_body_bytes.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # A foreign page's POST/PUT/PATCH/DELETE is a 403 before its body is read.
    app.add_middleware(CrossSiteMiddleware, allowed_origins=list(settings.cors_origins))
    if settings.allowed_hosts:
        # Added last, so outermost: another host name is a 400 before anything else runs.
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    security_headers.install(app)


def _with_host_check(settings: Settings) -> Settings:
    """Loopback-bound settings without an explicit host list answer to the loopback names.

    A server bound to another address (a classroom on 0.0.0.0) cannot know every name it
    is reached by, so it checks none unless ``MLPG_ALLOWED_HOSTS`` lists them.
    """
    from mlp_playground.public import LOOPBACK_HOSTS

    if settings.allowed_hosts or settings.host not in LOOPBACK_HOSTS:
        return settings
    return settings.model_copy(update={"allowed_hosts": LOOPBACK_NAMES})


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
    from mlp_playground.training.config.checks import ConfigError

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
        logging.getLogger("mlp_playground.rest").warning(
            "%s %s: %s", request.method, request.url, exc
        )
        return JSONResponse({"detail": [_error("body", str(exc))]}, status_code=422)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette answers a body it cannot decode (e.g. invalid UTF-8) with a bare 400; the
        # REST contract says bad input is a 422 naming the field, so say it is the body.
        if exc.status_code == 400 and request.method == "POST":
            msg = "the body is not valid JSON"
            return JSONResponse({"detail": [_error("body", msg, "json_invalid")]}, 422)
        return await http_exception_handler(request, exc)

    # The decorator form: Starlette's add_exception_handler is typed for handlers of any
    # Exception, which a handler of one exception class is not.
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(ConfigError)(config_error)
    app.exception_handler(ValueError)(value_error)
