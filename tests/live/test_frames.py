"""Frame encoding, checked byte by byte against hand-computed values."""

import struct

import numpy as np
import pytest

from mlp_playground.live import frames


def test_header_layout_byte_by_byte():
    h = frames.encode_header(1, 2, 0x01020304, 100, 7)
    assert len(h) == 16
    assert h[:4] == b"MLPG"
    assert h[4] == 1 and h[5] == 1
    assert h[6:8] == b"\x02\x00"
    assert h[8:12] == b"\x04\x03\x02\x01"
    assert h[12:14] == b"\x64\x00" and h[14:16] == b"\x07\x00"


def test_step_wraps_modulo_2_32():
    assert frames.decode_header(frames.encode_header(1, 2, 2**32 + 5, 16, 16)).step == 5


def test_decision_frame_two_classes_by_hand():
    p1 = np.array([0.1, 0.5, 0.9, 1.0])
    probs = np.stack([1 - p1, p1], axis=1)
    frame = frames.encode_decision_frame(42, 2, probs)
    assert len(frame) == 16 + 2 * 4
    # cell: class, round(255 * p(class)); a tie goes to class 0.
    assert list(frame[16:]) == [0, 230, 0, 128, 1, 230, 1, 255]
    decoded = frames.decode_frame(frame)
    assert decoded.header == frames.FrameHeader(1, 1, 2, 42, 2, 2)
    assert decoded.cells.shape == (2, 2, 2)
    assert decoded.cells[1, 0].tolist() == [1, 230]


def test_decision_frame_three_classes():
    probs = np.array([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    cells = frames.decision_cells(probs.astype(np.float32))
    assert cells.tolist() == [[1, 128], [2, 255], [0, 153], [0, 85]]


def test_decision_frame_rejects_wrong_cell_count():
    with pytest.raises(ValueError, match="expected 9 grid cells"):
        frames.encode_decision_frame(0, 3, np.full((4, 2), 0.5))


def test_units_frame_scaled_per_unit_with_ranges():
    layer0 = np.array([[-1.0, 5.0], [0.0, 5.0], [1.0, 5.0], [0.5, 5.0]])  # unit 1 constant
    layer1 = np.array([[2.0], [4.0], [3.0], [6.0]])
    frame = frames.encode_units_frame(7, 2, [layer0, layer1])
    h = frames.decode_header(frame)
    assert (h.kind, h.channels, h.step, h.width, h.height) == (2, 3, 7, 2, 2)
    assert len(frame) == 16 + 3 * 4 + 3 * 8
    assert list(frame[16:20]) == [0, 128, 255, 191]  # (v+1)/2*255 rounded
    assert list(frame[20:24]) == [0, 0, 0, 0]  # constant unit: all zero
    assert list(frame[24:28]) == [0, 128, 64, 255]  # (v-2)/4*255 rounded
    ranges = struct.unpack("<6f", frame[28:])
    assert ranges == (-1.0, 1.0, 5.0, 5.0, 2.0, 6.0)
    decoded = frames.decode_frame(frame)
    assert decoded.cells.shape == (3, 2, 2)
    assert decoded.ranges.tolist() == [[-1.0, 1.0], [5.0, 5.0], [2.0, 6.0]]


def test_decode_rejects_bad_frames():
    with pytest.raises(ValueError, match="shorter"):
        frames.decode_header(b"MLPG")
    with pytest.raises(ValueError, match="magic"):
        frames.decode_header(b"XXXX" + bytes(12))
    with pytest.raises(ValueError, match="expected 8"):
        frames.decode_frame(frames.encode_header(1, 2, 0, 2, 2) + bytes(3))
    with pytest.raises(ValueError, match="unknown frame kind 9"):
        frames.decode_frame(frames.encode_header(9, 0, 0, 0, 0))
