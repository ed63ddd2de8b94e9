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
throttles and frame caches are rebuilt within a frame. The trainer's part goes through its
one public door, ``Trainer.state_dict`` / ``load_state_dict`` (which includes the
optimiser's ``state_dict``); this module only lays that dict out as JSON and arrays. The
layout is the one snapshots have always had, so every stored snapshot still restores.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from mlp_playground.live.state import SessionState, Subscription
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer

FORMAT = "mlp-playground.snapshot/1"
META = "meta"


class SnapshotError(ValueError):
    """A snapshot that cannot be read or restored (damaged, another format, over a limit)."""


class Snapshotted(Protocol):
    """What ``capture`` and ``state_key`` read of a live session (``LiveSession`` has it):
    a protocol, so this module does not import the session, which imports it."""

    @property
    def id(self) -> str: ...
    @property
    def watch_token(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def running(self) -> bool: ...
    @property
    def state(self) -> SessionState: ...


@dataclass
class Captured:
    """What ``capture`` took: JSON-ready values and private copies of the arrays."""

    session_id: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0  # what capturing it cost the worker
    #: For the store's snapshot caps: the owner's address and whether it was connected.
    client: str | None = None
    owned: bool = False

    @property
    def step(self) -> int:
        return int(self.meta["trainer"]["step"])

    def store_meta(self) -> dict[str, Any]:
        """The small dict the store keeps beside the bytes (readable without decoding)."""
        t = self.meta["trainer"]
        return {"format": FORMAT, "step": t["step"], "running": self.meta["running"]}


def state_key(session: Snapshotted) -> tuple[int, int, int, bool]:
    """What changes whenever the session's state may have: every command bumps
    ``generation``, training moves ``step``, a re-initialisation bumps ``resets``, an
    automatic pause flips ``running``. Equal keys: nothing to write again."""
    t = session.state.trainer
    return (session.generation, t.step, t.resets, session.running)


def capture(session: Snapshotted) -> Captured:
    """Worker: a consistent copy of the session's state (between two steps)."""
    state = session.state
    sd = state.trainer.state_dict()  # copies: the worker trains on in place right after
    data, model, opt, loop = sd["data"], sd["model"], sd["optimizer"], sd["loop"]
    arrays: dict[str, np.ndarray] = {
        "X": data["X"],
        "y": data["y"],
        "train_idx": data["train_idx"],
        "val_idx": data["val_idx"],
        "epoch_X": data["epoch_X"],
        "epoch_y": data["epoch_y"],
    }
    if data["normalization"] is not None:
        arrays["norm_mean"] = data["normalization"]["mean"]
        arrays["norm_std"] = data["normalization"]["std"]
    for name, value in model["params"].items():
        arrays[f"param:{name}"] = value
    for name, per_slot in opt["state"].items():
        for slot, value in per_slot.items():
            arrays[f"opt:{name}:{slot}"] = value
    meta = {
        "format": FORMAT,
        "watch_token": session.watch_token,
        "running": bool(state.running),
        "subscription": dict(state.subscription.__dict__),
        "config": state.config.to_dict(include_data=True),
        "title": state.title,
        "history": state.history,
        "trainer": {
            "step": loop["step"],
            "epoch": loop["epoch"],
            "pos": data["pos"],
            "resets": sd["resets"],
            "diverged": loop["diverged"],
            "initial_loss": sd["initial_loss"],
            "features": data["features"],
            "classes": data["classes"],
            "domain": data["domain"],
            "regression": data["regression"],
            "rng": sd["rng"],
            "history": loop["history"],
        },
        "model": {
            **{k: v for k, v in model.items() if k != "params"},
            "params": list(model["params"]),
        },
        "optimizer": {
            "name": opt["name"],
            "hparams": opt["hparams"],
            "steps": opt["steps"],
            "slots": {name: list(per_slot) for name, per_slot in opt["state"].items()},
        },
    }
    return Captured(session.id, meta, arrays)


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


def decode(data: bytes, meta_only: bool = False) -> Decoded:
    """Bytes -> meta and arrays; ``SnapshotError`` for anything that is not our snapshot.

    ``meta_only``: the arrays are not read (``arrays`` is empty): what a resume-key check
    needs, without inflating up to ``max_snapshot_bytes`` for a key that may be wrong."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = [META] if meta_only else npz.files
            arrays = {k: npz[k] for k in names}
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
    trainer is built from it, then given the snapshot's state (``Trainer.load_state_dict``:
    points, model, optimiser, counters, RNG). ``SnapshotError`` if anything does not fit.
    """
    meta, a = snap.meta, snap.arrays
    try:
        config = TrainConfig.from_dict(meta["config"], limits)
        trainer = Trainer(config, record_history=False, limits=limits)
        trainer.load_state_dict(_trainer_state(meta, a))
        sub = replace(Subscription(), **meta["subscription"])
    except SnapshotError:
        raise
    except Exception as exc:  # a KeyError, a shape mismatch, a ConfigError...
        raise SnapshotError(f"snapshot does not restore: {exc!r}") from None
    state = SessionState(trainer.config, trainer, bool(meta["running"]), sub)
    state.title = meta.get("title")
    state.history = meta.get("history")
    return state


def _trainer_state(meta: Mapping[str, Any], a: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The ``Trainer.state_dict`` a snapshot's meta and arrays lay out (``capture``'s
    inverse). A snapshot written before the trainer history was kept has none: empty."""
    tm, mm, om = meta["trainer"], meta["model"], meta["optimizer"]
    norm = {"mean": a["norm_mean"], "std": a["norm_std"]} if "norm_mean" in a else None
    return {
        "data": {
            "X": a["X"],
            "y": a["y"],
            "train_idx": a["train_idx"],
            "val_idx": a["val_idx"],
            "classes": tm["classes"],
            "domain": tm["domain"],
            "regression": tm["regression"],
            "features": tm["features"],
            "normalization": norm,
            "epoch_X": a["epoch_X"],
            "epoch_y": a["epoch_y"],
            "pos": tm["pos"],
        },
        "model": {
            **{k: v for k, v in mm.items() if k != "params"},
            "params": {name: a[f"param:{name}"] for name in mm["params"]},
        },
        "optimizer": {
            "name": om["name"],
            "hparams": om["hparams"],
            "state": {
                name: {slot: a[f"opt:{name}:{slot}"] for slot in slots}
                for name, slots in om["slots"].items()
            },
            "steps": om["steps"],
        },
        "loop": {
            "step": tm["step"],
            "epoch": tm["epoch"],
            "diverged": tm["diverged"],
            "history": tm.get("history", []),
        },
        "rng": tm["rng"],
        "resets": tm["resets"],
        "initial_loss": tm["initial_loss"],
    }
