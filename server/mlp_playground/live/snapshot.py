"""A live session's snapshot: taken on the worker, encoded and decoded anywhere, restored
into a new ``SessionState`` (docs/design.md, "Saved runs and durable sessions", "sessions survive a restart").

Three steps, on three kinds of thread, so the training thread never encodes or waits for
a database:

1. ``capture(session)`` (worker, between two optimiser steps, so the state is consistent):
   copies every array the session's state holds and the plain values around them into a
   ``Captured``. Copies, because the worker updates the weights in place right after.
2. ``encode(captured)`` (any thread): bytes of a NumPy ``.npz`` archive (``np.savez`` into
   a ``BytesIO``, uncompressed: floats compress poorly and zlib would cost more than the
   write). One entry, ``meta``, is UTF-8 JSON; every other entry is a float64 or int64
   array. ``decode`` reads it back with ``allow_pickle=False``: no pickle, nothing in a
   damaged or hostile file can run code.
3. ``restore(decoded, limits)`` (any thread, before the session joins the scheduler): a
   ``SessionState`` whose trainer has the snapshot's config, points and split, features
   and normalisation, weights, optimiser state (moments and step counts), RNG state,
   step, epoch and position in the epoch being walked (its shuffled order included), so
   the next optimiser step is the one that would have followed.

What is saved is ``SessionState`` (see state.py) plus the session's watch token; pacing,
throttles and frame caches are rebuilt within a frame. The trainer and the optimiser have
no public way to set their inner state, so ``restore`` writes a few of their private
attributes; it is the one place that does, kept next to ``capture``, which reads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp_playground.data.features import Normalization
from mlp_playground.live.state import SessionState, Subscription
from mlp_playground.nn.model import MLP
from mlp_playground.nn.optimizers import make_optimizer
from mlp_playground.training.state import TrainingData
from mlp_playground.training.trainer import TrainConfig, Trainer

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession

FORMAT = "mlp-playground.snapshot/1"
META = "meta"


class SnapshotError(ValueError):
    """A snapshot that cannot be read or restored (damaged, another format, over a limit)."""


@dataclass
class Captured:
    """What ``capture`` took: JSON-ready values and private copies of the arrays."""

    session_id: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0  # what capturing it cost the worker

    @property
    def step(self) -> int:
        return int(self.meta["trainer"]["step"])

    def store_meta(self) -> dict[str, Any]:
        """The small dict the store keeps beside the bytes (readable without decoding)."""
        t = self.meta["trainer"]
        return {"format": FORMAT, "step": t["step"], "running": self.meta["running"]}


def state_key(session: LiveSession) -> tuple[int, int, int, bool]:
    """What changes whenever the session's state may have: every command bumps
    ``generation``, training moves ``step``, a re-initialisation bumps ``resets``, an
    automatic pause flips ``running``. Equal keys: nothing to write again."""
    t = session.trainer
    return (session.generation, t.step, t.resets, session.running)


def capture(session: LiveSession) -> Captured:
    """Worker: a consistent copy of the session's state (between two steps)."""
    state = session.state
    t = state.trainer
    d = t.data
    arrays, names, slots = _arrays(t)
    meta = {
        "format": FORMAT,
        "watch_token": session.watch_token,
        "running": bool(state.running),
        "subscription": dict(state.subscription.__dict__),
        "config": state.config.to_dict(include_data=True),
        "title": state.title,
        "history": state.history,
        "trainer": {
            "step": int(t.step),
            "epoch": int(t.epoch),
            "pos": int(t._pos),
            "resets": int(t.resets),
            "diverged": bool(t.diverged),
            "initial_loss": t.initial_loss,
            "features": list(t.features),
            "classes": int(d.classes),
            "domain": [float(v) for v in d.domain],
            "regression": bool(d.regression),
            "rng": t.rng.bit_generator.state,
        },
        "model": {
            "n_inputs": int(t.model.n_inputs),
            "hidden_layers": [int(u) for u in t.model.hidden_layers],
            "n_outputs": int(t.model.n_outputs),
            "activations": list(t.model.activations),
            "init": t.model.init,
            "dropout": float(t.model.dropout),
            "params": names,
        },
        "optimizer": {
            "name": t.optimizer.name,
            "hparams": t.optimizer.hparams,
            "steps": {k: int(v) for k, v in t.optimizer.steps.items()},
            "slots": slots,
        },
    }
    return Captured(session.id, meta, arrays)


