"""Binary frame encoding for the live stream (the byte layout is documented in docs/protocol.md).

Every frame starts with the same 16-byte little-endian header so that a client can dispatch
on ``kind`` without knowing the others:

====== ========= ==========================================
offset type      field
====== ========= ==========================================
0      4 x ASCII ``MLPG``
4      u8        version (1)
5      u8        kind (1 decision, 2 hidden units, 3 uncertainty, 4 regression, 5 thumbnail)
6      u16       channels
8      u32       step (optimiser updates so far, modulo 2**32)
12     u16       width
14     u16       height
====== ========= ==========================================

Kind 1 (decision grid): ``channels`` = 2, then ``width*height`` cells of 2 bytes each:
predicted class, then ``round(255 * p)`` with ``p`` the probability of that class.

Kind 2 (hidden-unit grids): ``channels`` = total number of hidden units, layer 0 first;
then ``channels`` planes of ``width*height`` bytes, each unit scaled to 0..255 by its own
minimum and maximum over the grid (a constant unit is all zeros); then ``channels`` pairs of
float32 ``(min, max)`` so that a client can show the real range.

Kind 3 (uncertainty): ``channels`` = 1, one byte a cell: ``round(255 * min(1, 2 * s))``
with ``s`` the largest standard deviation over the classes of the MC-dropout passes.

Kind 4 (regression): ``channels`` = 1, one byte a cell: ``round(255 * (clip(y, -1, 1) + 1)
/ 2)`` with ``y`` the network's output.

Kind 5 (classroom thumbnail, only on a teacher's ``/ws/class/{code}`` stream): one
student's decision map. ``step`` is that student's step; the body starts with the student's
session id, 22 ASCII bytes (``secrets.token_urlsafe(16)`` ids are always 22 characters;
``THUMBNAIL_ID_BYTES``), then the cells: ``channels`` = 2, kind 1's 2-byte cells; or, for a
regression session, ``channels`` = 1, kind 4's 1-byte cells.

Cells are row-major, first row at the top (largest x2), first column at the left (smallest
x1): the order of ``mlp_playground.data.grid.grid_points``. Encoding works on float32 or float64 arrays
(nothing is learned here, so the grid pass may run in float32); the cell arithmetic is
``mlp_playground.data.grid``'s, shared with REST ``/train``'s grid.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from mlp_playground.data.grid import probabilities_to_frame_cells, quantize_units

MAGIC = b"MLPG"
VERSION = 1
KIND_DECISION = 1
KIND_UNITS = 2
KIND_UNCERTAINTY = 3
KIND_REGRESSION = 4
KIND_THUMBNAIL = 5
THUMBNAIL_ID_BYTES = 22  # a session id, ASCII, before a kind 5 frame's cells

#: permessage-deflate of a frame, done once on the frame thread (``predeflate``): zlib level
#: 1, a 2^15 window (what websocket_protocol.py negotiates with every client) and memLevel
#: 8. Why not the 2^12 window and memLevel 5 of websockets' defaults: with them zlib spent
#: 85-190 us on a 100x100 frame, with these 58-130 us, for messages 1 % smaller (a larger
#: hash table, fewer chains to follow); the memory is the frame thread's, a few hundred kB
#: for the time of one frame, never per connection.
DEFLATE_LEVEL = 1
DEFLATE_WINDOW_BITS = 15
DEFLATE_MEM_LEVEL = 8
#: What each connection deflates itself (its JSON messages, and frames for a client that
#: asked for a smaller window), and frames up to ``SMALL_FRAME_BYTES`` (thumbnails): a
#: compressor per message, so kept small, as websockets' defaults: a 2^12 window, memLevel
#: 5 (setting up the large one costs 17 us, more than deflating 2 kB with the small one).
MESSAGE_WINDOW_BITS = 12
MESSAGE_MEM_LEVEL = 5
SMALL_FRAME_BYTES = 4096
HEADER = struct.Struct("<4sBBHIHH")
HEADER_SIZE = HEADER.size  # 16


@dataclass(frozen=True)
class FrameHeader:
    """The decoded fixed header of a binary frame."""

    version: int
    kind: int
    channels: int
    step: int
    width: int
    height: int


class Deflated(bytes):
    """A frame's bytes, which also carry their permessage-deflate form (``deflated``).

    Why: deflating a 100x100 frame took about 0.2 ms of the event loop's thread per
    connection. Deflated once on the frame thread (zlib releases the GIL there), every
    connection that negotiated the same parameters sends ``deflated`` as it is
    (websocket_protocol.py, with no context takeover so that each message stands alone);
    anything else sees ordinary bytes.
    """

    deflated: bytes


def predeflate(payload: bytes) -> Deflated:
    """``payload`` with its raw deflate stream (sync-flushed, minus the final 00 00 ff ff)."""
    if len(payload) <= SMALL_FRAME_BYTES:  # valid under the larger window too
        bits, mem = MESSAGE_WINDOW_BITS, MESSAGE_MEM_LEVEL
    else:
        bits, mem = DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL
    c = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -bits, mem)
    data = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
    out = Deflated(payload)
    out.deflated = data[:-4]
    return out


def encode_header(kind: int, channels: int, step: int, width: int, height: int) -> bytes:
    """Pack the 16-byte header; ``step`` wraps modulo 2**32 rather than failing."""
    return HEADER.pack(MAGIC, VERSION, kind, channels, step & 0xFFFFFFFF, width, height)


def decode_header(frame: bytes) -> FrameHeader:
    """Unpack and check the header (ValueError on a short frame or a wrong magic)."""
    if len(frame) < HEADER_SIZE:
        raise ValueError(f"frame of {len(frame)} bytes is shorter than the 16-byte header")
    magic, version, kind, channels, step, width, height = HEADER.unpack_from(frame)
    if magic != MAGIC:
        raise ValueError(f"bad magic {magic!r}, expected {MAGIC!r}")
    return FrameHeader(version, kind, channels, step, width, height)


def decision_cells(probabilities: np.ndarray) -> np.ndarray:
    """(N, K) probabilities -> (N, 2) uint8: predicted class, round(255 * its probability)."""
    p = np.asarray(probabilities)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probabilities must be (N, K), got shape {p.shape}")
    out = np.empty((p.shape[0], 2), dtype=np.uint8)
    probabilities_to_frame_cells(p, out=out)
    return out


def encode_decision_frame(step: int, resolution: int, probabilities: np.ndarray) -> bytes:
    """Kind 1 frame from the (R*R, K) class probabilities of the grid points."""
    n = resolution * resolution
    if probabilities.shape[0] != n:
        raise ValueError(f"expected {n} grid cells, got {probabilities.shape[0]}")
    header = encode_header(KIND_DECISION, 2, step, resolution, resolution)
    return header + probabilities_to_frame_cells(probabilities)


def encode_units_frame(step: int, resolution: int, hidden: list[np.ndarray]) -> bytes:
    """Kind 2 frame from each hidden layer's (R*R, units) outputs on the neuron grid."""
    n = resolution * resolution
    for h in hidden:
        if h.shape[0] != n:
            raise ValueError(f"expected {n} grid cells, got {h.shape[0]}")
    planes, mins, maxs = quantize_units(list(hidden))
    channels = len(mins)
    ranges = np.empty((channels, 2), dtype="<f4")
    ranges[:, 0] = mins
    ranges[:, 1] = maxs
    header = encode_header(KIND_UNITS, channels, step, resolution, resolution)
    return header + planes + ranges.tobytes()


