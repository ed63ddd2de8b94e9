"""The instruments part: grid, predictions, statistics, gradient check, model document."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_playground.data.grid import grid_points
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.instruments import GRADCHECK_WORK_BUDGET, TrainerInstruments
from mlp_playground.training.predictor import Predictor
from tests.training.training_helpers import make


def test_grid_is_row_major_top_row_first():
    trainer = make()
    g = trainer.grid(16)
    assert g.probabilities.shape == (256, 2)
    points = grid_points(g.domain, 16)
    assert points[0, 1] > points[-1, 1] and points[0, 0] < points[15, 0]
    np.testing.assert_allclose(g.probabilities, trainer.predict_proba(points), atol=1e-12)
    assert [h.shape for h in g.hidden] == [(256, 4), (256, 3)]


def test_predictor_is_a_frozen_copy():
    trainer = make()
    frozen = trainer.predictor()
    assert isinstance(frozen, Predictor)
    points = trainer.data.X[:7]
    before = frozen.predict_proba(points)
    np.testing.assert_array_equal(before, trainer.predict_proba(points))
    trainer.run_steps(20)
    np.testing.assert_array_equal(frozen.predict_proba(points), before)
    assert not np.array_equal(trainer.predict_proba(points), before)


def test_layer_stats_and_gradient_check_leave_the_weights_alone():
    trainer = make()
    w = trainer.model.params.flat.copy()
    stats = trainer.layer_stats(16)
    assert len(stats) == 2
    report = trainer.gradient_check(8, 4)
    assert report["passed"] and report["rows"]
    np.testing.assert_array_equal(trainer.model.params.flat, w)
    empty = make()
    empty.set_data(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
    assert empty.layer_stats() == []
    with pytest.raises(ConfigError) as info:
        empty.gradient_check(8, 4)
    assert info.value.field == "data"


def test_gradient_check_samples_fewer_entries_of_a_big_net():
    small, big = make(), make({"network": {"hidden_layers": [256] * 6}})
    assert TrainerInstruments.gradcheck_samples(small.model, 32, 12) == 12
    k = TrainerInstruments.gradcheck_samples(big.model, 512, 12)
    assert 2 <= k < 12 and GRADCHECK_WORK_BUDGET > 0


def test_model_document_round_trips_through_predictor():
    trainer = make()
    trainer.run_steps(10)
    loaded = Predictor.from_document(trainer.model_document())
    points = trainer.data.X[:9]
    np.testing.assert_allclose(
        loaded.predict_proba(points), trainer.predict_proba(points), atol=1e-15
    )
    assert (
        trainer.parameter_count()
        == trainer.model.params.flat.size
        == 2 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2
    )