def _arrays(t: Trainer) -> tuple[dict[str, np.ndarray], list[str], dict[str, list[str]]]:
    """Copies of the trainer's arrays; the parameter names and optimiser slots they hold."""
    d, opt, model = t.data, t.optimizer, t.model
    arrays: dict[str, np.ndarray] = {
        "X": np.array(d.X, dtype=np.float64),
        "y": np.array(d.y),
        "train_idx": np.array(d.train_idx, dtype=np.int64),
        "val_idx": np.array(d.val_idx, dtype=np.int64),
        # The epoch being walked, in its shuffled order (the permutation is not kept).
        "epoch_X": np.array(t._X_epoch, dtype=np.float64),
        "epoch_y": np.array(t._y_epoch),
    }
    if t.normalization is not None:
        arrays["norm_mean"] = np.array(t.normalization.mean, dtype=np.float64)
        arrays["norm_std"] = np.array(t.normalization.std, dtype=np.float64)
    names = list(model.params)
    for name in names:
        arrays[f"param:{name}"] = np.array(model.params[name], dtype=np.float64)
    slots: dict[str, list[str]] = {}
    for name, per_slot in opt.state.items():
        slots[name] = list(per_slot)
        for slot, value in per_slot.items():
            arrays[f"opt:{name}:{slot}"] = np.array(value, dtype=np.float64)
    return arrays, names, slots


# --------------------------------------------------------------------------- bytes


def encode(captured: Captured) -> bytes:
    """The ``.npz`` bytes (any thread): ``meta`` as UTF-8 JSON, the arrays as they are."""
    text = json.dumps(captured.meta, separators=(",", ":"), allow_nan=False).encode()
    buf = io.BytesIO()
    entries: dict[str, Any] = {META: np.frombuffer(text, dtype=np.uint8), **captured.arrays}
    np.savez(buf, allow_pickle=False, **entries)
    return buf.getvalue()


@dataclass
class Decoded:
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


def decode(data: bytes) -> Decoded:
    """Bytes -> meta and arrays; ``SnapshotError`` for anything that is not our snapshot."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(META).tobytes().decode())
    except Exception as exc:  # zipfile, numpy and json each raise their own
        raise SnapshotError(f"unreadable snapshot: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError("not a mlp-playground.snapshot/1 snapshot")
    return Decoded(meta, arrays)


# --------------------------------------------------------------------------- restore


def restore(snap: Decoded, limits: Mapping[str, Any]) -> SessionState:
    """A ``SessionState`` carrying on exactly where the snapshot stopped.

    The config is checked against today's limits (a snapshot is data from disk); the
    trainer is built from it, then given the snapshot's points, model, optimiser and
    counters. ``SnapshotError`` if anything does not fit.
    """
    meta, a = snap.meta, snap.arrays
    try:
        config = TrainConfig.from_dict(meta["config"], limits)
        trainer = Trainer(config, record_history=False, limits=limits)
        _restore_trainer(trainer, meta, a)
        sub = replace(Subscription(), **meta["subscription"])
    except SnapshotError:
        raise
    except Exception as exc:  # a KeyError, a shape mismatch, a ConfigError...
        raise SnapshotError(f"snapshot does not restore: {exc!r}") from None
    state = SessionState(trainer.config, trainer, bool(meta["running"]), sub)
    state.title = meta.get("title")
    state.history = meta.get("history")
    return state


def _restore_trainer(trainer: Trainer, meta: dict[str, Any], a: dict[str, np.ndarray]) -> None:
    """Overwrite a freshly built trainer with the snapshot's data, model and counters."""
    tm, mm, om = meta["trainer"], meta["model"], meta["optimizer"]
    trainer.data = TrainingData(
        a["X"].astype(np.float64).reshape(-1, 2),
        a["y"],
        a["train_idx"].astype(np.int64),
        a["val_idx"].astype(np.int64),
        int(tm["classes"]),
        (
            float(tm["domain"][0]),
            float(tm["domain"][1]),
            float(tm["domain"][2]),
            float(tm["domain"][3]),
        ),
        bool(tm["regression"]),
    )
    trainer.features = list(tm["features"])
    trainer.normalization = (
        Normalization(a["norm_mean"], a["norm_std"]) if "norm_mean" in a else None
    )
    rng = np.random.default_rng()
    trainer.rng = rng
    model = MLP(
        int(mm["n_inputs"]),
        [int(u) for u in mm["hidden_layers"]],
        int(mm["n_outputs"]),
        activation=list(mm["activations"]),
        init=mm["init"],
        dropout=float(mm["dropout"]),
        rng=rng,
    )
    if sorted(mm["params"]) != sorted(model.params):
        raise SnapshotError("the snapshot's parameters do not match its network")
    for name in mm["params"]:
        model.params[name] = a[f"param:{name}"]
    trainer.model = model
    rng.bit_generator.state = tm["rng"]  # after the model's initialiser drew from it
    opt = make_optimizer(om["name"], **om["hparams"])
    # Optimiser state by name; the first step adopts it into its flat buffers.
    opt._state = {
        name: {slot: a[f"opt:{name}:{slot}"].copy() for slot in slots}
        for name, slots in om["slots"].items()
    }
    opt._steps = {k: int(v) for k, v in om["steps"].items()}
    trainer.optimizer = opt
    trainer._prepare()
    trainer._pos = int(tm["pos"])
    trainer._X_epoch = np.ascontiguousarray(a["epoch_X"], dtype=np.float64)
    trainer._y_epoch = a["epoch_y"]
    trainer.step = int(tm["step"])
    trainer.epoch = int(tm["epoch"])
    trainer.resets = int(tm["resets"])
    trainer.diverged = bool(tm["diverged"])
    trainer.initial_loss = tm["initial_loss"]