def _one_channel_frame(kind: int, step: int, resolution: int, values: np.ndarray) -> bytes:
    n = resolution * resolution
    if values.shape[0] != n:
        raise ValueError(f"expected {n} grid cells, got {values.shape[0]}")
    cells = np.rint(values).astype(np.uint8)
    return encode_header(kind, 1, step, resolution, resolution) + cells.tobytes()


def encode_uncertainty_frame(step: int, resolution: int, std: np.ndarray) -> bytes:
    """Kind 3 frame from the (R*R, K) MC-dropout standard deviations (K = 1: regression)."""
    s = np.asarray(std, dtype=np.float64).reshape(std.shape[0], -1).max(axis=1)
    s = np.nan_to_num(s, nan=0.5, posinf=0.5)
    return _one_channel_frame(KIND_UNCERTAINTY, step, resolution, 255 * np.minimum(1, 2 * s))


def encode_regression_frame(step: int, resolution: int, values: np.ndarray) -> bytes:
    """Kind 4 frame from the (R*R,) outputs of a regression network."""
    y = np.nan_to_num(np.asarray(values, dtype=np.float64).reshape(-1), nan=0.0)
    return _one_channel_frame(KIND_REGRESSION, step, resolution, 255 * (np.clip(y, -1, 1) + 1) / 2)


