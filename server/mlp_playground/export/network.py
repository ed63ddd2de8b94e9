"""What an exported script is written from: a network's layers, features and normalisation.

``Network.from_document`` validates a model document (docs/design.md, "The model document")
and says which field is wrong as ``model.<path>`` (``model.layers[1].weights``), so that the
route answers a 422 naming it; ``Network.from_model`` takes a trainer's live model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp_playground.data.features import FEATURES, Normalization
from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import ModelDocumentError, model_from_document
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.predictor import check_model_shape


@dataclass
class Network:
    """Layers (``activation``, ``W`` (n_in, n_out), ``b``, and ``alpha`` for PReLU), the
    input features, the normalisation (``{"mean", "std"}`` or None) and the loss."""

    features: list[str]
    normalization: dict[str, list[float]] | None
    loss: str
    classes: int
    layers: list[dict[str, Any]]

    @property
    def hidden_activations(self) -> list[str]:
        return [layer["activation"] for layer in self.layers[:-1]]

    @property
    def sizes(self) -> list[int]:
        """Units per layer, inputs first: ``[F, hidden..., K]``."""
        return [len(self.features), *(int(layer["W"].shape[1]) for layer in self.layers)]

    def describe(self) -> str:
        """``3 features -> 8 tanh -> 8 relu -> 2 scores (linear)``."""
        parts = [f"{len(self.features)} features"]
        parts += [
            f"{u} {a}" for u, a in zip(self.sizes[1:-1], self.hidden_activations, strict=True)
        ]
        parts.append(f"{self.sizes[-1]} {'output' if self.loss == 'mse' else 'scores'} (linear)")
        return " -> ".join(parts)

    @classmethod
    def from_model(
        cls, model: MLP, features: list[str], normalization: Normalization | None, loss: str
    ) -> Network:
        """A copy of ``model``'s current parameters (later training does not change it)."""
        acts = [*model.activations, "linear"]
        layers = []
        for i, a in enumerate(acts):
            layer: dict[str, Any] = {
                "activation": a,
                "W": model.params[f"dense{i}.W"].copy(),
                "b": model.params[f"dense{i}.b"].copy(),
            }
            if a == "prelu":
                layer["alpha"] = model.params[f"dense{i}.alpha"].copy()
            layers.append(layer)
        norm = None if normalization is None else normalization.to_dict()
        return cls(list(features), norm, loss, model.n_outputs, layers)

    @classmethod
    def from_document(cls, doc: object, limits: Mapping[str, Any]) -> Network:
        """Validate a model document; ``ConfigError("model.<path>", ...)`` if it is wrong, or
        if its network is bigger than the server's caps allow a configured one to be."""
        if not isinstance(doc, Mapping):
            raise ConfigError("model", "model must be a model document (a JSON object)")
        try:
            loaded = model_from_document(dict(doc), known_features=FEATURES)
        except ModelDocumentError as exc:
            path, _, message = str(exc).partition(": ")
            field = "model" if path == "document" else f"model.{path}"
            raise ConfigError(field, f"{field}: {message}") from None
        check_model_shape("model", loaded.model, limits)
        norm = loaded.normalization
        normalization = (
            None
            if norm is None
            else Normalization(np.asarray(norm["mean"]), np.asarray(norm["std"]))
        )
        return cls.from_model(loaded.model, loaded.features, normalization, loaded.loss)
