"""One live training run: a Trainer, its subscription, its connections and its command queue.

Threading contract (why it is safe without a lock around the trainer): the scheduler's
worker thread is the only thread that touches ``self.trainer``. The event loop never calls
the trainer; it appends validated commands to ``self.commands`` (a deque, whose append and
popleft are atomic) and wakes the worker. The worker applies every queued command between
two ``run_steps`` chunks, so an edit always lands between two optimiser steps. Results go
back to the loop with ``loop.call_soon_threadsafe`` as ready-to-send payloads (JSON text is
encoded in the worker, off the loop), and the loop fans them out to the connections.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlp_playground.config import Settings
from mlp_playground.grid import grid_points
from mlp_playground.live import frames
from mlp_playground.live.connection import READY, Connection
from mlp_playground.live.messages import ClientMessage, ProtocolError
from mlp_playground.training import (
    ConfigError,
    Predictor,
    TrainConfig,
    Trainer,
    check_model_shape,
    mc_predict,
)

log = logging.getLogger("mlp_playground.live")

#: The page's starting point (TensorFlow Playground's): a small net on the circle data.
LIVE_DEFAULTS: dict[str, Any] = {
    "dataset": {"name": "circle", "n_points": 400, "noise": 0.1, "classes": 2, "seed": 0},
    "validation_split": 0.3,
    "network": {
        "hidden_layers": [4, 2],
        "activation": "tanh",
        "init": "xavier",
        "dropout": 0.0,
        "features": ["x1", "x2"],
        "normalize": True,
    },
    "loss": "cross_entropy",
    "regularization": {"kind": "none", "strength": 0.0},
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
    "shuffle": True,
    "seed": 0,
}
#: Keys of TrainConfig.to_dict() that a live session shows in ``config`` messages.
CONFIG_KEYS = (
    "dataset",
    "validation_split",
    "network",
    "loss",
    "regularization",
    "optimizer",
    "batch_size",
    "shuffle",
    "seed",
    "speed",
    "schedule",
    "stop",
    "prediction",
)
MIN_SLICE = 0.001  # seconds of training a turn gets even when its frame is overdue
EMPTY_RETRY = 0.1  # seconds between attempts to train a session without training points
STATS_INTERVAL = 0.25  # at most 4 stats messages a second
STATS_MAX_POINTS = 512  # layer statistics on a bounded sample of the training points
TRANSFORM_INTERVAL = 0.1  # at most 10 transform messages a second
GRADCHECK_MAX_PER_PARAMETER = 10  # entries checked per tensor (docs/instruments.md)
MC_WORK_BUDGET = 2e8  # multiply-adds of one frame's MC-dropout passes (~40 ms)
MC_MIN_RESOLUTION = 16  # a big net's MC grid is coarser, never below this


class Throttle:
    """A rate-limited extra of the frames (unit grids, stats, transform).

    It goes out at most once per ``interval`` seconds, and only when the model changed
    since it last went out. One skipped by the rate although the model changed is *owed*:
    the session stays dirty until a frame carries it, so a paused session never keeps a
    stale picture after a quick edit. The model's state is (generation, step): training
    steps and commands both change it.
    """

    def __init__(self) -> None:
        self.next = 0.0
        self.sent_for: tuple[int, int] | None = None

    def poll(self, now: float, state: tuple[int, int], interval: float) -> str:
        """ "send" (and count it sent), "owed" or "skip" (nothing new to show)."""
        if self.sent_for == state:
            return "skip"
        if now < self.next:
            return "owed"
        self.next = now + interval
        self.sent_for = state
        return "send"

    def reset(self) -> None:
        """Due at once (a new subscription, or a frame that carried it was dropped)."""
        self.next = 0.0
        self.sent_for = None


@dataclass(frozen=True)
class Subscription:
    """What a session streams; replaced as a whole so the worker reads it atomically."""

    grid_resolution: int = 100
    fps: float = 30.0
    neurons: bool = False
    neuron_resolution: int = 24
    neuron_fps: float | None = None  # unit grids a second; None: with every frame
    stats: bool = False
    uncertainty: bool = False
    transform: dict | None = None  # {"layer": i, "units": [a, b], "mesh": n}


def _finite(value: Any) -> float | None:
    """JSON has no NaN/inf: a non-finite number is sent as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(obj: Any) -> Any:
    """Nested structure with numpy scalars as Python numbers and non-finite floats as null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite(obj)
    return obj


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


Output = tuple[Connection | None, str | bytes, str | None]  # (target or all, payload, slot)


class LiveSession:
    """A live run. Worker-thread methods are marked; everything else runs on the loop."""

    def __init__(
        self,
        session_id: str,
        watch_token: str,
        settings: Settings,
        deliver: Callable[[LiveSession, list[Output]], None],
        wake: Callable[[], None],
    ) -> None:
        self.id = session_id
        self.watch_token = watch_token
        self.settings = settings
        self._deliver = deliver
        self._wake = wake
        self.limits = {**settings.limits(), "max_points_train": settings.max_live_points}
        self.config: TrainConfig = TrainConfig.from_dict(LIVE_DEFAULTS, self.limits)
        # No per-epoch history: a live run can go on for hours; metrics are streamed instead.
        self.trainer = Trainer(self.config, record_history=False, limits=self.limits)
        self.running = False
        self.pending_steps = 0
        self.subscription = Subscription()
        self.commands: deque[tuple[Connection | None, ClientMessage]] = deque()
        self.owner: Connection | None = None
        self.watchers: set[Connection] = set()
        now = time.monotonic()
        self.created = now
        self.last_activity = now
        self.orphaned_at: float | None = now
        self.closed = False
        # Worker-thread state.
        self.dirty = True  # the model changed since the last frame
        self.next_frame = 0.0
        self.throttles = {"units": Throttle(), "stats": Throttle(), "transform": Throttle()}
        self.waiting_for_owed = False  # next_frame was pushed to an owed extra's due time
        self.seconds_per_step = 0.0  # running estimate, 0 = unknown
        self.speed_base = (now, 0)  # (time, step) from which a numeric speed is counted
        self.rate_window: deque[tuple[float, int]] = deque(maxlen=64)
        self.steps_per_second = 0.0
        self.idle_until = 0.0  # no training points: do not spin on empty slices
        self._input_cache: dict[tuple, tuple[Any, np.ndarray]] = {}
        self._replica_model: Any = None
        self._replica_key: tuple | None = None
        #: Set by the scheduler: hands a FrameJob to the frame thread (None: run inline).
        self.submit_frame: Callable[[FrameJob], None] | None = None
        self.frame_pending = False
        #: Bumped by every command: a frame started before a command is dropped, so nothing
        #: older than an event or a config change reaches a client after it.
        self.generation = 0

    # --- loop side ------------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        return ([self.owner] if self.owner else []) + list(self.watchers)

    def submit(
        self, conn: Connection | None, message: ClientMessage, activity: bool = True
    ) -> None:
        """Queue a validated message for the worker (loop thread); the owner's keep it alive."""
        if activity:
            self.last_activity = time.monotonic()
        self.commands.append((conn, message))
        self._wake()

    def request_load_model(self, doc: dict) -> Future:
        """Loop/REST thread: queue a model document for the worker; the future gets the new
        config or the ConfigError that refused the document."""
        done: Future = Future()
        self.submit(None, ClientMessage("load_model", {"model": doc, "done": done}))
        return done

    def hello(self, role: str, resumed: bool = False) -> str:
        """The greeting: ids, the effective config and the limits."""
        msg: dict[str, Any] = {
            "type": "hello",
            "role": role,
            "watch_token": self.watch_token,
            "config": self.config_dict(),
            "limits": self.settings.limits(),
            "running": self.running,
            "subscription": self.subscription.__dict__,
        }
        if role == "owner":
            msg = {
                "type": "hello",
                "session_id": self.id,
                **{k: v for k, v in msg.items() if k != "type"},
            }
            msg["resumed"] = resumed
        return dumps(msg)

    @property
    def speed(self) -> float | str:
        return self.config.speed

    def config_dict(self) -> dict[str, Any]:
        full = self.config.to_dict()
        return {k: full[k] for k in CONFIG_KEYS if k in full}

    # --- worker side ----------------------------------------------------------------------

    def wants_steps(self, now: float) -> bool:
        """Worker: whether this session has optimiser steps to run now."""
        if now < self.idle_until:
            return False
        if self.pending_steps > 0:
            return True
        if not self.running:
            return False
        return self.speed == "max" or self._owed_steps(now) >= 1

    def next_step_time(self) -> float:
        """Worker: when a numerically paced session next owes a step."""
        t0, s0 = self.speed_base
        return t0 + (self.trainer.step - s0 + 1) / float(self.speed)

    def _owed_steps(self, now: float) -> int:
        t0, s0 = self.speed_base
        owed = int((now - t0) * float(self.speed)) - (self.trainer.step - s0)
        if owed > float(self.speed) * 0.25:  # fell behind: do not burst to catch up
            self.speed_base = (now - 0.25, self.trainer.step)
            owed = int(float(self.speed) * 0.25)
        return owed

    def run_slice(self, budget: float) -> None:
        """Worker: run optimiser steps for about ``budget`` seconds (at least one step).

        Steps run in chunks sized from the measured time per step, and never past the next
        frame's due time, so frames keep their cadence whatever the net's size.
        """
        start = time.perf_counter()
        now = time.monotonic()
        # Stop at the next frame's due time, but always train for a minimum slice: when the
        # worker is overloaded frames are always overdue, and one step per turn would starve
        # training (measured: 30 sessions at 1 step/s).
        deadline = start + max(min(budget, MIN_SLICE), min(budget, self.next_frame - now))
        while True:
            remaining = deadline - time.perf_counter()
            k = max(1, int(remaining / self.seconds_per_step)) if self.seconds_per_step > 0 else 1
            if self.pending_steps > 0:
                k = min(k, self.pending_steps)
            elif self.speed != "max":
                k = min(k, self._owed_steps(time.monotonic()))
                if k < 1:
                    break
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):  # overflow is reported as a diverged event
                result = self.trainer.run_steps(k)
            dt = time.perf_counter() - t0
            done = max(result.steps_done, 0)
            if done:
                per = dt / done
                self.seconds_per_step = (
                    per if self.seconds_per_step == 0 else 0.8 * self.seconds_per_step + 0.2 * per
                )
                self.dirty = True
            if self.pending_steps > 0:
                self.pending_steps = max(0, self.pending_steps - max(done, 1))
            if result.diverged:
                self._diverged()
                break
            if result.stopped is not None:
                self._stopped(result.stopped)
                break
            if done == 0:  # nothing to train on (every point removed): look again later
                self.idle_until = time.monotonic() + EMPTY_RETRY
                self.pending_steps = 0
                break
            if (
                done == 0
                or time.perf_counter() >= deadline
                or not self.wants_steps(time.monotonic())
            ):
                break

    def _diverged(self) -> None:
        self.running = False
        self.pending_steps = 0
        self.dirty = True
        step = self.trainer.step
        lr = self.trainer.optimizer.hparams.get("learning_rate", float("nan"))
        self._send(
            None,
            {
                "type": "event",
                "event": "diverged",
                "step": step,
                "learning_rate": _finite(lr),
                "message": (
                    f"training diverged at step {step} with learning rate {lr:g}; "
                    "weights rolled back, paused"
                ),
                "running": False,
            },
        )

    def _stopped(self, condition: str) -> None:
        """Worker: a ``config.stop`` condition was met at an epoch's end: pause and say which."""
        self.running = False
        self.pending_steps = 0
        stop = self.config.stop
        what = {
            "epochs": f"{self.trainer.epoch} epochs done",
            "validation_loss": f"validation loss <= {stop['validation_loss']}",
            "validation_accuracy": f"validation accuracy >= {stop['validation_accuracy']}",
        }[condition]
        self._send(
            None,
            {
                "type": "event",
                "event": "stopped",
                "condition": condition,
                "step": self.trainer.step,
                "epoch": self.trainer.epoch,
                "message": f"stopped: {what}; paused",
                "running": False,
            },
        )
        self.dirty = True  # after the event, so the paused metrics follow it

    def reset_message(self) -> dict[str, Any]:
        """Worker: the ``reset`` event with the initial-loss check (docs/instruments.md)."""
        report = self.trainer.initial_loss_report()
        initial, expected, ok = (
            report["initial_loss"],
            report["expected_initial_loss"],
            report["initial_loss_ok"],
        )
        if expected is None or initial is None:
            message = "weights initialised" + (
                f"; initial loss {initial:.4g}" if initial is not None else ""
            )
        elif ok:
            message = f"initial loss {initial:.4g} is close to the expected {expected:.4g}"
        elif initial > expected:
            message = (
                f"initial loss {initial:.4g} is well above the expected {expected:.4g}: "
                "weights too large, the network is confidently wrong before learning"
            )
        else:
            message = (
                f"initial loss {initial:.4g} is below the expected {expected:.4g}: "
                "the network already favours the right classes (a warm start?)"
            )
        return {
            "type": "event",
            "event": "reset",
            "step": self.trainer.step,
            **report,
            "message": message,
            "running": self.running,
        }

    def transform_message(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Worker: the mesh over the domain and the data points seen by two hidden units.

        None when the network no longer has that layer or unit (it was reshaped).
        """
        trainer = self.trainer
        model = trainer.model
        layer, (a, b), size = spec["layer"], spec["units"], spec["mesh"]
        hidden = model.hidden_layers
        if layer >= len(hidden) or max(a, b) >= hidden[layer]:
            return None
        x1_min, x1_max, x2_min, x2_max = trainer.data.domain
        u, v = np.meshgrid(np.linspace(x1_min, x1_max, size), np.linspace(x2_max, x2_min, size))
        mesh = np.column_stack([u.ravel(), v.ravel()])
        X = np.concatenate([mesh, np.asarray(trainer.data.X, dtype=np.float64)])
        with np.errstate(all="ignore"):
            H = model.hidden_outputs(trainer._inputs(X))[layer][:, [a, b]]
        return {
            "type": "transform",
            "step": trainer.step,
            "layer": layer,
            "units": [a, b],
            "mesh": {"size": size, "points": _clean(H[: size * size])},
            "points": _clean(H[size * size :]),
        }

    def _mc_plan(self, sub: Subscription) -> tuple[int, int]:
        """Worker: (passes, grid resolution) of this frame's MC-dropout passes; (0, 0) for
        none (no dropout, or neither mc_dropout mode nor the uncertainty map wanted)."""
        model = self.trainer.model
        pred = self.config.prediction
        if model.dropout <= 0 or not (pred["mode"] == "mc_dropout" or sub.uncertainty):
            return 0, 0
        macs = sum(p.size for name, p in model.params.items() if name.endswith(".W"))
        passes = int(pred["passes"])
        fit = math.isqrt(int(MC_WORK_BUDGET // max(passes * macs, 1)))
        return passes, min(sub.grid_resolution, max(MC_MIN_RESOLUTION, fit))

    def maybe_emit(self, now: float, force: bool = False) -> None:
        """Worker: start a frame (+ metrics, unit grids, stats) if one is due.

        The numbers (metrics, stats) are computed here, on the trainer; the grid pass and
        the encoding run on the frame thread from a private replica of the weights, so the
        training thread is not held up by them (NumPy releases the GIL in the large grid
        arrays, so the two threads overlap). At most one frame per session is in flight.
        """
        if self.frame_pending or not (self.dirty or force) or now < self.next_frame:
            return
        if self.owner is None and not self.watchers:
            return
        sub = self.subscription
        period = 1.0 / sub.fps
        self.next_frame = max(self.next_frame + period, now) if self.next_frame else now + period
        if self.next_frame - now > period:
            self.next_frame = now + period
        self.dirty = False
        # Unit grids, stats and transform are rate-limited extras (see Throttle).
        state = (self.generation, self.trainer.step)
        polls = {}
        if sub.neurons:
            polls["units"] = self.throttles["units"].poll(
                now, state, 1.0 / sub.neuron_fps if sub.neuron_fps else 0.0
            )
        if sub.stats:
            polls["stats"] = self.throttles["stats"].poll(now, state, STATS_INTERVAL)
        if sub.transform is not None:
            polls["transform"] = self.throttles["transform"].poll(now, state, TRANSFORM_INTERVAL)
        owed = "owed" in polls.values()
        units = polls.get("units") == "send"
        stats = dumps(self.stats()) if polls.get("stats") == "send" else None
        transform = None
        if polls.get("transform") == "send":
            msg = self.transform_message(sub.transform)
            transform = dumps(msg) if msg is not None else None
        passes, mc_resolution = self._mc_plan(sub)
        separate = units and sub.neuron_resolution != sub.grid_resolution
        job = FrameJob(
            session=self,
            generation=self.generation,
            step=self.trainer.step,
            subscription=sub,
            units=units,
            model=self._replica(),
            grid_inputs=self._inputs(sub.grid_resolution),
            unit_inputs=self._inputs(sub.neuron_resolution) if separate else None,
            metrics=dumps(self.metrics()),
            stats=stats,
            regression=self.trainer.data.regression,
            mc_passes=passes,
            mc_inputs=self._inputs(mc_resolution) if passes else None,
            mc_mean=self.config.prediction["mode"] == "mc_dropout",
            transform=transform,
        )
        self.frame_pending = True
        if owed:
            self.dirty = True
            if not self.running and not self.pending_steps:
                # Paused: the next frame can wait for the first owed extra to be due
                # (otherwise the same picture would go out at every tick until then).
                due = [t.next for name, t in self.throttles.items() if polls.get(name) == "owed"]
                self.next_frame = max(self.next_frame, min(due))
                self.waiting_for_owed = True
        if self.submit_frame is None:
            job.run()
        else:
            self.submit_frame(job)

    def _replica(self) -> Any:
        """A private copy of the model for the frame thread, refreshed in one buffer copy.

        Rebuilt only when the structure changes (units, layers, activations, inputs).
        """
        model = self.trainer.model
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

    def _inputs(self, resolution: int) -> np.ndarray:
        """The grid's network inputs (features, normalised), cached while they cannot change.

        They depend on the domain, the resolution, the features and the normalisation, and
        the trainer replaces (never mutates) its normalisation when it refits it.
        """
        trainer = self.trainer
        norm = trainer.normalization
        key = (tuple(trainer.data.domain), resolution, tuple(trainer.features), id(norm))
        cached = self._input_cache.get(key)
        if cached is None or cached[0] is not norm:
            if len(self._input_cache) > 4:
                self._input_cache.clear()
            points = grid_points(key[0], resolution)
            cached = self._input_cache[key] = (norm, trainer._inputs(points))
        return cached[1]

    def metrics(self) -> dict[str, Any]:
        m = self.trainer.evaluate()
        now = time.monotonic()
        step = self.trainer.step
        self.rate_window.append((now, step))
        while len(self.rate_window) > 2 and now - self.rate_window[0][0] > 1.0:
            self.rate_window.popleft()
        t0, s0 = self.rate_window[0]
        if now > t0 and step >= s0:
            self.steps_per_second = (step - s0) / (now - t0) if self.running or step > s0 else 0.0
        lr = self.trainer.learning_rate  # the schedule's current rate
        return {
            "type": "metrics",
            "step": step,
            "epoch": self.trainer.epoch,
            "train_loss": _finite(m.train_loss),
            "train_accuracy": _finite(m.train_accuracy),
            "validation_loss": _finite(m.validation_loss),
            "validation_accuracy": _finite(m.validation_accuracy),
            "data_loss": _finite(m.data_loss),
            "regularization_loss": _finite(m.regularization_loss),
            "steps_per_second": round(self.steps_per_second, 1),
            "learning_rate": _finite(lr),
            "running": self.running,
        }

    def stats(self) -> dict[str, Any]:
        layers = self.trainer.layer_stats(STATS_MAX_POINTS)
        return {"type": "stats", "step": self.trainer.step, "layers": _clean(layers)}

    def _send(self, target: Connection | None, msg: dict[str, Any]) -> None:
        self._deliver(self, [(target, dumps(msg), None)])

    def data_message(self) -> dict[str, Any]:
        d = self.trainer.data
        return {
            "type": "data",
            "points": np.asarray(d.X).tolist(),
            "labels": np.asarray(d.y).tolist(),
            "split": d.split_labels(),
            "classes": int(d.classes),
            "domain": [float(v) for v in d.domain],
        }

    def process_commands(self) -> bool:
        """Worker: apply every queued command; True if there was any."""
        did = False
        while self.commands:
            conn, msg = self.commands.popleft()
            did = True
            self.generation += 1
            if self.waiting_for_owed:  # an edit is shown at the next tick, not held back
                self.waiting_for_owed = False
                self.next_frame = 0.0
            resets = self.trainer.resets
            try:
                self._apply(conn, msg)
            except ProtocolError as exc:
                self._deliver(self, [(conn, dumps(exc.to_message(msg.type)), None)])
            except ConfigError as exc:
                where = f"config.{exc.field}" if msg.type == "configure" else exc.field
                err = ProtocolError("invalid_value", str(exc.message), where)
                self._deliver(self, [(conn, dumps(err.to_message(msg.type)), None)])
            except ValueError as exc:
                err = ProtocolError("invalid_value", str(exc))
                self._deliver(self, [(conn, dumps(err.to_message(msg.type)), None)])
            except Exception:  # a bug must not take the worker (and every session) down
                log.exception("session %s: %s failed", self.id, msg.type)
                err = ProtocolError("internal_error", f"{msg.type} failed on the server")
                self._deliver(self, [(conn, dumps(err.to_message(msg.type)), None)])
            if self.trainer.resets != resets:  # any re-initialisation is announced
                self._send(None, self.reset_message())
        return did

    # --- commands (worker) ----------------------------------------------------------------

    def _apply(self, conn: Connection | None, msg: ClientMessage) -> None:
        handler = getattr(self, f"_cmd_{msg.type}")
        handler(conn, **msg.args)

    def _broadcast_config(self, changed: set[str] | list[str]) -> None:
        self._send(
            None, {"type": "config", "config": self.config_dict(), "changed": sorted(changed)}
        )

    def _reconfigure(self, partial: dict[str, Any]) -> set[str]:
        new = self.config.merged(partial, self.limits)
        changed = set(self.trainer.reconfigure(new))
        self.idle_until = 0.0
        self.config = new
        self.dirty = True
        return changed

    def _cmd_configure(self, conn: Connection | None, config: dict) -> None:
        changed = self._reconfigure(config) if config else set()
        if "speed" in changed:
            self.speed_base = (time.monotonic(), self.trainer.step)
        self._broadcast_config(changed)
        if any(c.startswith(("dataset", "validation_split", "data")) for c in changed):
            self._send(None, self.data_message())

    def _cmd_play(self, conn: Connection | None) -> None:
        self.running = True
        self.speed_base = (time.monotonic(), self.trainer.step)
        self._send(
            None, {"type": "event", "event": "playing", "step": self.trainer.step, "running": True}
        )

    def _cmd_pause(self, conn: Connection | None) -> None:
        self.running = False
        self.pending_steps = 0
        self.dirty = True
        self._send(
            None, {"type": "event", "event": "paused", "step": self.trainer.step, "running": False}
        )

    def _cmd_step(self, conn: Connection | None, steps: int) -> None:
        self.pending_steps = min(self.pending_steps + steps, 10 * self.settings.max_step_message)

    def _cmd_reset(self, conn: Connection | None) -> None:
        self.trainer.reset()
        self.pending_steps = 0
        self.dirty = True
        self.rate_window.clear()
        # The reset event (with the initial-loss check) follows from process_commands.

    def _cmd_reseed(self, conn: Connection | None) -> None:
        changed = self._reconfigure({"seed": secrets.randbelow(2**31)})
        self._broadcast_config(changed | {"seed"})
        self._cmd_reset(conn)

    def _cmd_regenerate(self, conn: Connection | None) -> None:
        changed = self._reconfigure({"dataset": {"seed": secrets.randbelow(2**31)}})
        self._broadcast_config(changed)
        self._send(None, self.data_message())

    def _cmd_add_point(self, conn: Connection | None, point: tuple, label: int) -> None:
        self.idle_until = 0.0
        classes = int(self.trainer.data.classes)
        if label >= classes:
            raise ProtocolError(
                "invalid_value", f"label must be between 0 and {classes - 1}", "label"
            )
        if len(self.trainer.data.y) >= self.settings.max_live_points:
            raise ProtocolError(
                "invalid_value", f"at most {self.settings.max_live_points} points", "point"
            )
        self.trainer.add_point(point, label)
        self.dirty = True
        self._send(None, self.data_message())

    def _cmd_remove_point(self, conn: Connection | None, point: tuple, radius: float) -> None:
        if self.trainer.remove_point(point, radius) is None:
            raise ProtocolError(
                "not_found", f"no point within {radius:g} of ({point[0]:g}, {point[1]:g})", "point"
            )
        self.dirty = True
        self._send(None, self.data_message())

    def _cmd_clear_points(self, conn: Connection | None) -> None:
        self.trainer.set_data(np.zeros((0, 2)), np.zeros(0, dtype=np.int64))
        self.dirty = True
        self._send(None, self.data_message())

    def _cmd_set_data(
        self, conn: Connection | None, points: list, labels: list, classes: int | None = None
    ) -> None:
        self.idle_until = 0.0
        X = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        y = np.asarray(labels, dtype=np.int64)
        self.trainer.set_data(X, y, classes)  # a new class count re-initialises: reset event
        self.dirty = True
        self._send(None, self.data_message())

    def _cmd_set_weight(
        self, conn: Connection | None, parameter: str, index: tuple, value: float
    ) -> None:
        params = self.trainer.model.params
        if parameter not in params:
            raise ProtocolError(
                "invalid_value",
                f"unknown parameter {parameter!r}; parameters are {', '.join(params)}",
                "parameter",
            )
        array = params[parameter]
        if len(index) != array.ndim or any(
            not 0 <= i < n for i, n in zip(index, array.shape, strict=False)
        ):
            raise ProtocolError(
                "invalid_value", f"index must be within shape {list(array.shape)}", "index"
            )
        array[index] = value
        self.dirty = True

    def _cmd_subscribe(self, conn: Connection | None, **fields: Any) -> None:
        transform = fields.get("transform")
        if transform is not None:
            hidden = self.trainer.model.hidden_layers
            layer = transform["layer"]
            if layer >= len(hidden):
                raise ProtocolError(
                    "invalid_value",
                    f"layer must be a hidden layer index below {len(hidden)}, got {layer}",
                    "transform.layer",
                )
            if max(transform["units"]) >= hidden[layer]:
                raise ProtocolError(
                    "invalid_value",
                    f"hidden layer {layer} has {hidden[layer]} units: units must be below that",
                    "transform.units",
                )
        self.subscription = replace(self.subscription, **fields)
        self.next_frame = 0.0
        for throttle in self.throttles.values():
            throttle.reset()
        self.dirty = True

    def _cmd__data(self, conn: Connection | None) -> None:
        """A new connection's first data; a frame for it follows in the same turn."""
        self._deliver(self, [(conn, dumps(self.data_message()), READY)])
        self._send(conn, self.reset_message())  # the initial-loss check, after hello
        self.dirty = True
        self.next_frame = 0.0

    def _cmd_get_model(self, conn: Connection | None) -> None:
        self._send(conn, {"type": "model", "model": self.trainer.model_document()})

    def _cmd_load_model(
        self, conn: Connection | None, model: dict, done: Future | None = None
    ) -> None:
        """Replace the network by a model document: its shape, activations, features,
        normalisation, loss and weights (a re-initialisation from the document instead of
        the seed: step 0, fresh optimiser). The document is checked in full first, so a
        refused one leaves the session as it was. ``done`` (REST) gets the new config or
        the error instead of the connections."""
        if done is not None and not done.set_running_or_notify_cancel():
            return  # the REST caller gave up (and was told so): do not load behind its back
        try:
            self._load_model(model)
        except Exception as exc:
            if done is None:
                raise
            done.set_exception(exc)
            if not isinstance(exc, ConfigError):
                raise  # a bug: logged by process_commands as well
            return
        if done is not None:
            done.set_result(self.config_dict())

    def _load_model(self, doc: dict) -> None:
        trainer = self.trainer
        try:
            loaded = Predictor.from_document(doc)
        except ConfigError as exc:
            raise ConfigError("model", exc.message) from None
        check_model_shape("model", loaded.model, self.limits)
        n_out = 1 if trainer.data.regression else trainer.data.classes
        if loaded.model.n_outputs != n_out:
            what = "target" if trainer.data.regression else f"{n_out} classes"
            raise ConfigError(
                "model",
                f"the model has {loaded.model.n_outputs} outputs but the session's data has "
                f"{what}: change the classes first",
            )
        changed = {"network"}
        if loaded.loss and loaded.loss != self.config.loss:
            try:
                changed |= self._reconfigure({"loss": loaded.loss})
            except ConfigError as exc:
                raise ConfigError("model", f"the model's loss: {exc.message}") from None
        trainer.reset(initial_model=doc)
        self.config = trainer.config
        self.pending_steps = 0
        self.dirty = True
        self.rate_window.clear()
        self._broadcast_config(changed)
        # The reset event (with the initial-loss check) follows from process_commands.

    def _cmd_gradcheck(self, conn: Connection | None, points: int) -> None:
        """Backprop against centred differences on the first ``points`` training points,
        between two steps (sampled: at most 10 entries a tensor, under a second)."""
        reply = self.trainer.gradient_check(points, GRADCHECK_MAX_PER_PARAMETER)
        self._send(conn, {"type": "gradcheck", **reply, "step": self.trainer.step})


@dataclass
class FrameJob:
    """One frame's work for the frame thread: a grid pass on a weight replica, encoding."""

    session: LiveSession
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

    def _mc(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """MC-dropout mean and std, upsampled (nearest cell) to ``resolution``."""
        mean, std = mc_predict(self.model, self.mc_inputs, self.mc_passes, self.regression)
        m = math.isqrt(self.mc_inputs.shape[0])
        if m != resolution:
            idx = np.arange(resolution) * m // resolution
            cells = (idx[:, None] * m + idx[None, :]).ravel()
            mean, std = mean[cells], std[cells]
        return mean, std

    def run(self) -> None:
        """Frame thread: compute, encode and deliver (or drop if a command came since)."""
        session = self.session
        try:
            sub = self.subscription
            n = sub.grid_resolution**2
            X = self.grid_inputs
            if self.unit_inputs is not None:
                X = np.concatenate([X, self.unit_inputs])
            with np.errstate(all="ignore"):  # huge weights just before a divergence
                proba, hidden = self.model.predict_proba_and_hidden(
                    X, dtype=np.float32, hidden=self.units
                )
                mean = std = None
                if self.mc_passes:
                    mean, std = self._mc(sub.grid_resolution)
                if self.regression:
                    if self.mc_mean and mean is not None:
                        values = mean[:, 0]
                    else:
                        values = self.model.forward(self.grid_inputs)[:, 0]
                    decision = frames.encode_regression_frame(
                        self.step, sub.grid_resolution, values
                    )
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
            out.append((None, self.metrics, "metrics"))
            if self.stats is not None:
                out.append((None, self.stats, "stats"))
            if self.transform is not None:
                out.append((None, self.transform, "transform"))
            if session.generation == self.generation and not session.closed:
                session._deliver(session, out)
            else:  # a command changed things meanwhile: send a fresh frame instead
                session.next_frame = 0.0
                sent = {
                    "units": self.units,
                    "stats": self.stats is not None,
                    "transform": self.transform is not None,
                }
                for name, throttle in session.throttles.items():
                    if sent[name]:
                        throttle.reset()
                session.dirty = True
        finally:
            session.frame_pending = False
            session._wake()
