"""predictor.py: loading a model document, the initial-loss check, the network caps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp_playground.nn.model import MLP
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.predictor import (
    Predictor,
    check_model_shape,
    expected_initial_loss,
    initial_loss_report,
    mc_predict,
)
from tests.training.training_helpers import make


def test_expected_initial_loss_and_report():
    assert expected_initial_loss("cross_entropy", 4) == pytest.approx(math.log(4))
    assert expected_initial_loss("hinge", 3) == 2.0
    assert expected_initial_loss("mse", 1) is None
    ok = initial_loss_report("cross_entropy", 2, math.log(2) * 1.05)
    assert ok["initial_loss_ok"] is True
    bad = initial_loss_report("cross_entropy", 2, math.log(2) * 1.5)
    assert bad["initial_loss_ok"] is False
    assert initial_loss_report("cross_entropy", 2, math.nan)["initial_loss"] is None


def test_fresh_trainer_reports_its_initial_loss_against_ln_k():
    trainer = make()
    report = trainer.initial_loss_report()
    assert report["expected_initial_loss"] == pytest.approx(math.log(2))
    assert report["initial_loss"] == trainer.initial_loss == trainer.evaluate().data_loss
    within = abs(trainer.initial_loss - math.log(2)) <= 0.1 * math.log(2)
    assert report["initial_loss_ok"] is within
    trainer.run_steps(30)  # training does not move the initial loss
    assert trainer.initial_loss_report() == report


def test_check_model_shape_names_the_field():
    limits = {"max_hidden_layers": 1, "max_units": 4}
    with pytest.raises(ConfigError, match="2 hidden layers") as info:
        check_model_shape("model", MLP(2, [3, 3], 2, seed=0), limits)
    assert info.value.field == "model"
    with pytest.raises(ConfigError, match="5 units"):
        check_model_shape("model", MLP(2, [5], 2, seed=0), limits)
    check_model_shape("model", MLP(2, [4], 2, seed=0), limits)


def test_malformed_document_raises_config_error():
    doc = make().model_document()
    doc["features"] = ["x1"]  # two inputs, one name
    with pytest.raises(ConfigError) as info:
        Predictor.from_document(doc)
    assert info.value.field == "model"


def test_mc_predict_of_a_regression_model_averages_raw_outputs():
    model = MLP(2, [8], 1, dropout=0.5, seed=0)
    F = np.random.default_rng(0).normal(size=(5, 2))
    mean, std = mc_predict(model, F, 30, regression=True)
    assert mean.shape == (5, 1) and std.shape == (5, 1) and (std > 0).all()
