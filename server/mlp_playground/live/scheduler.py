"""The training scheduler: one worker thread, time shared across sessions by deficit.

Why one thread and not one per session: a 2-8-8-2 net is bound by Python and NumPy call
overhead, which holds the GIL, so several training threads would not run in parallel
anyway; they would only make fairness depend on the interpreter's 5 ms switch interval
and the OS. One thread that shares its time between the sessions with work is fair by
construction (equal time, so equal steps for equal nets), bounded (30 sessions = one
thread, not 30), trivially isolated (a heavy net gets the same time as a light one, so it
cannot take another session's frames), and easy to stop within a slice on shutdown. The
event loop keeps the other core's worth of GIL time for sockets: the worker's slices are
short (about 0.2-8 ms).

Fair steps (issue 22): every session with work is owed the same worker time, and the one
served least so far goes first. Each session's ``pacer.served`` counts the worker CPU time
(``time.thread_time``, so waiting for the GIL is not charged) its slices took; a session
that had nothing to do for a while (paused, paced below its share, new) restarts at most
one slice behind the least served of the others, so it goes first without bursting through
the time it did not ask for. A session paced below an equal share therefore always gets
its pace, and the sessions at "max" share the rest equally. The round robin this replaces
indexed a list whose members changed every turn (paced sessions joining and leaving it):
measured, one session trained 35 steps while the others trained 2,400-4,000
(tests/live/test_scheduler_fairness.py).

Frames are the exception: a second thread, the frame thread, runs every session's grid
pass and encoding (FIFO, at most one job per session in flight) on a private replica of
the weights. Those are large-array NumPy calls that release the GIL, so they overlap with
the training thread's Python-bound steps (measured with one client at 60 fps: frames went
from 31/s with 11 % of the headless steps to 60/s with all of them).

Each turn of the loop:

1. apply every queued command of every session (edits land between two steps, and a
   ``pause`` takes effect after at most one slice);
2. give the sessions with steps one slice each, least served first, until
   ``ROUND_TRAINING`` is spent; a slice's length shrinks as more sessions are active
   (``ROUND_SECONDS / active``, clamped), so a full round stays short enough for each
   session's frames;
3. start every session's frame that is due (frames are paced per session at its subscribed
   rate; a session that did not change since its last frame sends none): its metrics and
   stats are computed here, its grid pass on the frame thread.

With no steps to run the thread sleeps until a command arrives or the next paced step or
frame is due.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from mlp_playground.live import commands, run_commands
from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

MAX_SLICE = 0.008
#: Why 0.2 ms: with 100 sessions a round of 0.5 ms slices took longer than a frame period,
#: and a session shows one frame per slice it gets; at 0.3 ms (30 ms / 100) the frames per
#: server CPU-second went from 720-760 to 860-930 (bench/profile_loop.py, same window).
MIN_SLICE = 0.0002
ROUND_SECONDS = 0.03
#: The most wall time one turn trains before it looks at frames again. A full round takes
#: about ROUND_SECONDS (the slices' budget shares it out); this only ends a round that GIL
#: waits stretched. Not less: a session left out of a round has not changed, so it gets no
#: frame in that turn; with a 4 ms bound, 110 sessions at the page's pace got 7.0 frames/s
#: at worst against 14.7 with whole rounds (bench/profile_loop.py).
ROUND_TRAINING = 0.06
IDLE_WAIT = 0.05
FRAME_BACKLOG = 2
BACKLOG_PAUSE = 0.002


#: How much nicer than the process the training thread runs (Linux: nice is per thread).
TRAINING_NICENESS = 10


def yield_cpu_to_frames() -> None:
    """Lower the calling thread's CPU priority (the training thread, at ``speed: max``).

    Why: training at full speed takes every cycle it is given, and with several worker
    processes on few cores the OS shared them out equally between one process's training
    thread and another's frame thread and event loop; frames, which the class sees, came
    late while steps, which nobody counts, ran. Nicer training threads leave the cores to
    frames and sockets first and still take everything left over. Where the OS has no
    per-thread priority this is a no-op.
    """
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + TRAINING_NICENESS
        )


class Scheduler:
    """Owns the worker thread; sessions are added and removed from the event loop."""

    def __init__(self) -> None:
        self._sessions: list[LiveSession] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._frame_thread: threading.Thread | None = None
        self._frames: queue.SimpleQueue = queue.SimpleQueue()
        #: Set by the frame thread when its queue is back under ``FRAME_BACKLOG``.
        self._caught_up = threading.Event()
        #: The least served active session's ``pacer.served`` (virtual time, never back).
        self._clock = 0.0
        #: Where the worker's time goes (seconds), for benchmarks and the end-of-run log.
        self.counters = {"turns": 0, "steps": 0.0, "frames": 0.0, "commands": 0.0, "idle": 0.0}
        #: Called by the training thread after a turn's commands and after its frames: the
        #: registry hands what they produced to the event loop then (live.handoff).
        self.hand_off: Callable[[], None] = _nothing

    def in_turn(self) -> bool:
        """Whether the caller is the training thread (whose payloads wait for the turn's
        end); a dead or unstarted thread counts as not."""
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mlpg-live-worker", daemon=True)
        self._thread.start()
        self._frame_thread = threading.Thread(
            target=self._run_frames, name="mlpg-live-frames", daemon=True
        )
        self._frame_thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop both threads; True if they ended within ``timeout`` seconds."""
        self._stop = True
        self._wake.set()
        self._frames.put(None)
        deadline = time.monotonic() + timeout
        for thread in (self._thread, self._frame_thread):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t is not None and t.is_alive() for t in (self._thread, self._frame_thread))

    def _run_frames(self) -> None:
        """The frame thread: grid passes and encoding, one job at a time, in FIFO order."""
        while True:
            job = self._frames.get()
            if job is None:
                return
            try:
                job.run()
            except Exception:
                log.exception("session %s: frame failed", job.session_id)
            if self._frames.qsize() < FRAME_BACKLOG:
                self._caught_up.set()

    def add(self, session: LiveSession) -> None:
        session.frames.submit = self._frames.put
        with self._lock:
            self._sessions.append(session)
        self._wake.set()

    def remove(self, session: LiveSession) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        yield_cpu_to_frames()
        while not self._stop:
            try:
                self._turn()
            except Exception:  # never let one bad turn stop every session
                log.exception("live worker turn failed")
                time.sleep(0.01)

    def _turn(self) -> None:
        """Commands, then a round of training slices, then every due frame (module header)."""
        c = self.counters
        c["turns"] += 1
        self._wake.clear()
        with self._lock:
            sessions = list(self._sessions)
        t0 = time.perf_counter()
        self._apply_commands(sessions)
        t1 = time.perf_counter()
        c["commands"] += t1 - t0
        now = time.monotonic()
        active = [s for s in sessions if not s.closed and s.wants_steps(now)]
        if active:
            self._train(active)
        t2 = time.perf_counter()
        c["steps"] += t2 - t1
        self._emit_frames(sessions)
        t3 = time.perf_counter()
        c["frames"] += t3 - t2
        if active:
            # Let the event loop send the frames just made before the next round. Without
            # this the loop took the GIL in the middle of the round's first slice (on a
            # forced switch), and whichever session came first in every round trained at
            # two thirds of the others' steps per CPU second: fairness 0.56-0.65 at 60
            # sessions at "max", 0.94-0.95 with it; the loop's CPU per frame 180 -> 100 us
            # at 110 sessions at the page's pace (bench/profile_loop.py).
            time.sleep(0)
            if self._frames.qsize() >= FRAME_BACKLOG:
                # Frames are falling behind: give the frame thread the GIL (otherwise it
                # waits a switch interval between any two NumPy calls) until it is back
                # under the backlog, at most BACKLOG_PAUSE. A fixed 2 ms sleep here left
                # the worker idle for 40 % of the time at 60 sessions (8 frames/s each).
                self._caught_up.clear()
                if self._frames.qsize() >= FRAME_BACKLOG:
                    self._caught_up.wait(BACKLOG_PAUSE)
            return
        # Nothing to run: sleep until a command, a paced step or a due frame.
        wait = IDLE_WAIT
        now = time.monotonic()
        for s in sessions:
            wait = min(wait, s.seconds_until_due(now))
        if wait > 0:
            self._wake.wait(wait)
            c["idle"] += time.perf_counter() - t3

    def _apply_commands(self, sessions: list[LiveSession]) -> None:
        """Every session's queued commands; their replies and events are handed to the
        event loop before this turn's training."""
        answered = False
        for s in sessions:
            if s.commands:
                answered |= commands.apply_queued(s)
            if s.closed:  # dropped, its last commands (a final snapshot) applied: let go
                self.remove(s)
        if answered:
            self.hand_off()

    def _emit_frames(self, sessions: list[LiveSession]) -> None:
        """Every session's due frame, then one hand-off of them all to the event loop."""
        now = time.monotonic()
        for s in sessions:
            if not s.closed:
                try:
                    with np.errstate(all="ignore"):  # huge weights before a divergence
                        s.maybe_emit(now)
                except Exception:
                    log.exception("session %s: frame failed", s.id)
                    s.frames.dirty = False
        self.hand_off()

    def _train(self, active: list[LiveSession]) -> None:
        """A round of slices, least served first, until every active session had one or
        the round's ``ROUND_TRAINING`` is spent (the deficit order of the module header).

        A session's ``pacer.served`` is the worker CPU time its slices took. One that had
        no work for a while (paused, paced, new) starts again at most one slice behind the
        least served of the others (``self._clock``), so it comes first but cannot burst
        through the time it did not ask for. Several slices a turn, not one: a turn scans
        every session (commands, who has steps, whose frame is due), and with one slice of
        1-2 paced steps a turn those scans took more of the worker than the steps
        (bench/profile_loop.py, 110 sessions at the page's pace: ~17 % of the worker).
        A session not reached this round is still the least served, so it goes first in
        the next one.
        """
        budget = min(MAX_SLICE, max(MIN_SLICE, ROUND_SECONDS / len(active)))
        floor = self._clock - budget
        for s in active:
            if s.pacer.served < floor:
                s.pacer.served = floor
        active.sort(key=_served)
        self._clock = max(self._clock, active[0].pacer.served)
        end = time.perf_counter() + ROUND_TRAINING
        for session in active:
            cpu = time.thread_time()
            try:
                if session.run_slice(budget):  # it paused itself: written at once
                    run_commands.take_snapshot(session)
            except Exception:
                log.exception("session %s: training slice failed; paused", session.id)
                session.slice_failed()
            session.pacer.served += time.thread_time() - cpu
            if time.perf_counter() >= end:
                break


def _nothing() -> None:
    pass


def _served(session: LiveSession) -> float:
    return session.pacer.served
