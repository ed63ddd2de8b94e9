"""The trainer as a whole: reset, warm start, the parts it composes, and state_dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.data import TrainerData
from mlp_playground.training.instruments import TrainerInstruments
from mlp_playground.training.loop import TrainerLoop
from mlp_playground.training.reconfigure import TrainerReconfiguration
from mlp_playground.training.trainer import Trainer
from tests.training.training_helpers import flat, make, merge

STOCHASTIC = {
    "network": {"hidden_layers": [6, 5], "dropout": 0.3},
    "optimizer": {"name": "adam", "learning_rate": 0.02},
    "batch_size": 5,
}


def test_trainer_composes_its_parts():
    trainer = make()
    assert isinstance(trainer.feed, TrainerData)
    assert isinstance(trainer.loop, TrainerLoop)
    assert isinstance(trainer.reconfiguration, TrainerReconfiguration)
    assert isinstance(trainer.instruments, TrainerInstruments)
    assert trainer.loop.feed is trainer.feed is trainer.instruments.feed
    assert trainer.reconfiguration.feed is trainer.feed
    assert Trainer.__mro__ == (Trainer, object)  # composition, not inheritance
    assert trainer.data is trainer.feed.data and trainer.step == trainer.loop.step


def test_reset_reproduces_a_fresh_trainer():
    trainer = make()
    trainer.run_steps(30)
    trainer.reset()
    fresh = make()
    assert np.array_equal(flat(trainer), flat(fresh)) and trainer.step == 0
    trainer.run_steps(30)
    fresh.run_steps(30)
    assert np.array_equal(flat(trainer), flat(fresh))


def test_warm_start_keeps_model_and_normalization():
    trainer = make()
    trainer.run_steps(20)
    doc = trainer.model_document()
    warm = Trainer(TrainConfig.from_dict(merge({"dataset": {"seed": 9}})), doc)
    assert warm.model_document() == doc
    with pytest.raises(ConfigError) as info:
        Trainer(TrainConfig.from_dict(merge({"dataset": {"classes": 3}})), doc)
    assert info.value.field == "initial_model"


# --------------------------------------------------------------------------- state_dict


def _losses(trainer: Trainer, chunks: int, k: int) -> list[float]:
    out = []
    for _ in range(chunks):
        trainer.run_steps(k)
        out.append(trainer.evaluate().total_loss)
    return out


def _assert_same(a: Any, b: Any, path: str = "state") -> None:
    """Two state dicts hold the same values (arrays exactly)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, path


@pytest.mark.parametrize("steps_before", [13, 16, 18, 0])
def test_saved_mid_epoch_a_fresh_trainer_continues_on_the_same_trajectory(steps_before):
    """Shuffled epochs, dropout masks and Adam's moments: a trainer loaded from a state taken
    mid-epoch makes exactly the updates the uninterrupted one makes."""
    a = make(STOCHASTIC)
    a.run_steps(steps_before)
    # 42 training points in batches of 5: 9 steps an epoch; 13 and 16 stop mid-epoch
    assert (a.feed.pos > 0) == (steps_before % a.steps_per_epoch != 0)
    state = a.state_dict()
    b = make(STOCHASTIC)
    b.run_steps(7)  # somewhere else entirely: the load replaces all of it
    b.load_state_dict(state)
    _assert_same(b.state_dict(), a.state_dict())
    assert _losses(b, 6, 9) == _losses(a, 6, 9)
    np.testing.assert_array_equal(flat(b), flat(a))
    assert (b.step, b.epoch, b.feed.pos) == (a.step, a.epoch, a.feed.pos)
    # and the uninterrupted run is the same trajectory as well
    c = make(STOCHASTIC)
    c.run_steps(steps_before + 54)
    np.testing.assert_array_equal(flat(c), flat(a))


def test_state_dict_carries_edits_reshapes_and_history():
    """Points added mid-epoch (a walked epoch shorter than the training set), a reshaped
    network (Adam at different step counts per parameter), and the history."""
    a = make(STOCHASTIC)
    a.run_steps(9)
    a.add_point([0.3, -0.2], 1)
    a.reconfigure(a.config.merged({"network": {"hidden_layers": [6, 5, 2]}}))
    a.run_steps(4)
    assert len(set(a.optimizer.state_dict()["steps"].values())) > 1
    state = a.state_dict()
    b = Trainer(a.config)  # the config as it is now
    b.load_state_dict(state)
    assert b.history == a.history and b.resets == a.resets
    assert b.model.hidden_layers == [6, 5, 2] and len(b.data.y) == len(a.data.y)
    assert _losses(b, 4, 11) == _losses(a, 4, 11)
    np.testing.assert_array_equal(flat(b), flat(a))


def test_state_dict_is_a_copy():
    a = make(STOCHASTIC)
    a.run_steps(8)
    state = a.state_dict()
    frozen = a.state_dict()
    a.run_steps(8)
    a.add_point([0.0, 0.0], 0)
    _assert_same(state, frozen)


def _breakers() -> list[tuple[str, Any, str]]:
    def drop(*path: str):
        def edit(s: dict) -> None:
            for p in path[:-1]:
                s = s[p]
            del s[path[-1]]

        return edit

    def shape(s: dict) -> None:
        s["model"]["params"]["dense0.W"] = np.zeros((3, 3))

    def rng(s: dict) -> None:
        s["rng"] = {"bit_generator": "MT19937", "state": {}}

    def arch(s: dict) -> None:
        s["data"]["classes"] = 3

    def opt(s: dict) -> None:
        s["optimizer"]["state"]["dense0.W"]["m"] = np.zeros((7,))

    def loop(s: dict) -> None:
        s["loop"]["step"] = -4

    return [
        ("missing rng", drop("rng"), "no 'rng'"),
        ("missing data key", drop("data", "epoch_X"), "epoch_X"),
        ("missing parameter", drop("model", "params", "dense1.b"), "dense1.b"),
        ("wrong shape", shape, "dense0.W"),
        ("another bit generator", rng, "rng"),
        ("model does not fit the data", arch, "outputs"),
        ("optimizer slots differ", opt, "shapes"),
        ("bad step", loop, "step"),
    ]


@pytest.mark.parametrize(("what", "edit", "match"), _breakers(), ids=[b[0] for b in _breakers()])
def test_load_state_dict_rejects_bad_state_and_leaves_the_trainer_unchanged(what, edit, match):
    source = make(STOCHASTIC)
    source.run_steps(12)
    state = source.state_dict()
    edit(state)
    target = make(STOCHASTIC)
    target.run_steps(5)
    before = target.state_dict()
    model, optimizer, rng = target.model, target.optimizer, target.rng
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(state)
    _assert_same(target.state_dict(), before)
    assert target.model is model and target.optimizer is optimizer and target.rng is rng
    # still on its own trajectory
    twin = make(STOCHASTIC)
    twin.run_steps(5)
    target.run_steps(10)
    twin.run_steps(10)
    np.testing.assert_array_equal(flat(target), flat(twin))
