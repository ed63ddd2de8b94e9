"""The evaluation grid and its quantised frame payloads, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_playground.data.datasets import DOMAIN
from mlp_playground.data.grid import grid_points, probabilities_to_frame_cells, quantize_units


def test_grid_orientation_and_cell_centres():
    # Domain x1 in [0, 4], x2 in [10, 12]; R = 2: cells 2 wide in x1 and 1 tall in x2.
    P = grid_points((0.0, 4.0, 10.0, 12.0), 2)
    np.testing.assert_array_equal(P, [[1.0, 11.5], [3.0, 11.5], [1.0, 10.5], [3.0, 10.5]])


def test_grid_top_left_and_bottom_right_over_the_domain():
    r = 100
    P = grid_points(DOMAIN, r)
    half = 12.0 / (2 * r)
    assert P.shape == (r * r, 2) and P.dtype == np.float64
    np.testing.assert_allclose(P[0], [-6.0 + half, 6.0 - half])  # top-left
    np.testing.assert_allclose(P[r - 1], [6.0 - half, 6.0 - half])  # top-right
    np.testing.assert_allclose(P[-1], [6.0 - half, -6.0 + half])  # bottom-right
    img = P.reshape(r, r, 2)
    assert np.all(np.diff(img[:, :, 0], axis=1) > 0)  # x1 grows along a row
    assert np.all(np.diff(img[:, :, 1], axis=0) < 0)  # x2 falls down the rows
    np.testing.assert_allclose(np.diff(img[0, :, 0]), 2 * half)


def test_grid_float32_and_out():
    out = np.empty((9, 2), dtype=np.float32)
    assert grid_points((-1, 2, -1, 2), 3, out=out) is out
    np.testing.assert_array_equal(out[:3], [[-0.5, 1.5], [0.5, 1.5], [1.5, 1.5]])
    assert grid_points(DOMAIN, 4, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    ("domain", "resolution", "message"),
    [
        (DOMAIN, 0, "1..4096"),
        (DOMAIN, 2.5, "integer"),
        ((1.0, 1.0, 0.0, 1.0), 4, "x1_min < x1_max"),
        ((0.0, 1.0, 0.0, float("nan")), 4, "finite"),
        ((0.0, 1.0, 0.0), 4, "x1_min, x1_max"),
    ],
)
def test_grid_rejects_bad_arguments(domain, resolution, message):
    with pytest.raises(ValueError, match=message):
        grid_points(domain, resolution)


def test_frame_cells_two_classes_by_hand():
    proba = np.array([[0.8, 0.2], [0.25, 0.75], [0.5, 0.5], [0.0, 1.0], [0.6, 0.4]])
    # (argmax, round(255 * p)): 0.8 -> 204; 0.75 -> 191.25 -> 191; a tie goes to class 0
    # and 127.5 rounds half to even -> 128; 1.0 -> 255; 0.6 -> 153.
    expected = bytes([0, 204, 1, 191, 0, 128, 1, 255, 0, 153])
    assert probabilities_to_frame_cells(proba) == expected
    assert probabilities_to_frame_cells(proba.astype(np.float32)) == expected


def test_frame_cells_many_classes_by_hand():
    third = 1.0 / 3.0
    proba = np.array(
        [[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.41, 0.39], [0.1, 0.45, 0.45], [third] * 3]
    )
    # 0.7*255 = 178.5 rounds half to even (as Python's round) -> 178; 0.41*255 = 104.55 -> 105;
    # ties go to the first class: 0.45*255 = 114.75 -> 115, 255/3 = 85.
    assert probabilities_to_frame_cells(proba) == bytes([2, 178, 0, 153, 1, 105, 1, 115, 0, 85])
    out = np.zeros((5, 2), dtype=np.uint8)
    probabilities_to_frame_cells(proba, out=out)
    assert out.tolist() == [[2, 178], [0, 153], [1, 105], [1, 115], [0, 85]]


def test_frame_cells_never_overflow_on_bad_values():
    proba = np.array([[np.nan, np.nan], [1.0000001, 0.0], [0.0, -0.5]])
    cells = probabilities_to_frame_cells(proba)
    assert len(cells) == 6
    assert cells[1] == 0 and cells[3] == 255 and cells[5] == 0


def test_frame_cells_reject_bad_shape():
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        probabilities_to_frame_cells(np.zeros(4))


def test_quantize_units_by_hand():
    H = np.array([[0.0, 5.0, -1.0], [1.0, 5.0, 1.0], [0.5, 5.0, 0.0], [0.25, 5.0, 0.5]])
    planes, mins, maxs = quantize_units(H)
    # unit-major planes: each unit scaled to 0..255 by its own min and max.
    assert planes == bytes([0, 255, 128, 64, 0, 0, 0, 0, 0, 255, 128, 191])
    assert mins.dtype == np.float32 and maxs.dtype == np.float32
    assert mins.tolist() == [0.0, 5.0, -1.0] and maxs.tolist() == [1.0, 5.0, 1.0]


def test_quantize_units_accepts_a_list_of_layers():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(25, 4)), rng.normal(size=(25, 2)).astype(np.float32)]
    planes, mins, maxs = quantize_units(layers)
    whole, wmins, wmaxs = quantize_units(np.concatenate(layers, axis=1).astype(np.float32))
    assert planes == whole and len(planes) == 6 * 25
    np.testing.assert_array_equal(mins, wmins)
    np.testing.assert_array_equal(maxs, wmaxs)
    p = np.frombuffer(planes, dtype=np.uint8).reshape(6, 25)
    assert (p.min(axis=1) == 0).all() and (p.max(axis=1) == 255).all()


def test_quantize_units_non_finite_unit_is_zeros_and_empty_is_empty():
    H = np.array([[np.inf, 0.0], [1.0, 2.0]])
    planes, _, _ = quantize_units(H)
    assert planes == bytes([0, 0, 0, 255])
    planes, mins, maxs = quantize_units([])
    assert planes == b"" and mins.size == 0 and maxs.size == 0
