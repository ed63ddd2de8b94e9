"""REST for saved runs: POST /runs, GET and DELETE /runs/{id}, the page at /r/{id}, the
limits and their statuses (422 naming the field, 429, 507), and the store's lifespan."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from mlp_playground import STATIC_DIR
from mlp_playground.app import create_app
from mlp_playground.config import Settings
from mlp_playground.store.memory import MemoryStore
from mlp_playground.store.schemas import RUN_EXAMPLE
from mlp_playground.store.sql import SqlStore
from mlp_playground.training.config.train_config import TrainConfig

POINTS = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]


def app_client(**overrides) -> TestClient:
    return TestClient(create_app(Settings(database_url="memory://", **overrides)))


@pytest.fixture
def client():
    with app_client() as c:
        yield c


@pytest.fixture(scope="module")
def trained() -> dict:
    """A /train answer on the example's four points: a real model document and history."""
    with app_client() as c:
        body = {"data": {"points": POINTS, "labels": [0, 1, 1, 0]}, "epochs": 5}
        body["network"] = {"hidden_layers": [4]}
        r = c.post("/train", json=body)
        assert r.status_code == 200, r.text
        return r.json()


def full_run(trained: dict) -> dict:
    return {**RUN_EXAMPLE, "model": trained["model"], "history": trained["history"]}


def test_save_get_delete(client, trained):
    run = full_run(trained)
    r = client.post("/runs", json=run)
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"id", "url", "delete_token"} and out["url"] == f"/r/{out['id']}"
    assert r.headers["location"] == f"/runs/{out['id']}"
    got = client.get(f"/runs/{out['id']}")
    assert got.status_code == 200
    doc = got.json()
    assert set(doc) == {"id", "created", "title", "config", "data", "model", "history"}
    assert doc["id"] == out["id"] and doc["title"] == run["title"]
    assert datetime.fromisoformat(doc["created"].replace("Z", "+00:00")).tzinfo is not None
    assert doc["config"] == TrainConfig.from_dict(run["config"]).to_dict()  # canonical
    assert doc["data"] == {"points": POINTS, "labels": [0, 1, 1, 0], "classes": 2}
    assert doc["model"] == trained["model"] and doc["history"] == trained["history"]
    assert client.delete(f"/runs/{out['id']}").status_code == 403  # no token
    bad = client.delete(f"/runs/{out['id']}", headers={"X-Delete-Token": "nope"})
    assert bad.status_code == 403 and "X-Delete-Token" in bad.json()["detail"]
    ok = client.delete(f"/runs/{out['id']}", headers={"X-Delete-Token": out["delete_token"]})
    assert ok.status_code == 204 and ok.content == b""
    assert client.get(f"/runs/{out['id']}").status_code == 404
    gone = client.delete(f"/runs/{out['id']}", headers={"X-Delete-Token": out["delete_token"]})
    assert gone.status_code == 404


def test_the_saved_run_trains_again(client, trained):
    """What GET returns is a valid /train body (config + data + initial_model)."""
    doc = client.get(f"/runs/{client.post('/runs', json=full_run(trained)).json()['id']}").json()
    body = {**doc["config"], "dataset": None, "data": doc["data"], "initial_model": doc["model"]}
    body.pop("speed")
    r = client.post("/train", json={**body, "epochs": 1})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("run_id", ["unknownid123", "x" * 40, "has space", "a.b"])
def test_unknown_ids_are_404(client, run_id):
    assert client.get(f"/runs/{run_id}").status_code == 404
    r = client.delete(f"/runs/{run_id}", headers={"X-Delete-Token": "t"})
    assert r.status_code == 404
    page = client.get(f"/r/{run_id}")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "does not exist" in page.text


def test_the_page_opens_at_r_id(client):
    run_id = client.post("/runs", json=RUN_EXAMPLE).json()["id"]
    r = client.get(f"/r/{run_id}")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert r.content == (STATIC_DIR / "index.html").read_bytes()


def with_(path: str, value) -> dict:
    """RUN_EXAMPLE with one field replaced ("data.labels" -> body["data"]["labels"])."""
    body = json.loads(json.dumps(RUN_EXAMPLE))
    *parents, last = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    target[last] = value
    return body


