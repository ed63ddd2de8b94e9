"""One live training run: its state, its connections, its command queue and its worker turns.

Threading contract (why it is safe without a lock around the trainer): the scheduler's
worker thread is the only thread that touches ``self.trainer``. The event loop never calls
the trainer; it appends validated commands to ``self.commands`` (a deque, whose append and
popleft are atomic) and wakes the worker. The worker applies every queued command between
two ``run_steps`` chunks, so an edit always lands between two optimiser steps. Results go
back to the loop with ``loop.call_soon_threadsafe`` as ready-to-send payloads (JSON text is
encoded in the worker, off the loop), and the loop fans them out to the connections.

Who does what (docs/internals.md has the map): ``state.SessionState`` is what the session
is (what a snapshot keeps), ``commands``/``model_commands`` apply client messages,
``pacing.Pacer`` says when to step and when a frame is due, ``frame_production`` makes
the frames, ``outgoing`` builds the JSON messages. This class ties the state, the pacing
and the frames together; the worker (``scheduler``) applies the commands to it
(``commands.apply_queued``), which is why this module imports no command module.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from mlp_playground.config import Settings
from mlp_playground.live.command_costs import CommandCosts
from mlp_playground.live.connection import Connection
from mlp_playground.live.frame_production import FrameProducer
from mlp_playground.live.messages import ClientMessage
from mlp_playground.live.outgoing import (
    Output,
    config_message,
    diverged_event,
    dumps,
    state_event,
    stopped_event,
)
from mlp_playground.live.pacing import Pacer
from mlp_playground.live.state import SessionState, Subscription
from mlp_playground.training.config.train_config import TrainConfig
from mlp_playground.training.trainer import Trainer


def _nobody() -> bool:
    return False


def hash_resume_key(key: str) -> str:
    """The SHA-256 of a resume key: what snapshots and the cluster directory keep, so a
    leaked database or Redis dump resumes nobody's session."""
    return hashlib.sha256(key.encode()).hexdigest()


def resume_key_matches(key: str | None, stored_hash: str | None) -> bool:
    """Whether ``key`` is the one whose hash is ``stored_hash`` (constant time; a missing
    key or hash never matches)."""
    if not key or not stored_hash or len(key) > 256:
        return False
    return hmac.compare_digest(hash_resume_key(key), stored_hash)


