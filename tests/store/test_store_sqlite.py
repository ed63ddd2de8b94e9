"""SQLite specifics: the default file in the user data directory, the per-connection
pragmas (WAL, synchronous=NORMAL, foreign keys, busy timeout), and ``open_store``'s URLs."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from mlp_playground.config import Settings
from mlp_playground.store import default_database_path, open_store
from mlp_playground.store.base import StoreError
from mlp_playground.store.memory import MemoryStore
from mlp_playground.store.sql import SQLITE_BUSY_TIMEOUT_MS, SqlStore


def test_every_connection_gets_the_pragmas(tmp_path):
    with SqlStore(f"sqlite:///{tmp_path / 'p.db'}") as store:
        for _ in range(2):  # a pooled connection and a new one
            with store.engine.connect() as conn:
                pragma = {
                    name: conn.execute(text(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
                }
            assert pragma == {
                "journal_mode": "wal",
                "synchronous": 1,  # NORMAL
                "foreign_keys": 1,
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
            }
    assert (tmp_path / "p.db").exists()


def test_the_default_is_a_file_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # platformdirs on Linux
    path = default_database_path()
    assert path == tmp_path / "xdg" / "mlp-playground" / "mlp-playground.db"
    store = open_store(Settings(database_url=""))
    try:
        assert isinstance(store, SqlStore) and path.exists()  # directory created
    finally:
        store.close()


def test_open_store_urls(tmp_path):
    assert isinstance(open_store(Settings(database_url="memory://")), MemoryStore)
    store = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'deep' / 'x.db'}"))
    store.close()
    assert (tmp_path / "deep" / "x.db").exists()
    with pytest.raises(StoreError, match="memory://"):
        open_store(Settings(database_url="sqlite:///:memory:"))


def test_settings_read_mlpg_database_url(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPG_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert Settings().database_url.endswith("env.db")


def test_the_tests_never_use_the_real_data_dir():
    """tests/conftest.py points every test app at memory:// (unless the environment already
    names a database), so no test opens the default file in the user's data directory."""
    assert os.environ.get("MLPG_DATABASE_URL") and Settings().database_url
