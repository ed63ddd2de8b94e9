"""GET /api/options and the OpenAPI examples at /docs."""

from __future__ import annotations

import pytest

from mlp_playground.data.datasets import DATASETS
from mlp_playground.data.features import FEATURES
from mlp_playground.nn.optimizers import OPTIMIZERS


def test_options_list_every_choice(client, settings):
    o = client.get("/api/options").json()
    assert set(o["datasets"]) == set(DATASETS)
    spiral = o["datasets"]["spiral"]
    assert spiral["classes"] == {"min": 2, "max": 8, "default": 2}
    assert spiral["description"] and spiral["regression"] is False
    assert spiral["parameters"]["n_points"]["max"] == settings.max_points_train
    assert o["datasets"]["plane"]["regression"] is True
    assert {"tanh", "relu", "sigmoid", "linear"} <= set(o["activations"])
    assert set(o["losses"]) == {"cross_entropy", "hinge", "mse"}
    assert set(o["initializers"]) == {"gaussian", "xavier", "he", "uniform"}
    assert set(o["regularizations"]) == {"none", "l1", "l2"}
    assert o["optimizers"] == OPTIMIZERS
    assert o["optimizers"]["adam"]["beta2"] == 0.999
    assert o["features"] == FEATURES
    assert o["limits"] == settings.limits()
    assert o["limits"]["max_units"] == 256 and o["limits"]["max_classes"] == 8


def test_defaults_are_a_complete_train_body(client):
    defaults = client.get("/api/options").json()["defaults"]
    expected = {
        "dataset", "validation_split", "network", "loss", "regularization", "optimizer",
        "batch_size", "epochs", "steps", "shuffle", "seed", "initial_model", "grid",
        "schedule", "stop", "prediction", "stats",
    }  # fmt: skip
    assert set(defaults) == expected
    r = client.post("/train", json={**defaults, "epochs": 1})
    assert r.status_code == 200, r.text


def _examples(spec: dict) -> list[tuple[str, str, dict]]:
    out = []
    for path, item in spec["paths"].items():
        post = item.get("post")
        if not post or "requestBody" not in post:
            continue
        content = post["requestBody"]["content"]["application/json"]
        for name, example in content.get("examples", {}).items():
            out.append((path, name, example["value"]))
        schema = content["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
        for i, value in enumerate(schema.get("examples", [])):
            out.append((path, f"schema{i}", value))
    return out


def test_openapi_examples_run_as_they_are(client):
    spec = client.get("/openapi.json").json()
    examples = _examples(spec)
    paths = {path for path, _, _ in examples}
    assert paths == {"/train", "/predict", "/gradcheck", "/race"}
    for path, name, body in examples:
        r = client.post(path, json=body)
        assert r.status_code == 200, (path, name, r.text)


def test_docs_page_is_served(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


@pytest.mark.parametrize("path", ["/train", "/predict", "/gradcheck", "/race"])
def test_422_is_documented(client, path):
    spec = client.get("/openapi.json").json()
    ref = spec["paths"][path]["post"]["responses"]["422"]["content"]["application/json"]
    assert ref["schema"]["$ref"].endswith("/ErrorResponse")
