"""Live reconfiguration of a trainer, and the shape surgery that keeps weights across it.

``TrainerReconfiguration.apply`` takes a new (validated) config between two steps:
it works out which dotted fields changed (``config_diff``), re-initialises only when it has
to (seed, initialiser, class count), regenerates or re-splits the data when asked, and
otherwise edits the network in place: ``reshape_hidden`` adds or removes layers and units
keeping every weight that still has a place, ``reshape_inputs`` keeps the input rows of the
features that stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import Optimizer, make_optimizer
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.data import TrainerData, domain_for, make_data

_MISSING = object()


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping):
            out.update(_flatten(v, path))
        else:
            out[path] = v
    return out


def config_diff(a: Mapping, b: Mapping) -> set[str]:
    """The dotted paths ("optimizer.momentum", "network.hidden_layers") whose values differ."""
    fa, fb = _flatten(a), _flatten(b)
    keys = set(fa) | set(fb)
    return {k for k in keys if fa.get(k, _MISSING) != fb.get(k, _MISSING)}


def reshape_hidden(model: MLP, old: list[int], new: list[int]) -> None:
    """Surgery from ``old`` to ``new`` hidden sizes keeping every weight that has a place.

    One layer more or fewer whose other sizes match is taken as an insertion or deletion at
    that position (so removing the first of [4, 2] keeps the 2-unit layer); otherwise layers
    are added or removed at the end and units at the end of each layer.
    """
    cur = list(old)
    if len(new) == len(cur) - 1:
        for i in range(len(cur) - 1, -1, -1):
            if cur[:i] + cur[i + 1 :] == new:
                model.remove_layer(i)
                return
    if len(new) == len(cur) + 1:
        for i in range(len(new) - 1, -1, -1):
            if new[:i] + new[i + 1 :] == cur:
                model.add_layer(i, new[i])
                return
    while len(cur) > len(new):
        model.remove_layer(len(cur) - 1)
        cur.pop()
    for i in range(len(cur)):
        while cur[i] < new[i]:
            model.add_unit(i)
            cur[i] += 1
        while cur[i] > new[i]:
            model.remove_unit(i, cur[i] - 1)
            cur[i] -= 1
    while len(cur) < len(new):
        model.add_layer(len(cur), new[len(cur)])
        cur.append(new[len(cur)])


def reshape_inputs(
    old: MLP, old_features: list[str], features: list[str], init: str, rng: np.random.Generator
) -> MLP:
    """A model with one input row per new feature: rows of kept features are copied,
    new rows come from the initialiser; every other parameter is copied."""
    new = MLP(
        len(features),
        list(old.hidden_layers),
        old.n_outputs,
        activation=list(old.activations),
        init=init,
        dropout=old.dropout,
        rng=rng,
    )
    for name, p in old.params.items():
        if name != "dense0.W":
            new.params[name][...] = p
    rows_old = {f: i for i, f in enumerate(old_features)}
    W_old, W_new = old.params["dense0.W"], new.params["dense0.W"]
    for j, f in enumerate(features):
        if f in rows_old:
            W_new[j] = W_old[rows_old[f]]
    return new


@dataclass
class Reconfigured:
    """What ``TrainerReconfiguration.apply`` did: the dotted paths that changed, and either
    ``reset`` (the trainer must re-initialise) or the model and optimiser to train on."""

    changed: set[str]
    reset: bool
    model: MLP
    optimizer: Optimizer


class TrainerReconfiguration:
    """A live config edit applied between two steps, keeping weights where they fit.

    It edits the trainer's ``TrainerData`` in place (points, features, split,
    normalisation) and hands back the model and optimiser to keep training on; what it
    cannot do in place (a new seed or initialiser, a new class count) it leaves to the
    trainer's reset by saying so.
    """

    def __init__(self, feed: TrainerData) -> None:
        self.feed = feed

    def apply(
        self,
        old: TrainConfig,
        new: TrainConfig,
        model: MLP,
        optimizer: Optimizer,
        rng: np.random.Generator,
    ) -> Reconfigured:
        """Go from ``old`` to ``new`` (validated). Asks for a reset when ``seed``,
        ``network.init`` or the task (class count, regression) changes; regenerates the data
        when a ``dataset`` field changes; re-splits on ``validation_split``."""
        changed = config_diff(old.to_dict(), new.to_dict())
        if (old.data is not None or new.data is not None) and old.data is not new.data:
            changed.add("data")
        if not changed:
            return Reconfigured(changed, False, model, optimizer)
        data_changed = any(c.startswith(("dataset", "data")) for c in changed) or (
            "loss" in changed and old.regression != new.regression
        )
        if data_changed and self._reload_data(new):
            return Reconfigured(changed, True, model, optimizer)
        if {"seed", "network.init"} & changed:
            return Reconfigured(changed, True, model, optimizer)
        model = self._reshape_network(model, old.network, new.network, rng)
        feed = self.feed
        if data_changed or "validation_split" in changed:
            feed.split(new.validation_split, rng)
        if data_changed or {"validation_split", "network.features", "network.normalize"} & changed:
            feed.fit_normalization(new.network["normalize"])
            feed.prepare()
        optimizer = update_optimizer(optimizer, old.optimizer, new.optimizer)
        # shuffle, batch_size, loss and regularization are read on every step.
        return Reconfigured(changed, False, model, optimizer)

    def _reload_data(self, new: TrainConfig) -> bool:
        """Make ``new``'s data; True when the task changed (class count or regression), so
        the model must be re-initialised."""
        X, y, classes = make_data(new)
        return self.feed.replace(X, y, classes, domain_for(new, X), new.regression)

    def _reshape_network(
        self, model: MLP, net_old: Mapping, net_new: Mapping, rng: np.random.Generator
    ) -> MLP:
        """Hidden sizes, activations, input features and dropout, in place where possible."""
        if net_old["hidden_layers"] != net_new["hidden_layers"]:
            reshape_hidden(model, net_old["hidden_layers"], net_new["hidden_layers"])
        for i, name in enumerate(net_new["activation"]):
            if model.activations[i] != name:
                model.set_activation(i, name)
        if net_old["features"] != net_new["features"]:
            features = list(net_new["features"])
            model = reshape_inputs(model, self.feed.features, features, net_new["init"], rng)
            self.feed.features = features
        if model.dropout != net_new["dropout"]:
            model.dropout = net_new["dropout"]
        return model


def update_optimizer(optimizer: Optimizer, opt_old: Mapping, opt_new: Mapping) -> Optimizer:
    """A new optimiser when the name changes, else the same one with only the changed
    hyper-parameters set (the moment estimates are kept)."""
    if opt_old["name"] != opt_new["name"]:
        return make_optimizer(opt_new["name"], **{k: v for k, v in opt_new.items() if k != "name"})
    hp = {k: v for k, v in opt_new.items() if k != "name" and opt_old[k] != v}
    if hp:
        optimizer.set(**hp)
    return optimizer
