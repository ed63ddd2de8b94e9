"""A model with its input transform, and the checks made on a loaded or fresh model.

``Predictor`` is what ``/predict`` and a live session's background work use: a model document
(or a frozen copy of a trainer's model) with its features and normalisation, raw points in,
probabilities out. The helpers here are shared by the trainer, REST and the live session:
the Monte-Carlo dropout average, the expected loss of a fresh initialisation, the check
that a model document fits the server's network caps, and a model's part of the trainer's
``state_dict`` (``model_state`` / ``model_from_state``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp_playground.data.features import FEATURES, Normalization, check_features, expand
from mlp_playground.nn.model import MLP
from mlp_playground.nn.serialization import model_from_document
from mlp_playground.training.config.checks import ConfigError
from mlp_playground.training.state import finite_or_none


@dataclass
class Predictor:
    """A model with its features and normalisation: raw points in, probabilities out."""

    model: MLP
    features: list[str]
    normalization: Normalization | None
    loss: str

    @classmethod
    def from_document(cls, doc: Mapping, **kwargs: Any) -> Predictor:
        """Load a model document; a malformed one raises ConfigError("model", ...).

        ``kwargs`` (init, dropout, rng) go to ``model_from_document``.
        """
        try:
            loaded = model_from_document(
                dict(doc) if isinstance(doc, Mapping) else doc, known_features=FEATURES, **kwargs
            )
            features = check_features(loaded.features)
            if len(features) != loaded.model.n_inputs:
                raise ValueError(
                    f"features: {len(features)} names for {loaded.model.n_inputs} inputs"
                )
            raw = loaded.normalization
            norm = None if raw is None else Normalization.from_dict(raw, len(features))
        except ValueError as exc:
            raise ConfigError("model", f"model: {exc}") from None
        return cls(loaded.model, features, norm, loaded.loss)

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs for raw points: features expanded, then normalised."""
        F = expand(np.asarray(points, dtype=np.float64), self.features)
        if self.normalization is not None:
            self.normalization.apply(F, out=F)
        return F

    def scores(self, points: np.ndarray) -> np.ndarray:
        return self.model.forward(self.inputs(points))

    def predict_proba(self, points: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.inputs(points))


def expected_initial_loss(loss: str, classes: int) -> float | None:
    """What a small random init should give: ln K for softmax cross-entropy (uniform
    probabilities), K - 1 for the multiclass hinge (every margin 1); nothing for mse."""
    if loss == "cross_entropy":
        return math.log(classes)
    if loss == "hinge":
        return float(classes - 1)
    return None


def initial_loss_report(loss: str, classes: int, initial: float | None) -> dict[str, Any]:
    """``initial_loss``, ``expected_initial_loss`` and ``initial_loss_ok`` (within 10% of
    the expected value; None when nothing is expected or the loss is unknown)."""
    expected = expected_initial_loss(loss, classes)
    initial = finite_or_none(initial)
    ok = None
    if expected is not None and initial is not None:
        ok = abs(initial - expected) <= 0.1 * expected
    return {"initial_loss": initial, "expected_initial_loss": expected, "initial_loss_ok": ok}


def check_model_shape(field: str, model: MLP, limits: Mapping) -> None:
    """A model document's network must fit the caps a configured one has (hidden layers,
    units per layer), so a document cannot smuggle in a network the limits forbid."""
    hidden = list(model.hidden_layers)
    max_layers, max_units = int(limits["max_hidden_layers"]), int(limits["max_units"])
    if len(hidden) > max_layers:
        raise ConfigError(
            field, f"{field} has {len(hidden)} hidden layers, over the limit of {max_layers}"
        )
    for i, units in enumerate(hidden):
        if units > max_units:
            raise ConfigError(
                field,
                f"{field}: hidden layer {i} has {units} units, over the limit of {max_units}",
            )


def mc_predict(
    model: MLP, F: np.ndarray, passes: int, regression: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout on network inputs ``F``: mean and std over ``passes`` stochastic
    passes (dropout on, masks from the model's RNG) of the probabilities, or of the raw
    output for a regression model (softmax of one output is always 1)."""
    if not regression:
        return model.predict_mc(F, passes)
    outs = np.stack([model.forward(F, train=True) for _ in range(passes)])
    return outs.mean(axis=0), outs.std(axis=0)


def model_state(model: MLP) -> dict[str, Any]:
    """A model's architecture and weights (copies): its part of ``Trainer.state_dict``.
    The architecture is state because live edits reshape the network."""
    return {
        "n_inputs": int(model.n_inputs),
        "hidden_layers": [int(u) for u in model.hidden_layers],
        "n_outputs": int(model.n_outputs),
        "activations": list(model.activations),
        "init": model.init,
        "dropout": float(model.dropout),
        "params": {k: np.array(v) for k, v in model.params.items()},
    }


def check_model_fits(model: MLP, data: Any) -> None:
    """The model's inputs and outputs must match the saved data's features and task."""
    try:
        n_features = len(data["features"])
        n_out = 1 if data["regression"] else int(data["classes"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"data state has no {exc.args[0]!r}") from None
    if model.n_inputs != n_features or model.n_outputs != n_out:
        raise ValueError(
            f"the model has {model.n_inputs} inputs and {model.n_outputs} outputs; the data "
            f"has {n_features} features and {n_out} outputs"
        )


def model_from_state(state: Any, rng: np.random.Generator) -> MLP:
    """The network ``state`` describes, with its weights; ValueError if anything is off."""
    if not isinstance(state, Mapping):
        raise ValueError("model state must be a mapping")
    try:
        model = MLP(
            int(state["n_inputs"]),
            [int(u) for u in state["hidden_layers"]],
            int(state["n_outputs"]),
            activation=list(state["activations"]),
            init=state["init"],
            dropout=float(state["dropout"]),
            rng=rng,
        )
        params = state["params"]
    except KeyError as exc:
        raise ValueError(f"model state has no {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ValueError(f"model state: {exc}") from None
    if not isinstance(params, Mapping) or set(params) != set(model.params):
        got = sorted(params) if isinstance(params, Mapping) else params
        raise ValueError(
            f"model parameters {got} do not match the network's {sorted(model.params)}"
        )
    for name in model.params:
        model.params[name] = params[name]  # ParamDict checks the shape, naming the parameter
    return model
