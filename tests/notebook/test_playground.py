"""The Python side of the notebook widget against a real server on a loopback port: what
Python does reaches the session (checked through a watcher, the server's own view), the
widget's state follows the session, and refusals are clear errors that leave it usable."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from mlp_playground.client import PlaygroundError
from mlp_playground.live import frames
from mlp_playground.notebook import Playground, SessionClosed, SessionError
from tests.notebook.nb_helpers import watcher_hello

SMALL = {
    "dataset": {"name": "gaussian", "classes": 3, "n_points": 150},
    "network": {"hidden_layers": [6], "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
}


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout} s")


@pytest.fixture
def widget(live_server):
    w = Playground(url=live_server.url, config=SMALL, grid_resolution=32, fps=20)
    yield w
    w.close()


def test_connects_and_applies_the_config(widget, live_server):
    hello = watcher_hello(live_server.ws_url, widget.watch_token)
    assert hello["config"]["dataset"]["classes"] == 3
    assert hello["config"]["network"]["hidden_layers"] == [6]
    assert widget.config == hello["config"]
    assert widget.status == "connected" and len(widget.session_id) == 22
    assert widget._data["classes"] == 3 and len(widget._data["points"]) == 150


def test_config_from_python_reaches_the_session(widget, live_server):
    widget.config = {"optimizer": {"learning_rate": 0.007}, "batch_size": 25}
    seen = watcher_hello(live_server.ws_url, widget.watch_token)["config"]
    assert seen["optimizer"]["learning_rate"] == 0.007 and seen["batch_size"] == 25
    assert widget.config["optimizer"]["learning_rate"] == 0.007
    assert widget._config["batch_size"] == 25  # the synced state the front end draws


def test_config_getter_is_a_copy(widget):
    cfg = widget.config
    cfg["optimizer"]["learning_rate"] = 123.0
    assert widget.config["optimizer"]["learning_rate"] == 0.03


def test_play_and_pause_change_running(widget, live_server):
    assert watcher_hello(live_server.ws_url, widget.watch_token)["running"] is False
    widget.play()
    assert widget.running
    assert watcher_hello(live_server.ws_url, widget.watch_token)["running"] is True
    wait_for(lambda: (widget._metrics.get("step") or 0) > 50, what="training steps")
    frame = wait_for(lambda: widget._frame, what="a frame")
    decoded = frames.decode_frame(frame)
    assert decoded.header.kind == 1 and decoded.header.width == 32
    wait_for(lambda: len(widget._curve.get("points", [])) >= 2, what="a loss curve")
    assert widget._curve["unit"] == "step"
    step = widget.pause()
    assert not widget.running and step > 50
    assert watcher_hello(live_server.ws_url, widget.watch_token)["running"] is False
    # The last frame's metrics are those of the step where it stopped, and no more come.
    wait_for(lambda: widget._metrics["step"] == step, what="the paused step's metrics")
    time.sleep(0.3)
    assert widget._metrics["step"] == step and widget._metrics["running"] is False


def test_front_end_buttons_drive_the_session(widget, live_server):
    widget._on_front_end(widget, {"type": "play"}, [])
    wait_for(lambda: watcher_hello(live_server.ws_url, widget.watch_token)["running"], what="play")
    wait_for(lambda: widget.running, what="running trait")
    widget._on_front_end(widget, {"type": "pause"}, [])
    wait_for(lambda: not widget.running, what="paused")
    widget._on_front_end(widget, {"type": "delete everything"}, [])  # ignored
    assert not watcher_hello(live_server.ws_url, widget.watch_token)["running"]


def test_model_is_a_valid_document(widget, live_server):
    widget.play()
    wait_for(lambda: (widget._metrics.get("step") or 0) > 20, what="training steps")
    widget.pause()
    doc = widget.model
    assert doc["classes"] == 3 and doc["features"] == ["x1", "x2"]
    points = np.random.default_rng(0).uniform(-5, 5, (40, 2)).tolist()
    answer = httpx.post(
        live_server.url + "/predict", json={"model": doc, "points": points}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    proba = np.asarray(answer.json()["probabilities"])
    assert proba.shape == (40, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # The trained model separates the blobs: its predictions are not one class.
    assert len(set(answer.json()["labels"])) >= 2


def test_bad_config_raises_and_leaves_the_widget_usable(widget, live_server):
    before = widget.config
    with pytest.raises(SessionError) as err:
        widget.config = {"optimizer": {"learning_rate": 0.1}, "bogus": 1}
    assert err.value.field == "config.bogus" and err.value.code == "invalid_value"
    assert "bogus" in str(err.value)
    with pytest.raises(SessionError) as err:
        widget.config = {"optimizer": {"learning_rate": -1}}
    assert err.value.field == "config.optimizer.learning_rate"
    with pytest.raises(TypeError):
        widget.config = [1, 2]  # type: ignore[assignment]
    # Nothing changed, on either side, and the widget still works.
    assert widget.config == before
    assert watcher_hello(live_server.ws_url, widget.watch_token)["config"] == before
    widget.config = {"optimizer": {"learning_rate": 0.02}}
    assert widget.config["optimizer"]["learning_rate"] == 0.02
    widget.play()
    assert widget.running
    widget.pause()


def test_bad_config_in_the_constructor_raises(live_server):
    with pytest.raises(SessionError) as err:
        Playground(url=live_server.url, config={"network": {"hidden_layers": "many"}})
    assert err.value.field is not None and err.value.field.startswith("config.network")


def test_close_is_clean_and_the_session_waits_its_grace_period(live_server):
    w = Playground(url=live_server.url, config=SMALL)
    w.play()
    session_id, token, key = w.session_id, w.watch_token, w.resume_key
    w.close()
    assert w.closed and w._conn.close_code == 1000
    assert not w._conn._thread.is_alive()
    assert w.status.startswith("disconnected")
    with pytest.raises(SessionClosed):
        w.play()
    w.close()  # twice is fine
    # close() paused the session; the server keeps it for its grace period: resumable.
    assert watcher_hello(live_server.ws_url, token)["running"] is False
    again = Playground(url=live_server.url, session=session_id, resume_key=key)
    try:
        assert again._conn.hello["resumed"] is True and again.session_id == session_id
        assert again.config["dataset"]["classes"] == 3
    finally:
        again.close()


def test_from_run_opens_a_saved_run(live_server):
    body = {**SMALL, "epochs": 8}
    trained = httpx.post(live_server.url + "/train", json=body, timeout=60).json()
    rng = np.random.default_rng(1)
    points = rng.uniform(-4, 4, (60, 2)).round(3).tolist()
    labels = [int(i % 3) for i in range(60)]
    saved = httpx.post(
        live_server.url + "/runs",
        json={
            "config": body,
            "data": {"points": points, "labels": labels},
            "model": trained["model"],
            "history": trained["history"],
            "title": "three blobs",
        },
        timeout=10,
    )
    assert saved.status_code == 201, saved.text
    run_id = saved.json()["id"]
    w = Playground.from_run(live_server.url, run_id)
    try:
        assert w.title == "three blobs" and not w.running
        assert len(w._data["points"]) == 60
        assert np.allclose(w._data["points"], points)
        assert w._curve["unit"] == "epoch"
        curve = [p[1] for p in w._curve["points"]]
        assert np.allclose(curve, trained["history"]["train_loss"])
        doc = w.model
        for got, want in zip(doc["layers"], trained["model"]["layers"], strict=True):
            assert np.allclose(got["weights"], want["weights"])
            assert np.allclose(got["bias"], want["bias"])
        w.play()  # a saved run trains on from where it was saved
        wait_for(lambda: w._curve["unit"] == "step", what="the live curve")
    finally:
        w.close()


def test_from_run_unknown_id_is_a_clear_error(live_server):
    with pytest.raises(PlaygroundError) as err:
        Playground.from_run(live_server.url, "nosuchrun000")
    assert err.value.status == 404


def test_bad_url_is_a_clear_error():
    with pytest.raises(ValueError, match="url must be"):
        Playground(url="ftp://127.0.0.1:1")
