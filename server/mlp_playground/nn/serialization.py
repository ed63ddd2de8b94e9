"""The model document (docs/design.md, "The model document"), both ways, with exact validation.

Writing turns every float64 into a JSON number with Python's shortest round-trip repr, so
``model_from_document(model_to_document(m))`` gives bit-identical weights. Reading checks
structure, names, shapes and finiteness and raises ``ModelDocumentError`` whose message
starts with the path of the offending field (``layers[1].weights: expected 8 rows, got 7``).

Feature names are checked against ``FEATURE_NAMES`` (the fixed list of docs/design.md, "The REST contract")
unless the caller passes its own ``known_features``; ``server/mlp_playground/nn`` does not import
``mlp_playground.data.features`` to keep imports pointing one way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from .activations import ACTIVATIONS
from .losses import CLASSIFICATION_LOSSES, LOSSES
from .model import MLP

FORMAT = "mlp-playground.model/1"
FEATURE_NAMES = ("x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2")
MAX_CLASSES = 8
_TOP_KEYS = ("format", "features", "normalization", "classes", "loss", "layers")


class ModelDocumentError(ValueError):
    """A malformed model document; the message names the field (and layer) at fault."""


@dataclass
class LoadedModel:
    model: MLP
    features: list[str]
    normalization: dict[str, list[float]] | None
    loss: str
    classes: int


def model_to_document(
    model: MLP,
    features: list[str],
    normalization: dict[str, Any] | None = None,
    loss: str = "cross_entropy",
) -> dict[str, Any]:
    """The JSON-ready document of ``model``. ``normalization`` is None or {mean, std}
    (lists or arrays of one value per feature); ``classes`` is the number of outputs."""
    if len(features) != model.n_inputs:
        raise ValueError(f"{len(features)} feature names for a model with {model.n_inputs} inputs")
    norm = None
    if normalization is not None:
        norm = {
            "mean": [float(v) for v in np.asarray(normalization["mean"]).reshape(-1)],
            "std": [float(v) for v in np.asarray(normalization["std"]).reshape(-1)],
        }
    layers = []
    acts = [*model.activations, "linear"]
    for i, a in enumerate(acts):
        entry: dict[str, Any] = {
            "weights": model.params[f"dense{i}.W"].tolist(),
            "bias": model.params[f"dense{i}.b"].tolist(),
            "activation": a,
        }
        if a == "prelu":
            entry["alpha"] = model.params[f"dense{i}.alpha"].tolist()
        layers.append(entry)
    return {
        "format": FORMAT,
        "features": list(features),
        "normalization": norm,
        "classes": model.n_outputs,
        "loss": loss,
        "layers": layers,
    }


def _fail(path: str, message: str) -> NoReturn:
    raise ModelDocumentError(f"{path}: {message}")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _vector(value: object, path: str, length: int | None = None) -> np.ndarray:
    if not isinstance(value, (list, tuple)):
        _fail(path, f"expected a list of numbers, got {type(value).__name__}")
    if length is not None and len(value) != length:
        _fail(path, f"expected {length} values, got {len(value)}")
    for j, v in enumerate(value):
        if not _is_number(v):
            _fail(f"{path}[{j}]", f"expected a number, got {v!r}")
        if not math.isfinite(v):
            _fail(f"{path}[{j}]", f"expected a finite number, got {v!r}")
    return np.array(value, dtype=np.float64)


def _matrix(value: object, path: str, rows: int) -> np.ndarray:
    if not isinstance(value, (list, tuple)):
        _fail(path, f"expected a list of rows, got {type(value).__name__}")
    if len(value) != rows:
        _fail(path, f"expected {rows} rows, got {len(value)}")
    if rows == 0 or not isinstance(value[0], (list, tuple)) or len(value[0]) == 0:
        _fail(f"{path}[0]", "expected a non-empty list of numbers")
    cols = len(value[0])
    out = np.empty((rows, cols))
    for r, row in enumerate(value):
        if isinstance(row, (list, tuple)) and len(row) != cols:
            _fail(f"{path}[{r}]", f"expected {cols} columns, got {len(row)}")
        out[r] = _vector(row, f"{path}[{r}]", cols)
    return out


def model_from_document(
    doc: object,
    *,
    known_features: tuple[str, ...] | list[str] | None = None,
    init: str = "xavier",
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
) -> LoadedModel:
    """Validate ``doc`` and build the model it describes (float64, weights exact).

    ``init``, ``dropout`` and the RNG are not part of the document; they configure what the
    loaded model does on later shape surgery and training. The checks run top to bottom
    (fields, features, normalisation, loss and classes, layers): the first problem raises.
    """
    if not isinstance(doc, dict):
        _fail("document", f"expected a JSON object, got {type(doc).__name__}")
    for key in _TOP_KEYS:
        if key not in doc:
            _fail(key, "missing")
    extra = sorted(set(doc) - set(_TOP_KEYS))
    if extra:
        _fail(extra[0], f"unknown field; valid: {', '.join(_TOP_KEYS)}")
    if doc["format"] != FORMAT:
        _fail("format", f"expected {FORMAT!r}, got {doc['format']!r}")
    known = FEATURE_NAMES if known_features is None else tuple(known_features)
    features = _features(doc["features"], known)
    normalization = _normalization(doc["normalization"], len(features))
    loss, classes = _loss_and_classes(doc["loss"], doc["classes"])
    layers = doc["layers"]
    if not isinstance(layers, list) or not layers:
        _fail("layers", "expected a non-empty list of layers")
    arrays: dict[str, np.ndarray] = {}
    hidden: list[int] = []
    acts: list[str] = []
    n_in = len(features)
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        a, n_in = _layer(layer, i, n_in, classes if last else None, arrays)
        if not last:
            hidden.append(n_in)
            acts.append(a)
    model = MLP(len(features), hidden, classes, acts or "tanh", init, dropout, rng, seed)
    for name, value in arrays.items():
        model.params[name] = value
    return LoadedModel(model, list(features), normalization, loss, classes)


def _features(features: object, known: tuple[str, ...]) -> list[str]:
    if not isinstance(features, list) or not features:
        _fail("features", "expected a non-empty list of feature names")
    for j, f in enumerate(features):
        if not isinstance(f, str) or f not in known:
            _fail(f"features[{j}]", f"unknown feature {f!r}; valid: {', '.join(known)}")
    if len(set(features)) != len(features):
        _fail("features", "contains duplicates")
    return features


def _normalization(norm: object, n_features: int) -> dict[str, list[float]] | None:
    if norm is None:
        return None
    if not isinstance(norm, dict):
        _fail("normalization", "expected null or an object with mean and std")
    for key in ("mean", "std"):
        if key not in norm:
            _fail(f"normalization.{key}", "missing")
    if set(norm) - {"mean", "std"}:
        _fail("normalization", f"unknown field {sorted(set(norm) - {'mean', 'std'})[0]!r}")
    mean = _vector(norm["mean"], "normalization.mean", n_features)
    std = _vector(norm["std"], "normalization.std", n_features)
    if (std <= 0).any():
        _fail(f"normalization.std[{int(np.argmax(std <= 0))}]", "must be > 0")
    return {"mean": mean.tolist(), "std": std.tolist()}


def _loss_and_classes(loss: object, classes: object) -> tuple[str, int]:
    if not isinstance(loss, str) or loss not in LOSSES:
        _fail("loss", f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    if isinstance(classes, bool) or not isinstance(classes, int):
        _fail("classes", f"expected an integer, got {classes!r}")
    low = 2 if loss in CLASSIFICATION_LOSSES else 1
    if not low <= classes <= MAX_CLASSES:
        _fail("classes", f"expected {low}..{MAX_CLASSES} for loss {loss}, got {classes}")
    return loss, classes


def _layer(
    layer: object, i: int, n_in: int, classes: int | None, arrays: dict[str, np.ndarray]
) -> tuple[str, int]:
    """Check layer ``i`` (the output layer when ``classes`` is given) and put its arrays in
    ``arrays``; returns its activation and width."""
    path = f"layers[{i}]"
    if not isinstance(layer, dict):
        _fail(path, f"expected an object, got {type(layer).__name__}")
    for key in ("weights", "bias", "activation"):
        if key not in layer:
            _fail(f"{path}.{key}", "missing")
    extra = sorted(set(layer) - {"weights", "bias", "activation", "alpha"})
    if extra:
        _fail(f"{path}.{extra[0]}", "unknown field; valid: weights, bias, activation, alpha")
    a = layer["activation"]
    if not isinstance(a, str) or a not in ACTIVATIONS:
        _fail(f"{path}.activation", f"unknown activation {a!r}; valid: {', '.join(ACTIVATIONS)}")
    last = classes is not None
    if last and a != "linear":
        _fail(f"{path}.activation", f"the output layer must be 'linear', got {a!r}")
    W = _matrix(layer["weights"], f"{path}.weights", n_in)
    n_out = W.shape[1]
    if last and n_out != classes:
        _fail(f"{path}.weights", f"expected {classes} columns (classes), got {n_out}")
    arrays[f"dense{i}.W"] = W
    arrays[f"dense{i}.b"] = _vector(layer["bias"], f"{path}.bias", n_out)
    if a == "prelu":
        if "alpha" not in layer:
            _fail(f"{path}.alpha", "missing (required for prelu)")
        arrays[f"dense{i}.alpha"] = _vector(layer["alpha"], f"{path}.alpha", n_out)
    elif "alpha" in layer:
        _fail(f"{path}.alpha", f"only prelu layers have alpha, this one is {a!r}")
    return a, n_out
