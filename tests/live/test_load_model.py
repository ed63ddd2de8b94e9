"""Loading a model document into a live session: the websocket's ``load_model`` and REST
``POST /sessions/{id}/model`` (docs/protocol.md). A refused document leaves the session as
it was; an accepted one reshapes the network, keeps the document's normalisation and
weights, and every connection hears about it."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from tests.support.live import open_session, recv, send, until

pytestmark = pytest.mark.timeout(60)

TRAIN = {
    "dataset": {"name": "circle", "n_points": 120, "seed": 3},
    "network": {
        "hidden_layers": [5],
        "activation": "relu",
        "features": ["x1", "x2", "x1_squared"],
        "normalize": True,
    },
    "steps": 200,
}


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def trained_document(client: TestClient, **changes: Any) -> dict:
    r = client.post("/train", json={**TRAIN, **changes})
    assert r.status_code == 200, r.text
    return r.json()["model"]


def get_model(ws) -> dict:
    send(ws, "get_model")
    return until(ws, "model")["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert len(a["layers"]) == len(b["layers"])
    for la, lb in zip(a["layers"], b["layers"], strict=True):
        np.testing.assert_allclose(la["weights"], lb["weights"])
        np.testing.assert_allclose(la["bias"], lb["bias"])


def test_load_model_message_reshapes_and_loads_the_weights(client):
    doc = trained_document(client)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "load_model", model=doc)
        config = until(ws, "config")
        assert "network" in config["changed"]
        net = config["config"]["network"]
        assert net["hidden_layers"] == [5] and net["activation"] == ["relu"]
        assert net["features"] == ["x1", "x2", "x1_squared"] and net["normalize"] is True
        reset = until(ws, "event", event="reset")
        assert reset["step"] == 0
        now = get_model(ws)
        assert_same_weights(now, doc)
        # The document's normalisation, not one refitted to the session's data.
        assert now["normalization"] == doc["normalization"]


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda d: {**d, "layers": []}, "layers"),
        (lambda d: {**d, "features": ["x1", "x2", "cos_x1"]}, "cos_x1"),
        (
            lambda d: {**d, "classes": 3, "layers": [d["layers"][0], _outputs(d["layers"][1], 3)]},
            "3 outputs",
        ),
    ],
    ids=["no-layers", "unknown-feature", "three-classes"],
)
def test_a_refused_document_leaves_the_session_as_it_was(client, mangle, words):
    doc = mangle(trained_document(client))
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        before = get_model(ws)
        send(ws, "load_model", model=doc)
        err = until(ws, "error")
        assert err["field"] == "model" and words in err["message"], err
        assert_same_weights(get_model(ws), before)
        send(ws, "step", steps=3)  # and it still trains
        assert until(ws, "metrics", step=3)["step"] == 3


def _outputs(layer: dict, k: int) -> dict:
    """The output layer widened to k classes."""
    w = np.asarray(layer["weights"])
    return {**layer, "weights": np.tile(w[:, :1], (1, k)).tolist(), "bias": [0.0] * k}


def widened(doc: dict, units: int) -> dict:
    """The one-hidden-layer document with that layer widened to ``units`` units."""
    hidden, out = doc["layers"]
    n_in, n_out = len(hidden["weights"]), len(out["bias"])
    big = {"activation": hidden["activation"], "weights": [[0.01] * units] * n_in}
    big["bias"] = [0.0] * units
    return {**doc, "layers": [big, {**out, "weights": [[0.01] * n_out] * units}]}


def test_a_document_over_the_unit_limit_is_refused(client):
    wide = widened(trained_document(client), 300)
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "load_model", model=wide)
        err = until(ws, "error")
        assert err["field"] == "model" and "300 units" in err["message"]


def test_load_model_needs_a_model_object(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "load_model", model=[1, 2])
        err = until(ws, "error")
        assert (err["code"], err["field"]) == ("invalid_message", "model")


def test_rest_load_reaches_owner_and_watchers(client):
    doc = trained_document(client)
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        sid = hello["session_id"]
        with client.websocket_connect(f"/ws/watch/{hello['watch_token']}") as watcher:
            assert recv(watcher)["type"] == "hello"
            until(watcher, "data")
            key = {"X-Resume-Key": hello["resume_key"]}
            assert client.post(f"/sessions/{sid}/model", json=doc).status_code == 403
            wrong = {"X-Resume-Key": hello["resume_key"][:-1] + "x"}
            assert client.post(f"/sessions/{sid}/model", json=doc, headers=wrong).status_code == 403
            r = client.post(f"/sessions/{sid}/model", json=doc, headers=key)
            assert r.status_code == 200, r.text
            assert r.json()["config"]["network"]["hidden_layers"] == [5]
            assert until(watcher, "config")["config"]["network"]["hidden_layers"] == [5]
            until(watcher, "event", event="reset")
        until(ws, "event", event="reset")
        assert_same_weights(get_model(ws), doc)


def test_rest_load_errors(client):
    doc = trained_document(client)
    r = client.post("/sessions/no-such-session/model", json=doc)
    assert r.status_code == 404
    with client.websocket_connect("/ws") as ws:
        hello, _ = open_session(ws)
        sid = hello["session_id"]
        before = get_model(ws)
        key = {"X-Resume-Key": hello["resume_key"]}
        r = client.post(f"/sessions/{sid}/model", json={**doc, "layers": "nope"}, headers=key)
        assert r.status_code == 422
        assert r.json()["detail"][0]["field"] == "model"
        # Nothing reached the connections, and the session is untouched.
        assert_same_weights(get_model(ws), before)
        # The watch token is not the session id.
        r = client.post(f"/sessions/{hello['watch_token']}/model", json=doc, headers=key)
        assert r.status_code == 404


def test_rest_train_refuses_an_initial_model_over_the_limits(client):
    wide = widened(trained_document(client), 300)
    r = client.post("/train", json={**TRAIN, "steps": 1, "initial_model": wide})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "initial_model"
    assert "300 units" in r.json()["detail"][0]["msg"]


def test_rest_load_on_a_session_that_ends_meanwhile_is_404_at_once(monkeypatch):
    """The owner leaves between the lookup and the worker's turn: the request is told at
    once (not after a 30 s timeout), and the load is cancelled, never applied later."""
    app = create_app(Settings(session_grace_seconds=0))
    with TestClient(app) as client:
        doc = trained_document(client)
        registry = app.state.registry
        with client.websocket_connect("/ws") as ws:
            hello, _ = open_session(ws)
            sid = hello["session_id"]
            live = registry.get(sid)
        deadline = time.monotonic() + 10
        while registry.get(sid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live is not None and live.closed
        monkeypatch.setattr(registry, "get", lambda _id: live)  # looked up just before
        requests = []  # the load's future (the worker skips a cancelled one)
        request = live.request_load_model
        monkeypatch.setattr(
            live, "request_load_model", lambda m: requests.append(request(m)) or requests[-1]
        )
        t0 = time.monotonic()
        key = {"X-Resume-Key": hello["resume_key"]}
        r = client.post(f"/sessions/{sid}/model", json=doc, headers=key)
        assert r.status_code == 404 and "ended" in r.json()["detail"]
        assert time.monotonic() - t0 < 5
        assert len(requests) == 1 and requests[0].cancelled()


def test_rest_bodies_over_the_cap_are_refused_before_parsing():
    app = create_app(Settings(max_body_bytes=2000))
    with TestClient(app) as client:
        points = [[0.5, 0.5]] * 200  # about 2.4 KB of JSON
        r = client.post("/predict", json={"model": {"layers": []}, "points": points})
        assert r.status_code == 422
        detail = r.json()["detail"][0]
        assert detail["field"] == "body" and "2000" in detail["msg"]
        r = client.post("/sessions/anything/model", json={"layers": [[0.0] * 600]})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
        assert client.get("/healthz").status_code == 200