class LiveSession:
    """A live run. Worker-thread methods are marked; everything else runs on the loop."""

    def __init__(
        self,
        session_id: str,
        watch_token: str,
        settings: Settings,
        deliver: Callable[[LiveSession, list[Output]], None],
        wake: Callable[[], None],
        resume_key: str | None = None,
        resume_hash: str | None = None,
    ) -> None:
        self.id = session_id  # public: rosters, kind 5 frames and logs show it
        self.watch_token = watch_token
        #: The owner's secret for resuming (``/ws?session=<id>&resume_key=<key>``): kept in
        #: memory to repeat it in the owner's hello; only its hash is ever written anywhere.
        self.resume_key = resume_key
        self.resume_hash = resume_hash or (hash_resume_key(resume_key) if resume_key else None)
        #: The client address that created the session (per-client session caps).
        self.client: str | None = None
        #: Which of that client's shares over every process (Redis) holds a place for it:
        #: "sessions", "students" (a class's student), or None (not counted there).
        self.share_kind: str | None = None
        self.settings = settings
        self._deliver = deliver
        #: Wakes the worker (a command was queued, a frame finished).
        self.wake = wake
        self.limits = {**settings.limits(), "max_points_train": settings.max_live_points}
        #: What the session is: config, trainer, running, subscription (a snapshot's content).
        self.state = SessionState.new(self.limits)
        self.commands: deque[tuple[Connection | None, ClientMessage]] = deque()
        #: What its commands may still cost the worker (live.command_costs).
        self.costs = CommandCosts()
        #: Bumped by every command: a frame started before a command is dropped, so nothing
        #: older than an event or a config change reaches a client after it.
        self.generation = 0
        self.owner: Connection | None = None
        self.watchers: set[Connection] = set()
        now = time.monotonic()
        self.created = now
        self.last_activity = now
        self.orphaned_at: float | None = now
        self.closed = False
        #: Classroom membership (mlp_playground.classroom), set on the loop when a student
        #: joins; kept by a resume, since it is the same object. ``thumbnails`` is the
        #: class's ThumbnailSink: the frame thread hands it this session's kind 5 frames.
        self.class_code: str | None = None
        self.student_name: str | None = None
        self.thumbnails: Any = None
        #: Durability (live.durable): where the worker hands a snapshot it took, and the
        #: state key of the last one (snapshot.state_key), so an unchanged state is not
        #: written again.
        self.snapshot_sink: Callable[[Any, bool], None] | None = None
        self.snapshot_key: tuple | None = None
        #: Whether a process elsewhere watches this session (set by the registry when the
        #: server is one of several sharing Redis): its frames are then still wanted.
        self.watched_elsewhere: Callable[[], bool] = _nobody
        #: Worker: hands the model to the other processes for ``/predict`` (cluster_link).
        self.model_offer: Callable[[LiveSession, bool], None] | None = None
        # Worker-thread machinery, rebuilt from the state rather than saved.
        self.pacer = Pacer(now)
        self.frames = FrameProducer()

    # --- the state, by its usual names ----------------------------------------------------

    @property
    def trainer(self) -> Trainer:
        return self.state.trainer

    @property
    def config(self) -> TrainConfig:
        return self.state.config

    @property
    def running(self) -> bool:
        return self.state.running

    @running.setter
    def running(self, value: bool) -> None:
        # The loop sets it to False on ``pause`` to end the running chunk early.
        self.state.running = value

    @property
    def subscription(self) -> Subscription:
        return self.state.subscription

    def config_dict(self) -> dict[str, Any]:
        return self.state.config_dict()

    # --- loop side ------------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        return ([self.owner] if self.owner else []) + list(self.watchers)

    def has_audience(self) -> bool:
        """Whether anyone would see a frame now: the owner, a watcher here or elsewhere."""
        return self.owner is not None or bool(self.watchers) or self.watched_elsewhere()

    def submit(
        self, conn: Connection | None, message: ClientMessage, activity: bool = True
    ) -> None:
        """Queue a validated message for the worker (loop thread); the owner's keep it alive."""
        if activity:
            self.last_activity = time.monotonic()
        self.commands.append((conn, message))
        self.wake()

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
        if self.class_code is not None:
            msg["class"] = self.class_code
            msg["name"] = self.student_name
        if role == "owner":
            msg = {
                "type": "hello",
                "session_id": self.id,
                **{k: v for k, v in msg.items() if k != "type"},
            }
            msg["resumed"] = resumed
            msg["step"] = self.trainer.step
            if self.resume_key is not None:
                msg["resume_key"] = self.resume_key
        return dumps(msg)

    def want_frame(self, at_once: bool = False) -> None:
        """A frame is wanted (a new connection); ``at_once``: at the next tick, whatever
        the frame rate."""
        self.frames.dirty = True
        if at_once:
            self.pacer.next_frame = 0.0

    # --- worker side: output --------------------------------------------------------------

    def deliver(self, outputs: list[Output]) -> None:
        """Worker or frame thread: hand payloads to the loop for fan-out."""
        self._deliver(self, outputs)

    def send(self, target: Connection | None, msg: dict[str, Any]) -> None:
        """Worker: one JSON message to ``target`` (None: every connection)."""
        self._deliver(self, [(target, dumps(msg), None)])

    # --- worker side: commands (applied by commands.apply_queued) ---------------------------

    def reconfigure(self, partial: dict[str, Any]) -> set[str]:
        """Worker: merge ``partial`` into the config and apply it; the names that changed."""
        new = self.state.config.merged(partial, self.limits)
        changed = set(self.state.trainer.reconfigure(new))
        self.pacer.idle_until = 0.0
        self.state.config = new
        self.frames.dirty = True
        return changed

    def broadcast_config(self, changed: set[str] | list[str]) -> None:
        """Worker: the effective config to everyone, with what changed."""
        self.send(None, config_message(self.config_dict(), changed))

    # --- worker side: training ------------------------------------------------------------

    def wants_steps(self, now: float) -> bool:
        """Worker: whether this session has optimiser steps to run now."""
        return self.pacer.wants_steps(now, self.running, self.config.speed, self.trainer.step)

    def seconds_until_due(self, now: float) -> float:
        """Worker: how long the idle scheduler may sleep for this session: until its next
        paced step or its next frame of a changed model (inf: nothing due)."""
        wait = math.inf
        speed = self.config.speed
        if self.running and speed != "max":
            wait = self.pacer.next_step_time(speed, self.trainer.step) - now
        if self.frames.dirty and not self.frames.pending:
            wait = min(wait, self.pacer.next_frame - now)
        return wait

    def run_slice(self, budget: float) -> bool:
        """Worker: run optimiser steps for about ``budget`` seconds (at least one step).

        Steps run in chunks sized from the measured time per step, and never past the next
        frame's due time, so frames keep their cadence whatever the net's size. True if the
        session paused itself (it diverged, or a ``config.stop`` condition was met): the
        worker then snapshots it at once, as after a ``pause``
        (``run_commands.take_snapshot``).
        """
        pacer, trainer = self.pacer, self.trainer
        start = time.perf_counter()
        deadline = pacer.slice_deadline(start, time.monotonic(), budget)
        while True:
            remaining = deadline - time.perf_counter()
            k = pacer.chunk_size(remaining, time.monotonic(), self.config.speed, trainer.step)
            if k < 1:
                break
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):  # overflow is reported as a diverged event
                result = trainer.run_steps(k)
            done = max(result.steps_done, 0)
            pacer.count_chunk(time.perf_counter() - t0, done)
            if done:
                self.frames.dirty = True
            if result.diverged:
                self._diverged()
                return True
            if result.stopped is not None:
                self._stopped(result.stopped)
                return True
            if done == 0:  # nothing to train on (every point removed): look again later
                pacer.rest(time.monotonic())
                break
            if time.perf_counter() >= deadline or not self.wants_steps(time.monotonic()):
                break
        return False

    def _diverged(self) -> None:
        self.running = False
        self.pacer.stop()
        self.frames.dirty = True
        self.send(None, diverged_event(self.trainer))

    def _stopped(self, condition: str) -> None:
        """Worker: a ``config.stop`` condition was met at an epoch's end: pause and say which."""
        self.running = False
        self.pacer.stop()
        self.send(None, stopped_event(self.trainer, self.config.stop, condition))
        self.frames.dirty = True  # after the event, so the paused metrics follow it

    def slice_failed(self) -> None:
        """Worker: a training slice raised (a bug): pause and tell the clients, or the
        page would show "playing" with no progress."""
        self.running = False
        self.pacer.stop()
        message = "training failed on the server; paused"
        self.send(None, state_event("paused", self.trainer.step, False, message=message))

    # --- worker side: frames --------------------------------------------------------------

    def maybe_emit(self, now: float, force: bool = False) -> None:
        """Worker: start a frame (+ metrics and extras) if one is due (FrameProducer)."""
        self.frames.maybe_emit(self, now, force)
        if self.model_offer is not None:
            self.model_offer(self, False)
