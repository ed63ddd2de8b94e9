"""Fair steps (issue 22, point 3): a saturated worker shares its time by deficit.

Every session trains at the pace it asked: an equal share at "max", its own pace when it
asked for fewer steps than that. These run a real ``Scheduler`` (worker and frame threads)
on headless sessions, with an owner so that frames are made as in a server, for about a
second: the ratios asserted are wide, so a loaded machine does not make them flaky, and an
unfair scheduler (round robin over a list whose members change) misses them.
"""

from __future__ import annotations

import json
import time

from mlp_playground.config import Settings
from mlp_playground.live.connection import Connection
from mlp_playground.live.messages import parse_message
from mlp_playground.live.scheduler import Scheduler
from mlp_playground.live.session import LiveSession

SETTINGS = Settings()
NET = {
    "dataset": {"name": "spiral", "n_points": 200},
    "network": {"hidden_layers": [8, 8], "activation": "tanh"},
}


def _session(
    scheduler: Scheduler, name: str, speed: float | str = "max", owner: bool = True
) -> LiveSession:
    session = LiveSession(name, name, SETTINGS, lambda s, out: None, scheduler.wake)
    if owner:
        session.owner = Connection(None, "owner")  # type: ignore[arg-type]
    for message in (
        {"type": "configure", "config": {**NET, "speed": speed}},
        {"type": "subscribe", "grid_resolution": 40, "fps": 30},
        {"type": "play"},
    ):
        session.submit(None, parse_message(json.dumps(message), SETTINGS))
    return session


def _steps_over(scheduler: Scheduler, sessions: list[LiveSession], seconds: float) -> list[int]:
    """Steps each session trained over ``seconds``, after a short warm-up."""
    scheduler.start()
    try:
        for s in sessions:
            scheduler.add(s)
        time.sleep(0.3)
        before = [s.trainer.step for s in sessions]
        time.sleep(seconds)
        return [s.trainer.step - b for s, b in zip(sessions, before, strict=True)]
    finally:
        assert scheduler.stop()


def test_saturated_sessions_at_max_share_the_steps_within_a_factor_of_two():
    """Sessions at "max" beside paced ones that keep joining and leaving the set of
    sessions with work: the slowest "max" session gets at least half the fastest's steps."""
    scheduler = Scheduler()
    greedy = [_session(scheduler, f"max{i}", owner=i % 3 != 0) for i in range(20)]
    paced = [_session(scheduler, f"paced{i}", speed=150) for i in range(3)]
    steps = _steps_over(scheduler, greedy + paced, 1.5)
    at_max = steps[: len(greedy)]
    assert min(at_max) > 0
    assert min(at_max) / max(at_max) >= 0.5, at_max


def test_a_paced_session_gets_its_pace_beside_saturating_ones():
    """Its pace is below an equal share, so it gets all of it, however many train at max."""
    scheduler = Scheduler()
    greedy = [_session(scheduler, f"max{i}") for i in range(16)]
    paced = _session(scheduler, "paced", speed=100)
    steps = _steps_over(scheduler, [*greedy, paced], 1.5)
    assert 0.8 * 100 * 1.5 <= steps[-1] <= 1.1 * 100 * 1.5 + 2, steps[-1]
    assert min(steps[:-1]) > steps[-1], steps  # the others share the rest, more each


def test_a_session_that_waited_does_not_burst_past_the_others():
    """A session paused for a while and played again gets its share, not the time it
    missed: the others keep at least half of its steps after it came back."""
    scheduler = Scheduler()
    sessions = [_session(scheduler, f"max{i}") for i in range(8)]
    late = sessions[-1]
    late.submit(None, parse_message('{"type": "pause"}', SETTINGS))
    scheduler.start()
    try:
        for s in sessions:
            scheduler.add(s)
        time.sleep(0.8)  # the others are served meanwhile, the paused one is not
        late.submit(None, parse_message('{"type": "play"}', SETTINGS))
        time.sleep(0.05)
        before = [s.trainer.step for s in sessions]
        time.sleep(1.0)
        steps = [s.trainer.step - b for s, b in zip(sessions, before, strict=True)]
    finally:
        assert scheduler.stop()
    assert steps[-1] > 0
    assert min(steps[:-1]) >= 0.5 * steps[-1], steps


def test_one_turn_trains_every_session_that_owes_steps_then_shows_each_one():
    """A turn is a round: every session with steps owed gets its slice before the frames
    are looked at, so each one has a new frame to show. (With one slice a turn, a turn's
    scans of every session cost more than the 1-2 paced steps it ran.)"""
    scheduler = Scheduler()  # not started: its turns are run here, one at a time
    sessions = [_session(scheduler, f"paced{i}", speed=50) for i in range(40)]
    for s in sessions:
        scheduler.add(s)
    scheduler._turn()  # applies the commands; nobody owes a step yet
    time.sleep(0.1)  # 50 steps/s: each one owes about 5 now
    before = [s.trainer.step for s in sessions]
    delivered = []
    for s in sessions:
        s.deliver = lambda out, s=s: delivered.append(s.id)  # type: ignore[method-assign]
        s.pacer.next_frame = 0.0  # a frame is due for each as soon as it changed
    handed_off_at: list[int] = []  # the registry wakes the event loop there (live.handoff)
    scheduler.hand_off = lambda: handed_off_at.append(len(delivered))
    scheduler._turn()
    trained = [s.trainer.step - b for s, b in zip(sessions, before, strict=True)]
    assert min(trained) >= 1, trained
    assert sorted(delivered) == sorted(s.id for s in sessions)
    assert handed_off_at == [len(sessions)]  # once, after every frame of the turn
