"""Every client message and every error of docs/protocol.md, through TestClient."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from mlp_playground.live import frames
from tests.support.live import open_session, recv, send, until, until_frame

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def barrier(ws) -> dict:
    """Commands are applied in order: a get_model answer means the earlier ones are done."""
    send(ws, "get_model")
    return until(ws, "model")


# --- hello, data, frames ---------------------------------------------------------------


def test_hello_then_data_then_frame_and_metrics(client):
    with client.websocket_connect("/ws") as ws:
        hello, data = open_session(ws)
        assert hello["role"] == "owner" and hello["running"] is False
        assert len(hello["session_id"]) >= 16 and len(hello["watch_token"]) >= 16
        assert hello["resumed"] is False
        config = hello["config"]
        assert set(config) >= {
            "dataset", "validation_split", "network", "loss", "regularization",
            "optimizer", "batch_size", "shuffle", "seed", "speed",
        }  # fmt: skip
        assert config["speed"] == "max"
        assert isinstance(config["network"]["activation"], list)
        assert hello["limits"]["max_fps"] == 60
        n = config["dataset"]["n_points"]
        assert len(data["points"]) == len(data["labels"]) == len(data["split"]) == n
        assert set(data["split"]) == {"train", "validation"}
        assert data["classes"] == 2 and len(data["domain"]) == 4
        frame = until_frame(ws)
        assert (frame.header.version, frame.header.channels) == (1, 2)
        assert frame.header.width == frame.header.height == 100
        assert frame.cells[..., 0].max() <= 1
        metrics = until(ws, "metrics")
        assert metrics["step"] == 0 and metrics["running"] is False
        assert 0 <= metrics["train_accuracy"] <= 1
        assert metrics["learning_rate"] == config["optimizer"]["learning_rate"]


def test_get_model_returns_the_model_document(client):
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        model = barrier(ws)["model"]
        assert model["format"] == "mlp-playground.model/1"
        hidden = hello["config"]["network"]["hidden_layers"]
        assert len(model["layers"]) == len(hidden) + 1


# --- configure -------------------------------------------------------------------------


def test_configure_learning_rate_answers_config_with_changed(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "configure", config={"optimizer": {"learning_rate": 0.1}})
        msg = until(ws, "config")
        assert msg["config"]["optimizer"]["learning_rate"] == 0.1
        assert "optimizer.learning_rate" in msg["changed"]
        send(ws, "step", steps=1)
        metrics = until(ws, "metrics", step=1)
        assert metrics["learning_rate"] == 0.1


def test_configure_invalid_value_changes_nothing(client):
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "configure", config={"optimizer": {"learning_rate": -1}})
        err = until(ws, "error")
        assert err["code"] == "invalid_value"
        assert err["field"] == "config.optimizer.learning_rate"
        assert err["request_type"] == "configure"
        send(ws, "configure", config={})
        assert until(ws, "config")["config"] == hello["config"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"network": {"hidden_layers": [4] * 11}}, "config.network.hidden_layers"),
        ({"network": {"hidden_layers": [300]}}, "config.network.hidden_layers[0]"),
        ({"dataset": {"n_points": 6000}}, "config.dataset.n_points"),
        ({"speed": "fast"}, "config.speed"),
        ({"speed": 0}, "config.speed"),
    ],
)
def test_configure_out_of_range_limits(client, config, field):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "configure", config=config)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", field)


def test_configure_without_object_is_invalid_message(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "configure", config=[1, 2])
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_message", "config")


def test_configure_speed_is_echoed(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "configure", config={"speed": 50})
        msg = until(ws, "config")
        assert msg["config"]["speed"] == 50 and msg["changed"] == ["speed"]


def test_adding_a_unit_keeps_weights_and_step(client):
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "step", steps=20)
        until(ws, "metrics", step=20)
        before = barrier(ws)["model"]
        hidden = hello["config"]["network"]["hidden_layers"]
        send(ws, "configure", config={"network": {"hidden_layers": [hidden[0] + 1, *hidden[1:]]}})
        msg = until(ws, "config")
        assert msg["config"]["network"]["hidden_layers"][0] == hidden[0] + 1
        after = barrier(ws)["model"]
        w0, w1 = before["layers"][0]["weights"], after["layers"][0]["weights"]
        assert [row[: hidden[0]] for row in w1] == w0  # old units kept their weights
        send(ws, "step", steps=1)
        # The metrics of the reshaped net at step 20 may still be on their way: skip them.
        later = until(ws, "metrics", step=21)
        assert later["step"] == 21


# --- play, pause, step, reset ----------------------------------------------------------


def test_play_then_pause_stops_the_step_counter(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "play")
        assert until(ws, "event", event="playing")["running"] is True
        for _ in range(3):
            running = until(ws, "metrics", running=True)
        assert running["step"] > 0
        send(ws, "pause")
        paused = until(ws, "event", event="paused")
        assert paused["running"] is False
        model = barrier(ws)
        assert model["type"] == "model"
        send(ws, "subscribe", fps=60)  # forces a fresh frame and metrics
        metrics = until(ws, "metrics")
        assert metrics["step"] == paused["step"] and metrics["running"] is False


def test_divergence_rolls_back_pauses_and_says_why(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "step", steps=5)
        until(ws, "metrics", step=5)
        send(
            ws,
            "configure",
            config={
                "loss": "hinge",
                "network": {"activation": "linear"},
                "optimizer": {"learning_rate": 100},
            },
        )
        until(ws, "config")
        send(ws, "play")
        event = until(ws, "event", event="diverged")
        step = event["step"]
        assert step >= 5 and event["running"] is False
        assert event["message"] == (
            f"training diverged at step {step} with learning rate 100; weights rolled back, paused"
        )
        metrics = until(ws, "metrics", running=False)
        assert metrics["step"] == step


def test_step_runs_exactly_n_steps(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "step", steps=7)
        assert until(ws, "metrics", step=7)["running"] is False
        send(ws, "step")
        until(ws, "metrics", step=8)


@pytest.mark.parametrize("steps", [0, 1001, 2.5, "3", True])
def test_step_out_of_range(client, steps):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "step", steps=steps)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", "steps")


def test_reset_is_reproducible_from_the_seed(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        initial = barrier(ws)["model"]
        send(ws, "step", steps=30)
        until(ws, "metrics", step=30)
        assert barrier(ws)["model"] != initial
        send(ws, "reset")
        assert until(ws, "event", event="reset")["step"] == 0
        assert barrier(ws)["model"] == initial


def test_reseed_changes_the_seed_and_resets(client):
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        initial = barrier(ws)["model"]
        send(ws, "reseed")
        msg = until(ws, "config")
        assert "seed" in msg["changed"]
        assert msg["config"]["seed"] != hello["config"]["seed"]
        until(ws, "event", event="reset")
        assert barrier(ws)["model"] != initial


def test_regenerate_sends_new_data(client):
    with client.websocket_connect("/ws") as ws:
        hello, data = open_session(ws)
        send(ws, "regenerate")
        msg = until(ws, "config")
        assert msg["config"]["dataset"]["seed"] != hello["config"]["dataset"]["seed"]
        new = until(ws, "data")
        assert len(new["points"]) == len(data["points"]) and new["points"] != data["points"]


# --- data edits ------------------------------------------------------------------------


def test_add_and_remove_point(client):
    with client.websocket_connect("/ws") as ws:
        _, data = open_session(ws)
        n = len(data["points"])
        send(ws, "add_point", point=[5.9, 5.9], label=1)
        added = until(ws, "data")
        assert len(added["points"]) == n + 1
        assert [5.9, 5.9] in added["points"]
        i = added["points"].index([5.9, 5.9])
        assert added["labels"][i] == 1
        send(ws, "remove_point", point=[5.85, 5.9], radius=0.2)
        removed = until(ws, "data")
        assert len(removed["points"]) == n and [5.9, 5.9] not in removed["points"]


def test_remove_point_nothing_near_is_not_found(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "remove_point", point=[500.0, 500.0], radius=0.1)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("not_found", "point")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"point": [0.0, 0.0], "label": 2}, "label"),  # 2 classes: labels 0 and 1
        ({"point": [0.0, 0.0], "label": 9}, "label"),
        ({"point": [0.0, 0.0], "label": -1}, "label"),
        ({"point": [0.0], "label": 0}, "point"),
        ({"point": [0.0, "a"], "label": 0}, "point"),
        ({"point": [1e9, 0.0], "label": 0}, "point"),
    ],
)
def test_add_point_invalid(client, fields, field):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "add_point", **fields)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", field)


def test_nan_coordinate_is_rejected(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        ws.send_text('{"type": "add_point", "point": [NaN, 0], "label": 0}')
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", "point")


def test_set_data_replaces_the_points(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        points = [[-1.0, -1.0], [1.0, 1.0], [-1.5, -1.0], [1.5, 1.0], [-1.0, -2.0], [2.0, 1.0]]
        labels = [0, 1, 0, 1, 0, 1]
        send(ws, "set_data", points=points, labels=labels)
        data = until(ws, "data")
        assert sorted(zip(map(tuple, data["points"]), data["labels"], strict=True)) == sorted(
            zip(map(tuple, points), labels, strict=True)
        )
        send(ws, "step", steps=5)
        until(ws, "metrics", step=5)


def test_set_data_invalid(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "set_data", points=[[0, 0], [1, 1]], labels=[0])
        assert until(ws, "error")["field"] == "labels"
        send(ws, "set_data", points=[], labels=[])
        assert until(ws, "error")["field"] == "points"


def test_clear_points_then_training_does_not_break(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "clear_points")
        data = until(ws, "data")
        assert data["points"] == [] and data["labels"] == []
        send(ws, "play")  # nothing to train on: the session idles without failing
        until(ws, "event", event="playing")
        send(ws, "pause")
        until(ws, "event", event="paused", step=0)
        send(ws, "add_point", point=[1.0, 1.0], label=0)
        send(ws, "add_point", point=[-1.0, -1.0], label=1)
        until(ws, "data")
        assert len(until(ws, "data")["points"]) == 2
        send(ws, "step", steps=3)
        until(ws, "metrics", step=3)


def test_set_weight_edits_one_weight(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "set_weight", parameter="dense0.W", index=[1, 0], value=0.75)
        model = barrier(ws)["model"]
        assert model["layers"][0]["weights"][1][0] == 0.75


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"parameter": "dense9.W", "index": [0, 0], "value": 1.0}, "parameter"),
        ({"parameter": "dense0.W", "index": [5, 0], "value": 1.0}, "index"),
        ({"parameter": "dense0.W", "index": [0], "value": 1.0}, "index"),
        ({"parameter": "dense0.W", "index": [0, 0], "value": "x"}, "value"),
    ],
)
def test_set_weight_invalid(client, fields, field):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "set_weight", **fields)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", field)


# --- subscribe -------------------------------------------------------------------------


def test_subscribe_grid_neurons_and_stats(client):
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        units = sum(hello["config"]["network"]["hidden_layers"])
        send(
            ws,
            "subscribe",
            grid_resolution=16,
            fps=60,
            neurons=True,
            neuron_resolution=8,
            stats=True,
        )
        send(ws, "step", steps=2)
        seen: dict = {}
        for _ in range(200):
            msg = recv(ws)
            if isinstance(msg, frames.DecodedFrame):
                if msg.header.step == 2:
                    seen[msg.header.kind] = msg
            elif msg["type"] == "stats":  # at most 4 a second: maybe not at step 2
                seen["stats"] = msg
            if len(seen) == 3:
                break
        decision, unit_grids, stats = seen[1], seen[2], seen["stats"]
        assert decision.cells.shape == (16, 16, 2)
        assert unit_grids.header.channels == units
        assert unit_grids.cells.shape == (units, 8, 8)
        assert unit_grids.ranges.shape == (units, 2)
        assert (unit_grids.ranges[:, 0] <= unit_grids.ranges[:, 1]).all()
        layers = stats["layers"]
        assert [layer["layer"] for layer in layers] == list(range(len(layers)))
        assert {"mean", "std", "saturated", "dead", "grad_norm", "histogram"} <= set(layers[0])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"grid_resolution": 15}, "grid_resolution"),
        ({"grid_resolution": 201}, "grid_resolution"),
        ({"fps": 0}, "fps"),
        ({"fps": 61}, "fps"),
        ({"neurons": "yes"}, "neurons"),
        ({"neuron_resolution": 65}, "neuron_resolution"),
        ({"stats": 1}, "stats"),
    ],
)
def test_subscribe_out_of_range(client, fields, field):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "subscribe", **fields)
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_value", field)


# --- malformed messages and close codes ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"no": "type"}', "invalid_message"),
        ('{"type": "fly"}', "unknown_type"),
    ],
)
def test_malformed_messages_get_errors_and_the_connection_stays(client, text, code):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        ws.send_text(text)
        assert until(ws, "error")["code"] == code
        send(ws, "step", steps=1)
        until(ws, "metrics", step=1)


def test_binary_from_client_closes_1003(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        ws.send_bytes(b"\x00\x01")
        with pytest.raises(WebSocketDisconnect) as exc:
            for _ in range(1000):
                recv(ws)
        assert exc.value.code == 1003


def test_oversized_message_closes_1009(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        ws.send_text(json.dumps({"type": "pause", "pad": "x" * 70_000}))
        with pytest.raises(WebSocketDisconnect) as exc:
            for _ in range(1000):
                recv(ws)
        assert exc.value.code == 1009


def test_rate_limit_answers_rate_limited_and_keeps_the_connection(make_client):
    client = make_client(max_messages_per_second=5)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        for _ in range(20):
            send(ws, "configure", config={})
        assert until(ws, "error")["code"] == "rate_limited"
        import time

        time.sleep(1.1)  # the bucket refills; not a timing assertion
        send(ws, "step", steps=1)
        until(ws, "metrics", step=1)


# --- sessions: cap, resume, grace, idle ------------------------------------------------


def test_too_many_sessions_error_then_1013(make_client):
    client = make_client(max_sessions=1)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        with client.websocket_connect("/ws") as second:
            err = recv(second)
            assert err["type"] == "error" and err["code"] == "too_many_sessions"
            with pytest.raises(WebSocketDisconnect) as exc:
                recv(second)
            assert exc.value.code == 1013


def test_resume_within_grace_keeps_the_session(make_client):
    client = make_client(session_grace_seconds=30)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        send(ws, "step", steps=4)
        until(ws, "metrics", step=4)
    with client.websocket_connect(
        f"/ws?session={hello['session_id']}&resume_key={hello['resume_key']}"
    ) as ws:
        again, _ = open_session(ws)
        assert again["session_id"] == hello["session_id"] and again["resumed"] is True
        assert until(ws, "metrics")["step"] == 4
    with client.websocket_connect("/ws?session=nope") as ws:
        fresh, _ = open_session(ws)
        assert fresh["session_id"] != hello["session_id"] and fresh["resumed"] is False


def test_session_dropped_after_grace_and_get_trainer(make_client):
    client = make_client(session_grace_seconds=0)
    registry = client.app.state.registry
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        barrier(ws)
        trainer = registry.get_trainer(hello["session_id"])
        assert trainer is not None and trainer.predict_proba([[0.0, 0.0]]).shape == (1, 2)
        assert len(registry) == 1
    import time

    for _ in range(100):
        if len(registry) == 0:
            break
        time.sleep(0.02)
    assert len(registry) == 0 and registry.get_trainer(hello["session_id"]) is None


def test_idle_session_is_dropped_and_closed(make_client):
    client = make_client(idle_timeout_seconds=0.5)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        with pytest.raises(WebSocketDisconnect) as exc:
            for _ in range(1000):
                recv(ws)
        assert exc.value.code == 1000


# --- watchers --------------------------------------------------------------------------


def test_watcher_follows_read_only(client):
    with client.websocket_connect("/ws") as ws:
        hello, data = open_session(ws)
        with client.websocket_connect(f"/ws/watch/{hello['watch_token']}") as watch:
            whello, wdata = open_session(watch)
            assert whello["role"] == "watcher" and "session_id" not in whello
            assert whello["config"] == hello["config"]
            assert wdata["points"] == data["points"]
            send(watch, "play")
            err = until(watch, "error")
            assert (err["code"], err["request_type"]) == ("read_only", "play")
            send(watch, "get_model")
            assert until(watch, "model")["model"]["format"] == "mlp-playground.model/1"
            send(ws, "configure", config={"optimizer": {"learning_rate": 0.2}})
            assert until(watch, "config")["config"]["optimizer"]["learning_rate"] == 0.2
            send(ws, "step", steps=3)
            assert until_frame(watch).header.step in (0, 3)
            until(watch, "metrics", step=3)


def test_unknown_watch_token_closes_1008(client):
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/ws/watch/nope") as w:
        recv(w)
    assert exc.value.code == 1008


def test_too_many_watchers(make_client):
    client = make_client(max_watchers=1)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        url = f"/ws/watch/{hello['watch_token']}"
        with client.websocket_connect(url) as first:
            open_session(first)
            with client.websocket_connect(url) as second:
                err = recv(second)
                assert err["code"] == "too_many_watchers"
                with pytest.raises(WebSocketDisconnect) as exc:
                    recv(second)
                assert exc.value.code == 1013


# --- lifecycle -------------------------------------------------------------------------


def test_clean_shutdown_stops_the_worker_and_logs_sessions(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="mlp_playground.live")
    client = TestClient(create_app(Settings()))
    with client:
        registry = client.app.state.registry
        with client.websocket_connect("/ws") as ws:
            hello, _ = open_session(ws)
            send(ws, "play")
            until(ws, "metrics", running=True)
        thread = registry.scheduler._thread
        assert thread.is_alive()
    assert not thread.is_alive()
    assert len(registry) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "mlp_playground.live"]
    sid = hello["session_id"]
    assert any(line.startswith(f"live session start id={sid}") for line in lines)
    assert any(f"live session end id={sid} reason=shutdown" in line for line in lines)
