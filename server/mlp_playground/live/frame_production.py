"""Frames: decided and prepared on the worker thread, rendered on the frame thread.

A small net's frame is rendered on the worker itself (``INLINE_FRAME_MACS``): its NumPy
calls are too short to release the GIL for long, so handing it to the frame thread only
made the two threads trade the GIL (bench/profile_loop.py, 55 sessions of 2-8-8-2 at the
page's pace: worst frames/s 12.6 and 11.6 -> 14.7 and 13.4, server CPU per frame -14 %).
A larger one still goes to the frame thread, so that its long grid pass overlaps the
other sessions' training.

``FrameProducer`` (worker side) decides that a frame is due, computes its numbers on the
trainer (metrics, and the rate-limited stats and transform), copies the weights into a
private replica and hands a ``FrameJob`` to the frame thread. ``FrameJob`` (frame thread
side) runs the grid passes on that replica, encodes the binary frames and delivers them,
unless a command came meanwhile: then it drops them and asks for a fresh frame, so nothing
older than an event or a config change reaches a client after it. At most one job per
session is in flight (``pending``).

The session is seen through ``FrameSource``, the part of ``session.LiveSession`` the frames
read: the session holds its producer, so this module does not import it back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mlp_playground.data.grid import grid_points
from mlp_playground.live import frames
from mlp_playground.live.outgoing import (
    Output,
    dumps,
    metrics_message,
    stats_message,
    transform_message,
)
from mlp_playground.live.pacing import Pacer, Throttle
from mlp_playground.live.state import SessionState, Subscription
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.predictor import mc_predict
from mlp_playground.training.trainer import Trainer

STATS_INTERVAL = 0.25  # at most 4 stats messages a second
STATS_MAX_POINTS = 512  # layer statistics on a bounded sample of the training points
TRANSFORM_INTERVAL = 0.1  # at most 10 transform messages a second
MC_WORK_BUDGET = 2e8  # multiply-adds of one frame's MC-dropout passes (~40 ms)
MC_MIN_RESOLUTION = 16  # a big net's MC grid is coarser, never below this
#: A frame whose grid passes take at most this many multiply-adds (weights x grid points;
#: a 2-8-8-2 net on a 100x100 grid is ~1e6, ~0.2 ms) is rendered on the worker.
INLINE_FRAME_MACS = 4e6


def weight_count(model: Any) -> int:
    """The net's weights (biases aside): the multiply-adds of one point's forward pass."""
    return sum(p.size for name, p in model.params.items() if name.endswith(".W"))


class FrameSource(Protocol):
    """What frames need of a live session (``session.LiveSession`` is the one there is)."""

    id: str
    #: Bumped by every command; a frame of an older generation is dropped.
    generation: int
    closed: bool
    class_code: str | None
    thumbnails: Any  # the class's ThumbnailSink (classroom), or None
    state: SessionState
    pacer: Pacer
    frames: FrameProducer
    wake: Callable[[], None]

    @property
    def trainer(self) -> Trainer: ...

    @property
    def config(self) -> TrainConfig: ...

    @property
    def running(self) -> bool: ...

    def has_audience(self) -> bool: ...

    def deliver(self, outputs: list[Output]) -> None: ...


class FrameProducer:
    """A session's frames, worker side: when, what, and from which copy of the weights."""

    def __init__(self) -> None:
        self.dirty = True  # the model changed since the last frame
        self.pending = False  # a job is on the frame thread
        #: Set by the scheduler: hands a FrameJob to the frame thread (None: run inline).
        self.submit: Callable[[FrameJob], None] | None = None
        self.throttles = {
            "units": Throttle(),
            "stats": Throttle(),
            "transform": Throttle(),
            "thumbnail": Throttle(),  # a classroom student's kind 5 frame for the teacher
        }
        #: A student's last metrics + parameter count, for the class roster (the loop reads
        #: this reference; the worker replaces it, never mutates it).
        self.published: dict[str, Any] | None = None
        self._thumbnail_epoch = -1
        self._input_cache: dict[tuple, tuple[Any, np.ndarray]] = {}
        self._replica_model: Any = None
        self._replica_key: tuple | None = None

    def reset_throttles(self) -> None:
        """Every extra is due at once (a new subscription)."""
        for throttle in self.throttles.values():
            throttle.reset()

    def maybe_emit(self, session: FrameSource, now: float, force: bool = False) -> None:
        """Worker: start a frame (+ metrics, unit grids, stats) if one is due.

        The numbers (metrics, stats) are computed here, on the trainer; the grid pass and
        the encoding run on the frame thread from a private replica of the weights, so the
        training thread is not held up by them (NumPy releases the GIL in the large grid
        arrays, so the two threads overlap). The producer keeps no reference to its session
        (it is given it), so a dropped session is freed at once, not by the cyclic GC.
        """
        pacer = session.pacer
        if self.pending or not (self.dirty or force) or now < pacer.next_frame:
            return
        if not session.has_audience():
            return
        sub = session.state.subscription
        pacer.advance_frame_clock(now, sub.fps)
        self.dirty = False
        polls = self._poll_extras(session, now, sub)
        job = self._job(session, sub, polls)
        self.pending = True
        if "owed" in polls.values():
            self.dirty = True
            if not session.running and not pacer.pending_steps:
                due = [t.next for name, t in self.throttles.items() if polls.get(name) == "owed"]
                pacer.hold_for_owed(min(due))
        if self.submit is None or job.grid_macs() <= INLINE_FRAME_MACS:
            job.run()
        else:
            self.submit(job)

    def _poll_extras(self, session: FrameSource, now: float, sub: Subscription) -> dict[str, str]:
        """Which rate-limited extras this frame carries: "send", "owed" or "skip" each."""
        state = (session.generation, session.trainer.step)
        polls = {}
        if sub.neurons:
            polls["units"] = self.throttles["units"].poll(
                now, state, 1.0 / sub.neuron_fps if sub.neuron_fps else 0.0
            )
        if sub.stats:
            polls["stats"] = self.throttles["stats"].poll(now, state, STATS_INTERVAL)
        if sub.transform is not None:
            polls["transform"] = self.throttles["transform"].poll(now, state, TRANSFORM_INTERVAL)
        sink = session.thumbnails
        if sink is not None and sink.active:
            if sink.epoch != self._thumbnail_epoch:  # a teacher (re)subscribed: due at once
                self._thumbnail_epoch = sink.epoch
                self.throttles["thumbnail"].reset()
            interval = 1.0 / sink.subscription.fps
            polls["thumbnail"] = self.throttles["thumbnail"].poll(now, state, interval)
        return polls

    def _job(self, session: FrameSource, sub: Subscription, polls: dict[str, str]) -> FrameJob:
        """Worker: the frame's numbers, now, and its grid work for the frame thread."""
        trainer, config = session.trainer, session.config
        units = polls.get("units") == "send"
        stats = None
        if polls.get("stats") == "send":
            stats = dumps(stats_message(trainer, STATS_MAX_POINTS))
        transform = None
        if polls.get("transform") == "send" and sub.transform is not None:
            msg = transform_message(trainer, sub.transform)
            transform = dumps(msg) if msg is not None else None
        passes, mc_resolution = self._mc_plan(trainer.model, config.prediction, sub)
        separate = units and sub.neuron_resolution != sub.grid_resolution
        metrics = self._metrics(session)
        thumbnail = 0
        if session.class_code is not None:
            self.published = {**metrics, "parameters": trainer.parameter_count()}
            sink = session.thumbnails
            if polls.get("thumbnail") == "send" and sink is not None:
                thumbnail = sink.subscription.resolution
        return FrameJob(
            session=session,
            generation=session.generation,
            step=trainer.step,
            subscription=sub,
            units=units,
            model=self._replica(trainer.model),
            grid_inputs=self._inputs(trainer, sub.grid_resolution),
            unit_inputs=self._inputs(trainer, sub.neuron_resolution) if separate else None,
            metrics=dumps(metrics),
            stats=stats,
            regression=trainer.data.regression,
            mc_passes=passes,
            mc_inputs=self._inputs(trainer, mc_resolution) if passes else None,
            mc_mean=config.prediction["mode"] == "mc_dropout",
            transform=transform,
            thumbnail_inputs=self._inputs(trainer, thumbnail) if thumbnail else None,
            thumbnail_resolution=thumbnail,
        )

    @staticmethod
    def _metrics(session: FrameSource) -> dict[str, Any]:
        m = session.trainer.evaluate()
        rate = session.pacer.measure_rate(time.monotonic(), session.trainer.step, session.running)
        return metrics_message(session.trainer, m, rate, session.running)

    @staticmethod
    def _mc_plan(model: Any, pred: dict[str, Any], sub: Subscription) -> tuple[int, int]:
        """(passes, grid resolution) of this frame's MC-dropout passes; (0, 0) for none
        (no dropout, or neither mc_dropout mode nor the uncertainty map wanted)."""
        if model.dropout <= 0 or not (pred["mode"] == "mc_dropout" or sub.uncertainty):
            return 0, 0
        macs = weight_count(model)
        passes = int(pred["passes"])
        fit = math.isqrt(int(MC_WORK_BUDGET // max(passes * macs, 1)))
        return passes, min(sub.grid_resolution, max(MC_MIN_RESOLUTION, fit))

    def _replica(self, model: Any) -> Any:
        """A private copy of the model for the frame thread, refreshed in one buffer copy.

        Rebuilt only when the structure changes (units, layers, activations, inputs).
        """
        key = (
            model.n_inputs,
            tuple(model.hidden_layers),
            tuple(model.activations),
            model.n_outputs,
        )
        if self._replica_key != key or self._replica_model is None:
            self._replica_model = model.copy()
            self._replica_key = key
        else:
            self._replica_model.params.flat[...] = model.params.flat
        if self._replica_model.dropout != model.dropout:
            self._replica_model.dropout = model.dropout
        return self._replica_model

    def _inputs(self, trainer: Trainer, resolution: int) -> np.ndarray:
        """The grid's network inputs (features, normalised), cached while they cannot change.

        They depend on the domain, the resolution, the features and the normalisation, and
        the trainer replaces (never mutates) its normalisation when it refits it.
        """
        norm = trainer.normalization
        key = (tuple(trainer.data.domain), resolution, tuple(trainer.features), id(norm))
        cached = self._input_cache.get(key)
        if cached is None or cached[0] is not norm:
            if len(self._input_cache) > 4:
                self._input_cache.clear()
            points = grid_points(key[0], resolution)
            cached = self._input_cache[key] = (norm, trainer.inputs(points))
        return cached[1]

    # --- frame thread ---------------------------------------------------------------------

    def finish(self, session: FrameSource, job: FrameJob, out: list[Output]) -> None:
        """Frame thread: deliver a rendered frame, or drop it if a command came since."""
        if session.generation == job.generation and not session.closed:
            session.deliver(out)
            sink = session.thumbnails
            if job.thumbnail is not None and sink is not None:
                sink.deliver(session.id, job.thumbnail)
            return
        # A command changed things meanwhile: send a fresh frame instead.
        session.pacer.next_frame = 0.0
        sent = {
            "units": job.units,
            "stats": job.stats is not None,
            "transform": job.transform is not None,
            "thumbnail": job.thumbnail_inputs is not None,
        }
        for name, throttle in self.throttles.items():
            if sent[name]:
                throttle.reset()
        self.dirty = True

    def done(self, session: FrameSource) -> None:
        """Frame thread: the job is over (delivered, dropped or failed); wake the worker."""
        self.pending = False
        session.wake()


@dataclass
class FrameJob:
    """One frame's work for the frame thread: a grid pass on a weight replica, encoding."""

    session: FrameSource
    generation: int
    step: int
    subscription: Subscription
    model: Any
    units: bool  # unit grids (kind 2) go out with this frame
    grid_inputs: np.ndarray
    unit_inputs: np.ndarray | None
    metrics: str
    stats: str | None
    regression: bool = False
    mc_passes: int = 0  # > 0: MC-dropout passes on mc_inputs (a grid, maybe coarser)
    mc_inputs: np.ndarray | None = None
    mc_mean: bool = False  # prediction mode mc_dropout: the decision frame shows the MC mean
    transform: str | None = None
    thumbnail_inputs: np.ndarray | None = None  # a classroom thumbnail's grid (kind 5)
    thumbnail_resolution: int = 0
    thumbnail: bytes | None = None  # set by render

    @property
    def session_id(self) -> str:
        return self.session.id

    def grid_macs(self) -> float:
        """Multiply-adds of this frame's grid passes (weights x points, MC passes included)."""
        weights = weight_count(self.model)
        points = sum(
            0 if x is None else x.shape[0]
            for x in (self.grid_inputs, self.unit_inputs, self.thumbnail_inputs)
        )
        if self.mc_passes and self.mc_inputs is not None:
            points += self.mc_passes * self.mc_inputs.shape[0]
        return float(weights * points)

    def run(self) -> None:
        """Frame thread: compute, encode and deliver (or drop if a command came since)."""
        producer = self.session.frames
        try:
            producer.finish(self.session, self, self.render())
        finally:
            producer.done(self.session)

    def render(self) -> list[Output]:
        """The frame's payloads, pictures first, then the numbers of the same step."""
        sub = self.subscription
        n = sub.grid_resolution**2
        X = self.grid_inputs
        if self.unit_inputs is not None:
            X = np.concatenate([X, self.unit_inputs])
        with np.errstate(all="ignore"):  # huge weights just before a divergence
            proba, hidden = self.model.predict_proba_and_hidden(
                X, dtype=np.float32, hidden=self.units
            )
            mean, std = self._mc(sub.grid_resolution) if self.mc_passes else (None, None)
            if self.regression:
                if self.mc_mean and mean is not None:
                    values = mean[:, 0]
                else:
                    values = self.model.forward(self.grid_inputs)[:, 0]
                decision = frames.encode_regression_frame(self.step, sub.grid_resolution, values)
            else:
                p = mean if self.mc_mean and mean is not None else proba[:n]
                decision = frames.encode_decision_frame(self.step, sub.grid_resolution, p)
            out: list[Output] = [(None, decision, "frame")]
            if sub.uncertainty:
                if std is None:
                    std = np.zeros((n, 1))
                spread = frames.encode_uncertainty_frame(self.step, sub.grid_resolution, std)
                out.append((None, spread, "uncertainty"))
            if self.units:
                units = [h[n:] for h in hidden] if self.unit_inputs is not None else hidden
                grids = frames.encode_units_frame(self.step, sub.neuron_resolution, units)
                out.append((None, grids, "units"))
            if self.thumbnail_inputs is not None:
                self.thumbnail = self._thumbnail(self.thumbnail_inputs)
        # Deflated here, once, off the event loop (frames.Deflated says why).
        out = [
            (target, frames.predeflate(p) if isinstance(p, bytes) else p, slot)
            for target, p, slot in out
        ]
        out.append((None, self.metrics, "metrics"))
        if self.stats is not None:
            out.append((None, self.stats, "stats"))
        if self.transform is not None:
            out.append((None, self.transform, "transform"))
        return out

    def _thumbnail(self, X: np.ndarray) -> bytes:
        """A classroom thumbnail (kind 5) of this step: its own small grid pass."""
        res, sid = self.thumbnail_resolution, self.session.id
        if self.regression:
            values = self.model.forward(X)[:, 0]
            return frames.encode_thumbnail_frame(self.step, res, sid, values=values)
        proba = self.model.predict_proba(X, dtype=np.float32)
        return frames.encode_thumbnail_frame(self.step, res, sid, proba)

    def _mc(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """MC-dropout mean and std, upsampled (nearest cell) to ``resolution``."""
        assert self.mc_inputs is not None  # set whenever mc_passes > 0
        mean, std = mc_predict(self.model, self.mc_inputs, self.mc_passes, self.regression)
        m = math.isqrt(self.mc_inputs.shape[0])
        if m != resolution:
            idx = np.arange(resolution) * m // resolution
            cells = (idx[:, None] * m + idx[None, :]).ravel()
            mean, std = mean[cells], std[cells]
        return mean, std
