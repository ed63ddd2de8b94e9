"""FastAPI dependencies as ``Annotated`` aliases, so routes declare what they need by type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from mlp_playground.config import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with (tests build apps with their own)."""
    return request.app.state.settings


def get_registry(request: Request) -> Any:
    """The live-session registry, or None before the lifespan has started."""
    return getattr(request.app.state, "registry", None)


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Any, Depends(get_registry)]
