"""The load test (bench/load.py) in a short form: a few sessions training and streaming,
watchers, REST /train and /predict traffic at the same time; no errors, every client served.
Speed figures come from ``python bench/load.py`` (docs/reliability.md), not from here."""

from __future__ import annotations

import pytest
from rel_helpers import load_bench

pytestmark = pytest.mark.timeout(120)
load = load_bench("load")


def test_short_load_run_has_no_errors(capsys):
    with capsys.disabled():
        print()
        stats = load.trial(4, 4, 4.0)
    assert stats.errors == []
    assert len(stats.frames) == 4 and all(f > 0 for f in stats.frames)
    assert len(stats.watcher_frames) == 4 and all(f > 0 for f in stats.watcher_frames)
    assert stats.pause_ms and stats.predict_ms and stats.train_ms
