"""Python source for values: numbers, lists and arrays written so that they read back exactly.

A float is written with Python's shortest round-trip ``repr``, so the exported script holds
bit for bit the weights and points the server has; long rows are wrapped at ``WIDTH``
characters so that a 256-unit layer stays a readable (if long) block of text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

WIDTH = 96
"""Soft width of generated lines (numbers are never split)."""


def number(v: float | int | np.integer | np.floating) -> str:
    """One finite number as Python source; ints stay ints, floats round-trip exactly."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("a bool is not a number here")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"cannot export a non-finite number ({f!r})")
    return repr(f)


def _wrap(items: Sequence[str], indent: int) -> str:
    """``[a, b, ...]`` on one line if it fits, else wrapped with ``indent`` spaces."""
    one = "[" + ", ".join(items) + "]"
    if indent + len(one) <= WIDTH:
        return one
    pad = " " * (indent + 4)
    lines: list[str] = []
    line = ""
    for item in items:
        piece = item + ","
        if line and len(pad) + len(line) + 1 + len(piece) > WIDTH:
            lines.append(pad + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(pad + line)
    return "[\n" + "\n".join(lines) + "\n" + " " * indent + "]"


def vector(values: Iterable[Any], indent: int = 0) -> str:
    """A flat list of numbers."""
    return _wrap([number(v) for v in values], indent)


def matrix(rows: Iterable[Iterable[Any]], indent: int = 0) -> str:
    """A list of rows (each a list of numbers), one row per line when it does not fit."""
    rendered = [vector(r, indent + 4) for r in rows]
    one = "[" + ", ".join(rendered) + "]"
    if indent + len(one) <= WIDTH and "\n" not in one:
        return one
    pad = " " * (indent + 4)
    body = ",\n".join(pad + r for r in rendered)
    return "[\n" + body + ",\n" + " " * indent + "]"


def array(a: np.ndarray, indent: int = 0) -> str:
    """A 1-D or 2-D array as nested lists (wrap it in ``np.array(...)`` in the script)."""
    a = np.asarray(a)
    if a.ndim == 1:
        return vector(a.tolist(), indent)
    if a.ndim == 2:
        return matrix(a.tolist(), indent)
    raise ValueError(f"only 1-D and 2-D arrays are exported, got shape {a.shape}")


def points(a: np.ndarray, indent: int = 0) -> str:
    """(N, 2) points as pairs, several pairs a line (a column of 5,000 lines reads worse)."""
    pairs = [f"[{number(x)}, {number(y)}]" for x, y in np.asarray(a, dtype=np.float64).tolist()]
    return _wrap(pairs, indent)


def value(v: Any, indent: int = 0) -> str:
    """A JSON-like value (None, bool, str, number, list, dict) as Python source."""
    if v is None or isinstance(v, (bool, str)):
        return repr(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return number(v)
    if isinstance(v, np.ndarray):
        return array(v, indent)
    if isinstance(v, (list, tuple)):
        return _wrap([value(x, indent + 4) for x in v], indent)
    if isinstance(v, dict):
        items = [f"{k!r}: {value(x, indent + 4)}" for k, x in v.items()]
        one = "{" + ", ".join(items) + "}"
        if indent + len(one) <= WIDTH and "\n" not in one:
            return one
        pad = " " * (indent + 4)
        return "{\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + "}"
    raise TypeError(f"cannot export a {type(v).__name__}")
