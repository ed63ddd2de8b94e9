"""POST /export of a model document: the script's predictions equal /predict's."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.export.helpers import run_scripts

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "linear"]
FEATS = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]
LOSSES = ["cross_entropy", "hinge", "mse"]


def random_document(i: int) -> dict:
    """A valid model document with random weights: case i picks activations, features,
    class count (2..8), loss and normalisation so that the cases cover every choice."""
    rng = np.random.default_rng(i)
    loss = LOSSES[i % 3]
    classes = 1 if loss == "mse" else 2 + i % 7
    features = [f for j, f in enumerate(FEATS) if (i + j) % 3 != 0 or j == i % 7]
    hidden = [int(rng.integers(1, 9)) for _ in range(1 + i % 3)]
    acts = [ACTS[(i + k) % 7] for k in range(len(hidden))]
    sizes = [len(features), *hidden, classes]
    layers = []
    for k in range(len(sizes) - 1):
        layer = {
            "weights": rng.normal(0, 1.5, (sizes[k], sizes[k + 1])).tolist(),
            "bias": rng.normal(0, 0.5, sizes[k + 1]).tolist(),
            "activation": acts[k] if k < len(acts) else "linear",
        }
        if layer["activation"] == "prelu":
            layer["alpha"] = rng.uniform(-0.5, 1.0, sizes[k + 1]).tolist()
        layers.append(layer)
    norm = None
    if i % 2 == 0:
        norm = {
            "mean": rng.normal(0, 1, len(features)).tolist(),
            "std": rng.uniform(0.5, 3, len(features)).tolist(),
        }
    return {
        "format": "mlp-playground.model/1",
        "features": features,
        "normalization": norm,
        "classes": classes,
        "loss": loss,
        "layers": layers,
    }


CASES = [random_document(i) for i in range(21)]
POINTS = [*np.random.default_rng(99).uniform(-6, 6, (40, 2)).tolist(), [0.0, 0.0], [5.9, -5.9]]


def test_cases_cover_every_choice() -> None:
    used = {layer["activation"] for doc in CASES for layer in doc["layers"][:-1]}
    assert used == set(ACTS)
    assert {doc["loss"] for doc in CASES} == set(LOSSES)
    assert {doc["classes"] for doc in CASES} >= set(range(2, 9))
    assert {f for doc in CASES for f in doc["features"]} == set(FEATS)


@pytest.mark.parametrize("fmt", ["numpy", "pytorch"])
def test_model_script_predicts_as_predict(client, tmp_path, fmt: str) -> None:
    jobs, expected = [], []
    for doc in CASES:
        r = client.post("/export", json={"format": fmt, "model": doc})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/x-python; charset=utf-8"
        assert "attachment" in r.headers["content-disposition"]
        jobs.append((r.text, POINTS))
        expected.append(client.post("/predict", json={"model": doc, "points": POINTS}).json())
    for doc, want, got in zip(CASES, expected, run_scripts(tmp_path, jobs), strict=True):
        np.testing.assert_allclose(got["proba"], want["probabilities"], rtol=0, atol=1e-6)
        if doc["loss"] == "mse":
            np.testing.assert_allclose(got["predict"], want["values"], rtol=1e-6, atol=1e-9)
        else:
            assert got["predict"] == want["labels"]


@pytest.mark.parametrize("fmt", ["numpy", "pytorch"])
def test_command_line_prints_one_points_probabilities(client, tmp_path, fmt: str) -> None:
    doc = CASES[4]  # prelu with K = 6
    script = tmp_path / "model.py"
    script.write_text(client.post("/export", json={"format": fmt, "model": doc}).text)
    done = subprocess.run(
        [sys.executable, str(script), "1.5", "-2.25"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    want = client.post("/predict", json={"model": doc, "points": [[1.5, -2.25]]}).json()
    np.testing.assert_allclose(json.loads(done.stdout), want["probabilities"][0], atol=1e-6)
    if fmt == "pytorch":
        source = script.read_text()
        assert "nn.Sequential(" in source and "nn.PReLU(num_parameters=" in source


@pytest.mark.parametrize("fmt", ["numpy", "pytorch"])
def test_scripts_import_nothing_of_the_playground(client, fmt: str) -> None:
    allowed = {"json", "sys", "math", "numpy", "torch", "torch.nn", "torch.nn.functional"}
    for doc in CASES[:7]:
        tree = ast.parse(client.post("/export", json={"format": fmt, "model": doc}).text)
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert names <= allowed, names
        assert ("torch" in names) == (fmt == "pytorch")


def test_bad_requests_are_422_naming_the_field(client) -> None:
    doc = CASES[0]
    r = client.post("/export", json={"format": "keras", "model": doc})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "format"
    bad = json.loads(json.dumps(doc))
    bad["layers"][0]["weights"] = bad["layers"][0]["weights"][:-1]
    r = client.post("/export", json={"format": "numpy", "model": bad})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "model.layers[0].weights", r.json()
    bad = {**doc, "loss": "huber"}
    r = client.post("/export", json={"format": "numpy", "model": bad})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model.loss"
    r = client.post("/export", json={"format": "numpy"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model"
    r = client.post("/export", json={"format": "numpy", "model": doc, "train": {}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model"
