"""`subscribe`'s `neuron_fps`: unit grids (kind 2) at their own, lower rate than the decision
frames, and never stale: a paused session still gets the unit grids of its last edit."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.live import frames
from tests.support.live import open_session, recv, send, until, until_frame

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def test_unit_grids_follow_neuron_fps_while_frames_follow_fps(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(
            ws,
            "subscribe",
            fps=30,
            grid_resolution=16,
            neurons=True,
            neuron_resolution=8,
            neuron_fps=4,
        )
        send(ws, "play")
        until(ws, "event", event="playing")
        decisions = units = 0
        while decisions < 60:  # about two seconds of frames
            msg = recv(ws)
            if isinstance(msg, frames.DecodedFrame):
                decisions += msg.header.kind == 1
                units += msg.header.kind == 2
        assert 2 <= units <= 60 / 30 * 4 + 3, (decisions, units)
        # Back to unit grids with every frame.
        send(ws, "subscribe", neuron_fps=None)
        decisions = units = 0
        while decisions < 20:
            msg = recv(ws)
            if isinstance(msg, frames.DecodedFrame):
                decisions += msg.header.kind == 1
                units += msg.header.kind == 2
        assert units >= 18


def test_a_paused_session_gets_the_unit_grids_of_its_last_edit(client):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "subscribe", neurons=True, neuron_resolution=8, grid_resolution=16, neuron_fps=1)
        first = until_frame(ws, 2)
        send(ws, "set_weight", parameter="dense0.b", index=[0], value=3.0)
        # The decision frame of the edit comes at once; the unit grids within a second.
        edited = until_frame(ws, 2)
        assert not np.array_equal(edited.cells, first.cells)


@pytest.mark.parametrize("value", [0, 61, "fast", True])
def test_bad_neuron_fps_is_an_error(client, value):
    with client.websocket_connect("/ws") as ws:
        open_session(ws)
        send(ws, "subscribe", neuron_fps=value)
        err = until(ws, "error")
        assert err["field"] == "neuron_fps"