BAD_BODIES = [
    (with_("config.network", {"hidden_layers": [4, "x"]}), "config.network.hidden_layers[1]"),
    (with_("config.loss", "nope"), "config.loss"),
    (with_("config.initial_model", None), "config.initial_model"),
    (with_("config.data", {"points": [], "labels": []}), "config.data"),
    (with_("data.labels", [0, 1]), "data.labels"),
    (with_("data.labels", [0, 1, 1, 9]), "data.labels"),
    (with_("data.labels", [0, 1, 1, 0.5]), "data.labels[3]"),
    (with_("data.labels", [0, 1, 1, -1]), "data.labels[3]"),
    (with_("data.points", [[0, 0], [1, 1], [2, 2], [3]]), "data.points[3]"),
    (with_("data.points", []), "data.points"),
    (with_("data.extra", 1), "data.extra"),
    (with_("title", "x" * 201), "title"),
    (with_("title", "two\nlines"), "title"),
    (with_("model", {"format": "mlp-playground.model/1"}), "model.features"),
    (with_("history", {"train_loss": [0.5, "x"]}), "history.train_loss[1]"),
    (with_("history", {"train_loss": [True]}), "history.train_loss[0]"),
    (with_("history", {"x" * 65: [1]}), "history"),
    (with_("extra", 1), "extra"),
    ({"config": {}}, "data"),
    ({"data": RUN_EXAMPLE["data"]}, "config"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_bodies_are_422_naming_the_field(client, body, field):
    r = client.post("/runs", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["field"] == field, detail
    assert set(detail[0]) == {"loc", "field", "msg", "type"}


def test_non_finite_numbers_are_422_not_500(client):
    body = json.dumps(RUN_EXAMPLE).replace("[1, 1]]", "[1, NaN]]")
    r = client.post("/runs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"].startswith("data.points")
    r = client.post("/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_a_model_that_does_not_fit_the_data_is_422(client, trained):
    run = with_("data.labels", [0, 1, 2, 0])  # three classes, the model has two outputs
    r = client.post("/runs", json={**run, "model": trained["model"]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model"
    assert "outputs" in r.json()["detail"][0]["msg"]


def test_points_cap_is_the_live_one():
    with app_client(max_live_points=3) as c:
        r = c.post("/runs", json=RUN_EXAMPLE)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "data.points"
        assert "limit of 3" in r.json()["detail"][0]["msg"]


def test_run_size_cap_is_422_naming_max_run_bytes():
    with app_client(max_run_bytes=500) as c:
        r = c.post("/runs", json=RUN_EXAMPLE)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
        assert "max_run_bytes" in r.json()["detail"][0]["msg"]


def test_body_cap_is_422_before_reading():
    with app_client(max_body_bytes=100) as c:
        r = c.post("/runs", json=RUN_EXAMPLE)
        assert r.status_code == 422 and "max_body_bytes" in r.json()["detail"][0]["msg"]


def test_rate_limit_is_429_with_retry_after():
    with app_client(max_runs_per_minute=2) as c:
        assert [c.post("/runs", json=RUN_EXAMPLE).status_code for _ in range(2)] == [201, 201]
        r = c.post("/runs", json=RUN_EXAMPLE)
        assert r.status_code == 429
        assert "max_runs_per_minute" in r.json()["detail"] and "2 a minute" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= 60


def test_full_store_is_507():
    with app_client(max_runs_total=1) as c:
        assert c.post("/runs", json=RUN_EXAMPLE).status_code == 201
        r = c.post("/runs", json=RUN_EXAMPLE)
        assert r.status_code == 507 and "the store is full" in r.json()["detail"]


def test_limits_are_published_and_the_url_is_not(client):
    limits = client.get("/api/options").json()["limits"]
    assert limits["max_run_bytes"] == 8 * 1024 * 1024
    assert limits["max_runs_per_minute"] == 30 and limits["max_runs_total"] == 10_000
    assert limits["max_run_title_chars"] == 200 and "database_url" not in limits


def test_openapi_documents_every_status(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"201", "422", "429", "507"} <= set(paths["/runs"]["post"]["responses"])
    assert {"200", "404"} <= set(paths["/runs/{run_id}"]["get"]["responses"])
    assert {"204", "403", "404"} <= set(paths["/runs/{run_id}"]["delete"]["responses"])


def test_the_lifespan_opens_and_closes_the_configured_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'app.db'}"
    app = create_app(Settings(database_url=url))
    with TestClient(app) as c:
        assert isinstance(app.state.store, SqlStore)
        run_id = c.post("/runs", json=RUN_EXAMPLE).json()["id"]
    with TestClient(create_app(Settings(database_url=url))) as c:  # a restart: still there
        assert c.get(f"/runs/{run_id}").status_code == 200
    with TestClient(create_app(Settings(database_url="memory://"))) as c:
        assert isinstance(c.app.state.store, MemoryStore)
