"""Defects the long fuzzers found, pinned at the level where they lived."""

from __future__ import annotations

import copy

import numpy as np

from mlp_playground.live.state import LIVE_DEFAULTS
from mlp_playground.nn.model import MLP
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer


def test_points_added_mid_epoch_join_the_next_epoch_without_an_empty_batch():
    trainer = Trainer(TrainConfig.from_dict(copy.deepcopy(LIVE_DEFAULTS)), record_history=False)
    trainer.run_steps(3)  # mid-epoch
    for i in range(30):
        trainer.add_point([0.1 * i, 0.2], i % 2)
    n_before = len(trainer.feed.y_epoch)
    result = trainer.run_steps(500)
    assert result.steps_done == 500 and not result.diverged
    assert len(trainer.feed.y_epoch) == n_before + 30  # a later epoch holds the new points


def test_layer_stats_of_a_runaway_net_have_empty_histograms_not_an_exception():
    model = MLP(2, [4, 3], 2, activation="relu", seed=0)
    model.params["dense0.W"][...] = 1e300
    model.params["dense1.W"][...] = 1e300
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    with np.errstate(all="ignore"):
        stats = model.layer_stats(X, np.array([0, 1, 0]))
    assert len(stats) == 2
    hist = stats[1]["histogram"]
    assert len(hist["counts"]) == 20 and len(hist["edges"]) == 21
    assert sum(hist["counts"]) == 0


def test_a_failing_training_slice_pauses_the_session_and_says_so():
    import json

    from mlp_playground.config import Settings
    from mlp_playground.live.scheduler import Scheduler
    from mlp_playground.live.session import LiveSession

    sent: list = []
    session = LiveSession("id", "token", Settings(), lambda s, out: sent.extend(out), lambda: None)

    def broken(k):
        raise RuntimeError("a bug")

    session.trainer.run_steps = broken
    session.running = True
    scheduler = Scheduler()
    scheduler.add(session)
    scheduler._turn()
    assert session.running is False
    events = [json.loads(p) for _, p, _ in sent if isinstance(p, str) and '"event"' in p]
    assert any(e["event"] == "paused" and e["running"] is False for e in events), events
