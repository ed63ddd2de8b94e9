"""The app factory: thin assembly of routers, the session registry and the static page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from server import STATIC_DIR, __version__
from server.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Tests build one per test with their own settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from server.live.registry import SessionRegistry

        registry = SessionRegistry(settings)
        app.state.registry = registry
        await registry.start()
        try:
            yield
        finally:
            await registry.close()

    app = FastAPI(title="MLP Playground", version=__version__, lifespan=lifespan)
    app.state.settings = settings

    from server.routes import live, training

    app.include_router(training.router)
    app.include_router(live.router)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