def encode_thumbnail_frame(
    step: int,
    resolution: int,
    session_id: str,
    probabilities: np.ndarray | None = None,
    values: np.ndarray | None = None,
) -> bytes:
    """Kind 5 frame: one student's map, tagged with the session id, for a teacher.

    ``probabilities`` (R*R, K) give kind 1 cells (2 channels); ``values`` (R*R,) of a
    regression network give kind 4 cells (1 channel). The id must be 22 ASCII characters.
    """
    tag = session_id.encode("ascii")
    if len(tag) != THUMBNAIL_ID_BYTES:
        raise ValueError(f"a session id is {THUMBNAIL_ID_BYTES} characters, got {len(tag)}")
    if probabilities is not None:
        body = encode_decision_frame(step, resolution, probabilities)
        channels = 2
    elif values is not None:
        body = encode_regression_frame(step, resolution, values)
        channels = 1
    else:
        raise ValueError("a thumbnail needs probabilities or values")
    header = encode_header(KIND_THUMBNAIL, channels, step, resolution, resolution)
    return header + tag + body[HEADER_SIZE:]


@dataclass(frozen=True)
class DecodedFrame:
    """A decoded frame, for tests, examples and benchmarks."""

    header: FrameHeader
    cells: np.ndarray  # kind 1: (H, W, 2) uint8; kind 2: (C, H, W) uint8; 3, 4: (H, W)
    ranges: np.ndarray | None = None  # kind 2: (C, 2) float32
    session_id: str | None = None  # kind 5: the student's session id


def decode_frame(frame: bytes) -> DecodedFrame:
    """Decode a frame of any kind (1-5) and check its length exactly."""
    h = decode_header(frame)
    body = memoryview(frame)[HEADER_SIZE:]
    n = h.width * h.height
    if h.kind == KIND_DECISION:
        if len(body) != 2 * n:
            raise ValueError(f"kind 1 body is {len(body)} bytes, expected {2 * n}")
        cells = np.frombuffer(body, dtype=np.uint8).reshape(h.height, h.width, 2)
        return DecodedFrame(h, cells)
    if h.kind == KIND_UNITS:
        expected = h.channels * n + 8 * h.channels
        if len(body) != expected:
            raise ValueError(f"kind 2 body is {len(body)} bytes, expected {expected}")
        planes = np.frombuffer(body[: h.channels * n], dtype=np.uint8)
        ranges = np.frombuffer(body[h.channels * n :], dtype="<f4").reshape(h.channels, 2)
        return DecodedFrame(h, planes.reshape(h.channels, h.height, h.width), ranges)
    if h.kind in (KIND_UNCERTAINTY, KIND_REGRESSION):
        if len(body) != n:
            raise ValueError(f"kind {h.kind} body is {len(body)} bytes, expected {n}")
        return DecodedFrame(h, np.frombuffer(body, dtype=np.uint8).reshape(h.height, h.width))
    if h.kind == KIND_THUMBNAIL:
        expected = THUMBNAIL_ID_BYTES + h.channels * n
        if h.channels not in (1, 2) or len(body) != expected:
            raise ValueError(f"kind 5 body is {len(body)} bytes, expected {expected}")
        session_id = bytes(body[:THUMBNAIL_ID_BYTES]).decode("ascii")
        cells = np.frombuffer(body[THUMBNAIL_ID_BYTES:], dtype=np.uint8)
        shape = (h.height, h.width, 2) if h.channels == 2 else (h.height, h.width)
        return DecodedFrame(h, cells.reshape(shape), session_id=session_id)
    raise ValueError(f"unknown frame kind {h.kind}; known kinds are 1 to 5")
