"""The load test (bench/load.py) in a short form: a few sessions training and streaming,
watchers, REST /train and /predict traffic at the same time; no errors, every client served.
Speed figures come from ``python bench/load.py`` (docs/reliability.md), not from here."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.load import report, run_load

pytestmark = pytest.mark.timeout(120)


def test_short_load_run_has_no_errors(server_factory, capsys):
    # The settings bench/load.py gives its own server: a closed session is freed at once.
    server = server_factory({"MLPG_SESSION_GRACE_SECONDS": "0", "MLPG_MAX_SESSIONS": "64"})
    stats = asyncio.run(run_load(server.url, 4, 4, 4.0))
    with capsys.disabled():
        print()
        report(4, 4, 4.0, stats, None)
    assert stats.errors == []
    assert len(stats.frames) == 4 and all(f > 0 for f in stats.frames)
    assert len(stats.watcher_frames) == 4 and all(f > 0 for f in stats.watcher_frames)
    assert stats.pause_ms and stats.predict_ms and stats.train_ms
