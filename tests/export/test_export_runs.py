"""GET /runs/{id}/export: a saved run's model script, or its training script."""

from __future__ import annotations

import numpy as np

from tests.export.helpers import run_scripts

DATA = {
    "points": np.random.default_rng(3).uniform(-3, 3, (60, 2)).round(3).tolist(),
    "labels": [0, 1] * 30,
}
CONFIG = {"network": {"hidden_layers": [5], "activation": "tanh"}, "epochs": 3}


def test_saved_run_exports(client, tmp_path) -> None:
    model = client.post("/train", json={**CONFIG, "data": DATA}).json()["model"]
    with_model = client.post("/runs", json={"config": CONFIG, "data": DATA, "model": model})
    without = client.post("/runs", json={"config": CONFIG, "data": DATA})
    run_a, run_b = with_model.json()["id"], without.json()["id"]
    r = client.get(f"/runs/{run_a}/export?format=pytorch")
    assert r.status_code == 200 and r.headers["content-type"] == "text/x-python; charset=utf-8"
    train = client.get(f"/runs/{run_b}/export?format=numpy")
    assert train.status_code == 200 and "def train():" in train.text
    points = DATA["points"][:10]
    got_model, got_history = run_scripts(tmp_path, [(r.text, points), (train.text, None)])
    want = client.post("/predict", json={"run": run_a, "points": points}).json()
    np.testing.assert_allclose(got_model["proba"], want["probabilities"], atol=1e-6)
    history = client.post("/train", json={**CONFIG, "data": DATA}).json()["history"]
    np.testing.assert_allclose(got_history["train_loss"], history["train_loss"], rtol=1e-6)

    assert client.get("/runs/nosuchrun/export?format=numpy").status_code == 404
    r = client.get(f"/runs/{run_a}/export?format=jax")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "format"
    r = client.get(f"/runs/{run_b}/export?format=numpy&kind=model")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "kind"
    assert "without a model" in r.json()["detail"][0]["msg"]
