"""The evaluation grid over the data domain and its quantised frame payloads.

The live page draws the decision boundary as an R x R image stretched over the session's
domain, so the grid has to match the image's memory order: row-major, first row at the top
(largest x2), first column at the left (smallest x1), one point at the centre of each cell.
These functions run on every frame (up to 60 per second per session), so they are
vectorised, avoid temporaries where they can, and accept ``out=`` buffers; float32 is fine
here because nothing is learned from these values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAX_RESOLUTION = 4096
"""A sanity bound; the server's real limits (grid_resolution) live in config.py."""


def grid_points(
    domain: Sequence[float],
    resolution: int,
    dtype: type | np.dtype = np.float64,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Cell centres (R*R, 2) over ``domain`` = (x1_min, x1_max, x2_min, x2_max).

    Point ``row * R + col`` is the centre of the cell in image row ``row`` (0 at the top,
    largest x2) and column ``col`` (0 at the left, smallest x1).
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValueError(f"resolution must be an integer in 1..{MAX_RESOLUTION}")
    r = int(resolution)
    if not 1 <= r <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be in 1..{MAX_RESOLUTION}, got {r}")
    if len(domain) != 4:
        raise ValueError("domain must be (x1_min, x1_max, x2_min, x2_max)")
    x1_min, x1_max, x2_min, x2_max = (float(v) for v in domain)
    if not all(map(math.isfinite, (x1_min, x1_max, x2_min, x2_max))):
        raise ValueError("domain must be finite numbers")
    if not (x1_min < x1_max and x2_min < x2_max):
        raise ValueError("domain must have x1_min < x1_max and x2_min < x2_max")
    if out is None:
        out = np.empty((r * r, 2), dtype=dtype)
    elif out.shape != (r * r, 2):
        raise ValueError(f"out must have shape {(r * r, 2)}, got {out.shape}")
    half1 = (x1_max - x1_min) / (2 * r)
    half2 = (x2_max - x2_min) / (2 * r)
    cols = np.linspace(x1_min + half1, x1_max - half1, r)
    rows = np.linspace(x2_max - half2, x2_min + half2, r)
    view = out.reshape(r, r, 2)
    view[:, :, 0] = cols[None, :]
    view[:, :, 1] = rows[:, None]
    return out


def _scale_to_byte(values: np.ndarray, out: np.ndarray) -> None:
    """values (already x255) -> rounded bytes in ``out``; NaN and out-of-range clamp to 0..255.

    ``fmax``/``fmin`` (unlike ``clip``) turn NaN into the bound, so a bad value can never
    reach the uint8 cast as undefined behaviour.
    """
    np.fmax(values, 0.0, out=values)
    np.fmin(values, 255.0, out=values)
    np.rint(values, out=values)
    out[...] = values


def probabilities_to_frame_cells(proba: np.ndarray, out: np.ndarray | None = None) -> bytes:
    """Kind-1 frame cells from grid probabilities (R*R, K): 2 bytes a cell.

    Byte 0 is the predicted class (argmax; the first class wins a tie), byte 1 is
    ``round(255 * p)`` with ``p`` that class's probability. ``out`` is an optional
    (R*R, 2) uint8 buffer to fill.
    """
    p = np.asarray(proba)
    if p.ndim != 2 or not 1 <= p.shape[1] <= 256:
        raise ValueError(f"probabilities must be (N, K) with 1 <= K <= 256, got {p.shape}")
    n, k = p.shape
    if out is None:
        out = np.empty((n, 2), dtype=np.uint8)
    elif out.shape != (n, 2) or out.dtype != np.uint8:
        raise ValueError(f"out must be a ({n}, 2) uint8 array")
    work = np.empty(n, dtype=p.dtype if p.dtype == np.float32 else np.float64)
    if k == 2:
        # A comparison is far cheaper than argmax/max over an axis of length 2.
        second = np.greater(p[:, 1], p[:, 0])
        out[:, 0] = second
        np.maximum(p[:, 0], p[:, 1], out=work)
    else:
        # A running maximum over the K <= 8 columns (vectorised over cells) beats argmax
        # over a short axis plus a gather; strict ">" keeps the first class on a tie.
        cls = out[:, 0]
        cls[...] = 0
        work[...] = p[:, 0]
        better = np.empty(n, dtype=bool)
        for j in range(1, k):
            np.greater(p[:, j], work, out=better)
            np.copyto(cls, j, where=better)
            np.maximum(work, p[:, j], out=work)
    np.multiply(work, 255.0, out=work)
    _scale_to_byte(work, out[:, 1])
    return out.tobytes()


def quantize_units(
    H: np.ndarray | Sequence[np.ndarray],
) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Kind-2 payload: one 0..255 plane per hidden unit, scaled by that unit's own range.

    ``H`` is (R*R, U) or a list of per-layer (R*R, units) arrays (layer 0 first, as
    ``Trainer.grid`` returns them), so callers need not concatenate. Returns ``planes``
    (U planes of R*R bytes, unit-major), ``mins`` and ``maxs`` (U,) float32. A constant
    unit (max == min) is all zeros; a non-finite range is treated as constant.
    """
    layers = [np.asarray(H)] if isinstance(H, np.ndarray) else [np.asarray(h) for h in H]
    for h in layers:
        if h.ndim != 2:
            raise ValueError(f"hidden outputs must be (N, units), got shape {h.shape}")
    if not layers:
        empty = np.zeros(0, dtype=np.float32)
        return b"", empty, empty.copy()
    n = layers[0].shape[0]
    if any(h.shape[0] != n for h in layers):
        raise ValueError("every hidden layer must have the same number of grid points")
    units = sum(h.shape[1] for h in layers)
    work = np.empty((units, n), dtype=np.float32)
    mins = np.empty(units, dtype=np.float32)
    maxs = np.empty(units, dtype=np.float32)
    start = 0
    for h in layers:  # one iteration per layer, not per unit
        stop = start + h.shape[1]
        if n:
            mins[start:stop] = h.min(axis=0)
            maxs[start:stop] = h.max(axis=0)
            np.subtract(h.T, mins[start:stop, None], out=work[start:stop], casting="unsafe")
        start = stop
    if n == 0:
        mins[:] = 0.0
        maxs[:] = 0.0
    span = maxs - mins
    ok = np.isfinite(span) & (span > 0)
    scale = np.zeros(units, dtype=np.float32)
    np.divide(np.float32(255.0), span, out=scale, where=ok)
    with np.errstate(invalid="ignore"):  # inf * 0 in a non-finite unit -> NaN -> 0 below
        np.multiply(work, scale[:, None], out=work)
    planes = np.empty((units, n), dtype=np.uint8)
    _scale_to_byte(work, planes)
    return planes.tobytes(), mins, maxs
