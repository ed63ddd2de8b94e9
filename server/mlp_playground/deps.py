"""FastAPI dependencies as ``Annotated`` aliases, so routes declare what they need by type."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, Request

from mlp_playground.config import Settings
from mlp_playground.store import open_store
from mlp_playground.store.base import Store

_store_lock = threading.Lock()


def get_settings(request: Request) -> Settings:
    """The settings the app was built with (tests build apps with their own)."""
    return request.app.state.settings


def get_registry(request: Request) -> Any:
    """The live-session registry, or None before the lifespan has started."""
    return getattr(request.app.state, "registry", None)


def get_store(request: Request) -> Store:
    """The app's store, opened by the lifespan.

    An app served without its lifespan (an ASGI test harness that skips it) opens one here
    on first use. A plain ``def``, so FastAPI calls it in the threadpool: opening blocks.
    """
    state = request.app.state
    store = getattr(state, "store", None)
    if store is None:
        with _store_lock:
            store = getattr(state, "store", None)
            if store is None:
                store = state.store = open_store(state.settings)
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Any, Depends(get_registry)]
StoreDep = Annotated[Store, Depends(get_store)]
