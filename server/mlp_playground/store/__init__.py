"""Saved runs and live-session snapshots behind one small interface (docs/design.md, "Saved runs and durable sessions").

``open_store(settings)`` picks the implementation from ``Settings.database_url``
(``MLPG_DATABASE_URL``): empty for an SQLite file in the user data directory,
``sqlite:///path`` for another file, ``postgresql+psycopg://...`` for a server, and
``memory://`` for a store that lives and dies with the process. Callers use only ``Store``'s
methods and its errors (both in ``store.base``, which gives the semantics).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlp_playground.store.base import StoreLimits
from mlp_playground.store.memory import MemoryStore

if TYPE_CHECKING:
    from mlp_playground.config import Settings
    from mlp_playground.store.base import Store

MEMORY_URL = "memory://"
DB_FILE = "mlp-playground.db"


def default_database_path() -> Path:
    """``platformdirs.user_data_dir("mlp-playground")/mlp-playground.db`` (e.g.
    ``~/.local/share/mlp-playground/mlp-playground.db`` on Linux). Not created here."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mlp-playground")) / DB_FILE


def store_limits(settings: Settings) -> StoreLimits:
    return StoreLimits(
        max_run_bytes=settings.max_run_bytes,
        max_runs_per_minute=settings.max_runs_per_minute,
        max_runs_total=settings.max_runs_total,
        max_snapshot_bytes=settings.max_snapshot_bytes,
        max_snapshot_bytes_per_client=settings.max_snapshot_bytes_per_client,
        max_snapshot_bytes_total=settings.max_snapshot_bytes_total,
    )


def open_store(settings: Settings) -> Store:
    """The store ``settings.database_url`` names, schema migrated. Blocking (it connects and
    may migrate): call it from a thread inside a running event loop."""
    url = settings.database_url.strip()
    limits = store_limits(settings)
    if url.startswith("memory:"):
        return MemoryStore(limits)
    from mlp_playground.store.sql import SqlStore

    return SqlStore(url or f"sqlite:///{default_database_path()}", limits)
