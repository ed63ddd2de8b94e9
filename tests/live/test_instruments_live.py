"""Issue 6's instruments on the live websocket (docs/instruments.md, docs/protocol.md):
the reset event's initial-loss check, gradcheck, transform messages, uncertainty (kind 3)
and regression (kind 4) frames, stop conditions, schedules and set_weight while paused."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.data.grid import grid_points
from mlp_playground.training.predictor import Predictor
from tests.support.live import recv, send, until, until_frame

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def configure(ws, **config: Any) -> dict:
    send(ws, "configure", config=config)
    return until(ws, "config")


def model_now(ws) -> Predictor:
    send(ws, "get_model")
    return Predictor.from_document(until(ws, "model")["model"])


# --------------------------------------------------------------------------- reset event


def test_reset_event_follows_hello_and_every_reinitialisation(client):
    with client.websocket_connect("/ws") as ws:
        assert recv(ws)["type"] == "hello"
        event = until(ws, "event", event="reset")
        assert event["step"] == 0
        assert event["expected_initial_loss"] == pytest.approx(math.log(2))
        assert abs(event["initial_loss"] - math.log(2)) < 0.1 * math.log(2)
        assert event["initial_loss_ok"] is True and event["message"]
        # Three classes re-initialise the model: the expectation becomes ln 3.
        configure(ws, dataset={"name": "spiral", "classes": 3})
        event = until(ws, "event", event="reset")
        assert event["expected_initial_loss"] == pytest.approx(math.log(3))
        assert abs(event["initial_loss"] - math.log(3)) < 0.1 * math.log(3)
        send(ws, "step", steps=5)
        send(ws, "reset")
        event = until(ws, "event", event="reset")
        assert event["step"] == 0 and event["expected_initial_loss"] == pytest.approx(math.log(3))


# --------------------------------------------------------------------------- gradcheck


def test_gradcheck_reply_passes_and_is_sampled(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        configure(ws, network={"hidden_layers": [30, 5]}, regularization={"kind": "l2"})
        send(ws, "step", steps=3)
        until(ws, "metrics", step=3)
        send(ws, "gradcheck", points=16)
        reply = until(ws, "gradcheck")
        assert reply["passed"] is True and reply["threshold"] == 1e-5
        assert reply["worst_relative_error"] < 1e-5 and reply["step"] == 3
        counts: dict[str, int] = {}
        for row in reply["rows"]:
            assert set(row) == {"parameter", "index", "analytic", "numerical", "relative_error"}
            assert row["analytic"] == pytest.approx(row["numerical"], rel=1e-5, abs=1e-9)
            counts[row["parameter"]] = counts.get(row["parameter"], 0) + 1
        assert set(counts) == {f"dense{i}.{p}" for i in range(3) for p in "Wb"}
        assert counts["dense0.W"] == 10  # 10 of 60
        assert counts["dense2.b"] == 2  # all of a small tensor
        # The check leaves the weights alone: training goes on from the same step.
        send(ws, "step", steps=1)
        assert until(ws, "metrics", step=4)


@pytest.mark.parametrize("points", [0, 100_000, "x"])
def test_gradcheck_points_out_of_range_is_an_error(client, points):
    with client.websocket_connect("/ws") as ws:
        send(ws, "gradcheck", points=points)
        err = until(ws, "error")
        assert err["field"] == "points" and err["code"] == "invalid_value"
        send(ws, "gradcheck", points=8)
        assert until(ws, "gradcheck")["passed"] is True


# --------------------------------------------------------------------------- transform


def _hidden(predictor: Predictor, points: np.ndarray, layer: int) -> np.ndarray:
    predictor.model.forward(predictor.inputs(points))
    return predictor.model.hidden_outputs(predictor.inputs(points))[layer]


def test_transform_messages_map_mesh_and_points_through_a_hidden_layer(client):
    with client.websocket_connect("/ws") as ws:
        assert recv(ws)["type"] == "hello"
        data = until(ws, "data")
        send(ws, "subscribe", transform={"layer": 0, "units": [0, 3], "mesh": 5})
        msg = until(ws, "transform")
        assert set(msg) == {"type", "step", "layer", "units", "mesh", "points"}
        assert (msg["layer"], msg["units"], msg["step"]) == (0, [0, 3], 0)
        assert msg["mesh"]["size"] == 5 and len(msg["mesh"]["points"]) == 25
        assert len(msg["points"]) == len(data["points"])
        predictor = model_now(ws)
        x1_min, x1_max, x2_min, x2_max = data["domain"]
        u, v = np.meshgrid(np.linspace(x1_min, x1_max, 5), np.linspace(x2_max, x2_min, 5))
        mesh = np.column_stack([u.ravel(), v.ravel()])  # corners included, top row first
        assert mesh[0].tolist() == [x1_min, x2_max] and mesh[4].tolist() == [x1_max, x2_max]
        np.testing.assert_allclose(msg["mesh"]["points"], _hidden(predictor, mesh, 0)[:, [0, 3]])
        X = np.array(data["points"])
        np.testing.assert_allclose(msg["points"], _hidden(predictor, X, 0)[:, [0, 3]])
        # Another layer: other coordinates.
        send(ws, "subscribe", transform={"layer": 1, "units": [1, 0], "mesh": 5})
        msg1 = until(ws, "transform", layer=1)
        np.testing.assert_allclose(msg1["points"], _hidden(predictor, X, 1)[:, [1, 0]])
        assert not np.allclose(msg1["points"], msg["points"])


def test_transform_follows_quick_edits_while_paused(client):
    """Two weight edits inside one transform interval: the mesh still ends up showing both
    (a rate-limited transform skipped after a change is owed, not dropped)."""
    with client.websocket_connect("/ws") as ws:
        assert recv(ws)["type"] == "hello"
        data = until(ws, "data")
        send(ws, "subscribe", transform={"layer": 0, "units": [0, 1], "mesh": 5})
        until(ws, "transform")
        predictor = model_now(ws)
        send(ws, "set_weight", parameter="dense0.W", index=[0, 0], value=2.5)
        send(ws, "set_weight", parameter="dense0.W", index=[1, 1], value=-3.0)
        predictor.model.params["dense0.W"][0, 0] = 2.5
        predictor.model.params["dense0.W"][1, 1] = -3.0
        want = _hidden(predictor, np.array(data["points"]), 0)[:, [0, 1]]
        for _ in range(10):  # a paused session sends a handful of messages, then waits
            msg = until(ws, "transform")
            if np.allclose(msg["points"], want):
                break
        np.testing.assert_allclose(msg["points"], want)


@pytest.mark.parametrize(
    ("transform", "field"),
    [
        ({"layer": 2, "units": [0, 1]}, "transform.layer"),  # the default net has 2 layers
        ({"layer": 1, "units": [0, 2]}, "transform.units"),  # layer 1 has 2 units
        ({"layer": 0, "units": [0]}, "transform.units"),
        ({"layer": 0, "units": [0, 1], "mesh": 1}, "transform.mesh"),
        ({"units": [0, 1]}, "transform.layer"),
        ("layer 0", "transform"),
    ],
)
def test_bad_transform_subscription_is_an_error(client, transform, field):
    with client.websocket_connect("/ws") as ws:
        send(ws, "subscribe", transform=transform)
        err = until(ws, "error")
        assert err["field"] == field and err["code"] in ("invalid_value", "invalid_message")


# --------------------------------------------------------------------------- frames


def test_uncertainty_frames_are_kind_3_and_zero_without_dropout(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        send(ws, "subscribe", uncertainty=True, grid_resolution=20)
        frame = until_frame(ws, 3)
        h = frame.header
        assert (h.kind, h.channels, h.width, h.height) == (3, 1, 20, 20)
        assert frame.cells.shape == (20, 20) and frame.cells.max() == 0
        configure(ws, network={"dropout": 0.5})
        send(ws, "step", steps=1)
        frame = until_frame(ws, 3)
        assert frame.cells.max() > 0


def test_mc_dropout_prediction_with_no_dropout_equals_the_deterministic_frame(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        send(ws, "subscribe", grid_resolution=16)
        send(ws, "step", steps=20)
        det = until_frame(ws, 1, step=20).cells.copy()
        configure(ws, prediction={"mode": "mc_dropout", "passes": 5})
        mc = until_frame(ws, 1).cells
        np.testing.assert_array_equal(mc[..., 0], det[..., 0])
        assert np.abs(mc[..., 1].astype(int) - det[..., 1]).max() <= 1


def test_regression_sessions_send_kind_4_frames(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        config = configure(ws, dataset={"name": "plane"})["config"]
        assert config["loss"] == "mse"
        reset = until(ws, "event", event="reset")
        assert reset["expected_initial_loss"] is None and reset["initial_loss_ok"] is None
        send(ws, "subscribe", grid_resolution=16)
        send(ws, "step", steps=50)
        frame = until_frame(ws, 4, step=50)
        metrics = until(ws, "metrics", step=50)
        assert metrics["train_accuracy"] is None and metrics["train_loss"] < 1
        h = frame.header
        assert (h.kind, h.channels, h.width, h.height) == (4, 1, 16, 16)
        predictor = model_now(ws)
        y = predictor.scores(grid_points((-6.0, 6.0, -6.0, 6.0), 16))[:, 0]
        expected = np.rint(255 * (np.clip(y, -1, 1) + 1) / 2).reshape(16, 16)
        assert np.abs(frame.cells.astype(int) - expected).max() <= 1


def test_set_weight_while_paused_sends_a_new_frame(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        send(ws, "subscribe", grid_resolution=16)
        before = until_frame(ws, 1).cells.copy()
        send(ws, "set_weight", parameter="dense2.b", index=[1], value=50.0)
        assert not (before[..., 0] == 1).all()
        # A frame already in flight when the edit arrived may come first; the next ones
        # must show the edit (a bias of 50 on class 1 wins everywhere), still at step 0.
        for _ in range(5):
            after = until_frame(ws, 1)
            assert after.header.step == 0
            if (after.cells[..., 0] == 1).all():
                break
        assert (after.cells[..., 0] == 1).all()


# --------------------------------------------------------------------------- stop, schedule


def test_stop_condition_pauses_with_an_event(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        configure(ws, stop={"epochs": 3})
        send(ws, "play")
        event = until(ws, "event", event="stopped")
        assert event["condition"] == "epochs" and event["running"] is False
        assert event["epoch"] == 3 and event["message"]
        send(ws, "get_model")
        # The paused metrics come from the frame thread and the model from the command, so
        # either may arrive first: wait for both.
        seen: dict = {}
        for _ in range(2000):
            msg = recv(ws)
            if isinstance(msg, dict) and msg["type"] in ("model", "metrics"):
                seen[msg["type"]] = msg
            if "model" in seen and seen.get("metrics", {}).get("running") is False:
                break
        assert "model" in seen
        assert seen["metrics"]["epoch"] == 3 and seen["metrics"]["running"] is False


def test_schedule_rate_is_in_metrics(client):
    with client.websocket_connect("/ws") as ws:
        until(ws, "event", event="reset")
        configure(
            ws,
            optimizer={"name": "sgd", "learning_rate": 0.08},
            schedule={"kind": "step", "step_size": 10, "gamma": 0.5},
        )
        send(ws, "step", steps=25)
        metrics = until(ws, "metrics", step=25)
        assert metrics["learning_rate"] == pytest.approx(0.02)
        config = configure(ws, schedule={"kind": "cosine", "total_steps": 50})["config"]
        assert config["schedule"]["kind"] == "cosine" and "stop" in config
        send(ws, "step", steps=1)
        metrics = until(ws, "metrics", step=26)
        assert metrics["learning_rate"] == pytest.approx(0.04 * (1 + math.cos(math.pi * 26 / 50)))


def test_bad_schedule_is_an_error_naming_the_field(client):
    with client.websocket_connect("/ws") as ws:
        send(ws, "configure", config={"schedule": {"kind": "warmup"}})
        err = until(ws, "error")
        assert err["field"] == "config.schedule.kind" and "cosine" in err["message"]
