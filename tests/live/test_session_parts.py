"""The parts a live session is made of: pacing, its state, and freeing a dropped session."""

from __future__ import annotations

import gc
import weakref

from mlp_playground.config import Settings
from mlp_playground.live.commands import COMMANDS
from mlp_playground.live.connection import Connection
from mlp_playground.live.messages import MESSAGE_TYPES
from mlp_playground.live.pacing import EMPTY_RETRY, Pacer
from mlp_playground.live.session import LiveSession
from mlp_playground.live.state import SessionState


def test_a_late_paced_session_skips_instead_of_bursting():
    pacer = Pacer(now=0.0)
    assert pacer.owed_steps(1.0, 10.0, 0) == 2  # 10 owed, capped at a quarter second's
    assert pacer.speed_base == (0.75, 0)
    assert pacer.owed_steps(1.0, 10.0, 2) == 0  # and counted from there on


def test_chunks_fit_the_time_left_and_never_exceed_the_steps_asked_for():
    pacer = Pacer(now=0.0)
    assert pacer.chunk_size(0.01, 0.0, "max", 0) == 1  # time per step not known yet
    pacer.count_chunk(0.001, 10)
    assert pacer.seconds_per_step == 0.0001
    assert pacer.chunk_size(0.01, 0.0, "max", 10) == 100
    pacer.pending_steps = 7
    assert pacer.chunk_size(0.01, 0.0, "max", 10) == 7
    pacer.count_chunk(0.0007, 7)
    assert pacer.pending_steps == 0
    assert pacer.chunk_size(0.01, 0.0, 5.0, 10) == 0  # paced and nothing owed: end the slice


def test_an_empty_session_rests_and_the_frame_clock_keeps_its_period():
    pacer = Pacer(now=0.0)
    pacer.pending_steps = 3
    pacer.rest(1.0)
    assert pacer.pending_steps == 0
    assert not pacer.wants_steps(1.0 + EMPTY_RETRY / 2, True, "max", 0)
    assert pacer.wants_steps(1.0 + EMPTY_RETRY, True, "max", 0)
    pacer.advance_frame_clock(2.0, 10.0)
    assert pacer.next_frame == 2.1
    pacer.advance_frame_clock(5.0, 10.0)  # late: the next one is due now, never a backlog
    assert pacer.next_frame == 5.0
    pacer.hold_for_owed(6.0)
    assert pacer.next_frame == 6.0
    pacer.show_edit()
    assert pacer.next_frame == 0.0 and not pacer.waiting_for_owed


def test_the_state_is_the_session_s_config_trainer_and_run_state():
    session = LiveSession("id", "token", Settings(), lambda s, out: None, lambda: None)
    assert isinstance(session.state, SessionState)
    assert session.trainer is session.state.trainer
    session.running = True
    assert session.state.running is True
    assert session.config_dict()["network"]["hidden_layers"] == [4, 2]


def test_every_client_message_type_has_a_handler():
    assert set(MESSAGE_TYPES) <= set(COMMANDS)


def test_a_dropped_session_is_freed_at_once_without_the_cyclic_gc():
    """A reference cycle would keep 30 sessions' trainers and frame buffers until a full
    collection (measured: +7 MB over bench/live.py's 1,000 connect cycles)."""
    gc.disable()
    try:
        session = LiveSession("id", "token", Settings(), lambda s, out: None, lambda: None)
        session.owner = Connection(None, "owner")  # type: ignore[arg-type]
        session.run_slice(0.002)
        session.maybe_emit(1e12)  # a frame, run inline (no scheduler)
        ref = weakref.ref(session)
        del session
        assert ref() is None
    finally:
        gc.enable()
