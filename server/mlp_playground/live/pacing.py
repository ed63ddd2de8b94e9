"""When a session trains and when it shows it: owed steps, chunk sizes, the frame clock.

Worker-thread only. ``Pacer`` holds no model state: it is given the step and the speed
and answers how many steps are owed now, how big the next chunk may be so the next frame
is on time, and when that frame is due. Its figures are estimates rebuilt within a second
of running, so a snapshot need not keep them. ``Throttle`` rate-limits the frames' extras.
"""

from __future__ import annotations

from collections import deque

MIN_SLICE = 0.001  # seconds of training a turn gets even when its frame is overdue
EMPTY_RETRY = 0.1  # seconds between attempts to train a session without training points
CATCH_UP_SECONDS = 0.25  # a paced session that fell further behind does not burst


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


class Pacer:
    """Steps owed (``step`` messages, a numeric speed) and the session's frame clock."""

    def __init__(self, now: float) -> None:
        self.pending_steps = 0  # asked for by ``step`` messages, run even when paused
        self.seconds_per_step = 0.0  # running estimate, 0 = unknown
        self.speed_base = (now, 0)  # (time, step) from which a numeric speed is counted
        self.idle_until = 0.0  # no training points: do not spin on empty slices
        self.next_frame = 0.0  # when the next frame is due (0: at the next tick)
        self.waiting_for_owed = False  # next_frame was pushed to an owed extra's due time
        self.rate_window: deque[tuple[float, int]] = deque(maxlen=64)
        self.steps_per_second = 0.0  # measured over the last second, for metrics
        #: Worker CPU seconds this session's slices took: the scheduler serves the least
        #: served first (scheduler.Scheduler._train), so time is shared by deficit.
        self.served = 0.0

    # --- steps ----------------------------------------------------------------------------

    def restart_speed(self, now: float, step: int) -> None:
        """Count a numeric speed from here (on play, and when the speed changes)."""
        self.speed_base = (now, step)

    def stop(self) -> None:
        """Forget the steps asked for (pause, reset, divergence)."""
        self.pending_steps = 0

    def wants_steps(self, now: float, running: bool, speed: float | str, step: int) -> bool:
        """Whether there are optimiser steps to run now."""
        if now < self.idle_until:
            return False
        if self.pending_steps > 0:
            return True
        if not running:
            return False
        return speed == "max" or self.owed_steps(now, speed, step) >= 1

    def next_step_time(self, speed: float | str, step: int) -> float:
        """When a numerically paced session next owes a step."""
        t0, s0 = self.speed_base
        return t0 + (step - s0 + 1) / float(speed)

    def owed_steps(self, now: float, speed: float | str, step: int) -> int:
        """Steps a numeric speed owes by ``now`` (a late session skips, never bursts)."""
        t0, s0 = self.speed_base
        owed = int((now - t0) * float(speed)) - (step - s0)
        if owed > float(speed) * CATCH_UP_SECONDS:  # fell behind: do not burst to catch up
            self.speed_base = (now - CATCH_UP_SECONDS, step)
            owed = int(float(speed) * CATCH_UP_SECONDS)
        return owed

    def slice_deadline(self, start: float, now: float, budget: float) -> float:
        """End of a slice that started at ``start`` (perf_counter) with ``budget`` seconds.

        It stops at the next frame's due time (``now`` is monotonic), but always trains for
        a minimum slice: when the worker is overloaded frames are always overdue, and one
        step per turn would starve training (measured: 30 sessions at 1 step/s).
        """
        return start + max(min(budget, MIN_SLICE), min(budget, self.next_frame - now))

    def chunk_size(self, remaining: float, now: float, speed: float | str, step: int) -> int:
        """Steps of the next chunk: what fits in ``remaining`` seconds, at most the steps
        asked for or owed (0: nothing owed, end the slice)."""
        sps = self.seconds_per_step
        k = max(1, int(remaining / sps)) if sps > 0 else 1
        if self.pending_steps > 0:
            return min(k, self.pending_steps)
        if speed != "max":
            return max(0, min(k, self.owed_steps(now, speed, step)))
        return k

    def count_chunk(self, seconds: float, done: int) -> None:
        """A chunk ran ``done`` steps in ``seconds``: update the estimate and the steps asked."""
        if done:
            per = seconds / done
            sps = self.seconds_per_step
            self.seconds_per_step = per if sps == 0 else 0.8 * sps + 0.2 * per
        if self.pending_steps > 0:
            self.pending_steps = max(0, self.pending_steps - max(done, 1))

    def rest(self, now: float) -> None:
        """Nothing to train on (every point removed): look again in a while."""
        self.idle_until = now + EMPTY_RETRY
        self.pending_steps = 0

    def measure_rate(self, now: float, step: int, running: bool) -> float:
        """Steps a second over about the last second (0 when paused and not stepping)."""
        self.rate_window.append((now, step))
        while len(self.rate_window) > 2 and now - self.rate_window[0][0] > 1.0:
            self.rate_window.popleft()
        t0, s0 = self.rate_window[0]
        if now > t0 and step >= s0:
            self.steps_per_second = (step - s0) / (now - t0) if running or step > s0 else 0.0
        return self.steps_per_second

    # --- frames ---------------------------------------------------------------------------

    def advance_frame_clock(self, now: float, fps: float) -> None:
        """A frame goes out now: the next one is a period later, never further than that."""
        period = 1.0 / fps
        self.next_frame = max(self.next_frame + period, now) if self.next_frame else now + period
        if self.next_frame - now > period:
            self.next_frame = now + period

    def hold_for_owed(self, due: float) -> None:
        """Paused with an owed extra: the next frame waits until it is due (otherwise the
        same picture would go out at every tick until then)."""
        self.next_frame = max(self.next_frame, due)
        self.waiting_for_owed = True

    def show_edit(self) -> None:
        """A command came: an edit is shown at the next tick, not held back for an extra."""
        if self.waiting_for_owed:
            self.waiting_for_owed = False
            self.next_frame = 0.0
