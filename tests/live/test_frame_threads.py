"""Where a frame is rendered (``live.frame_production.INLINE_FRAME_MACS``): a small net's on
the worker thread (handing it over only made the threads trade the GIL), a large one's on
the frame thread, so that its long grid pass does not hold up the other sessions'
training. A real ``Scheduler`` with headless sessions that have an owner."""

from __future__ import annotations

import json
import threading
import time

import pytest

from mlp_playground.config import Settings
from mlp_playground.live import commands, frame_production
from mlp_playground.live.connection import Connection
from mlp_playground.live.messages import parse_message
from mlp_playground.live.scheduler import Scheduler
from mlp_playground.live.session import LiveSession

SETTINGS = Settings()


def _session(scheduler: Scheduler, name: str, hidden: list[int], grid: int) -> LiveSession:
    session = LiveSession(name, name, SETTINGS, lambda s, out: None, scheduler.wake)
    session.owner = Connection(None, "owner")  # type: ignore[arg-type]
    config = {"dataset": {"name": "spiral", "n_points": 200}, "network": {"hidden_layers": hidden}}
    for message in (
        {"type": "configure", "config": config},
        {"type": "subscribe", "grid_resolution": grid, "fps": 30},
        {"type": "play"},
    ):
        session.submit(None, parse_message(json.dumps(message), SETTINGS))
    return session


def test_small_frames_render_on_the_worker_and_large_ones_on_the_frame_thread(monkeypatch):
    rendered: dict[str, set[str]] = {}
    render = frame_production.FrameJob.render

    def recording(job: frame_production.FrameJob):  # type: ignore[no-untyped-def]
        rendered.setdefault(job.session_id, set()).add(threading.current_thread().name)
        return render(job)

    monkeypatch.setattr(frame_production.FrameJob, "render", recording)
    scheduler = Scheduler()
    small = _session(scheduler, "small", [8, 8], 100)  # ~1e6 multiply-adds a frame
    large = _session(scheduler, "large", [64, 64], 100)  # ~5e7
    scheduler.start()
    try:
        for s in (small, large):
            scheduler.add(s)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(rendered) < 2:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        assert scheduler.stop()
    assert rendered == {"small": {"mlpg-live-worker"}, "large": {"mlpg-live-frames"}}


@pytest.mark.parametrize(
    ("hidden", "grid", "inline"), [([8, 8], 100, True), ([64, 64], 100, False)]
)
def test_the_frames_work_is_weights_times_points(hidden: list[int], grid: int, inline: bool):
    scheduler = Scheduler()
    session = _session(scheduler, "s", hidden, grid)
    jobs: list[frame_production.FrameJob] = []
    session.frames.submit = jobs.append  # the frame thread's queue, caught
    commands.apply_queued(session)
    session.maybe_emit(time.monotonic(), force=True)
    if inline:
        assert jobs == []  # rendered at once, on this thread
    else:
        (job,) = jobs
        weights = 2 * hidden[0] + hidden[0] * hidden[1] + hidden[1] * 2
        assert job.grid_macs() == weights * grid * grid
