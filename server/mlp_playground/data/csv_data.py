"""User data as CSV: ``x1,x2,label`` text in (from any spreadsheet), and out.

The page's parser (static/js/csv.js) follows the same rules, and tests/csv_cases.json holds
cases both are tested against:

1. Lines split on ``\\n`` or ``\\r\\n``; blank lines and lines starting with ``#`` are
   skipped (a UTF-8 byte-order mark at the start is dropped).
2. The delimiter comes from the first non-blank, non-comment line: ``;`` if it has one,
   else a tab if it has one, else ``,``.
3. Fields may be double-quoted, RFC 4180 style (``""`` inside for a literal quote); the
   quotes are removed and surrounding spaces trimmed.
4. A field of the form ``^[+-]?\\d+,\\d+([eE][+-]?\\d+)?$`` is a decimal comma number: its
   comma becomes a point (with ``,`` as delimiter that is only possible inside quotes).
5. The first line is a header, and skipped, when its fields are not all numbers.
6. Each row is x1, x2, label (a non-negative integer; "2.0" counts as 2).

A number is ``[+-]digits[.digits][e[+-]digits]`` (either side of the point may be empty,
not both); ``nan``, ``inf`` and ``infinity`` (any case, with a sign) are recognised only to
be refused as not finite, and so is a number too large for a float.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np

_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+([eE][+-]?\d+)?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)


class DataError(ValueError):
    """Bad user data, with the 1-based line it was found on (``None`` for the whole text)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


def detect_delimiter(line: str) -> str:
    """``;`` if the line has one, else a tab if it has one, else ``,`` (rule 2)."""
    if ";" in line:
        return ";"
    return "\t" if "\t" in line else ","


def split_fields(line: str, delimiter: str, number: int) -> list[str]:
    """The fields of one line: quotes removed (``""`` is a quote), spaces trimmed, decimal
    commas made points. An unclosed quote, or text after a closing quote, is a DataError."""
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t" and line[i] != delimiter:
            i += 1
        if i < n and line[i] == '"':
            value, i = _quoted(line, i + 1, number)
            while i < n and line[i] in " \t" and line[i] != delimiter:
                i += 1
            if i < n and line[i] != delimiter:
                raise DataError(number, f"unexpected {line[i]!r} after a closing quote")
        else:
            end = line.find(delimiter, i)
            end = n if end < 0 else end
            value, i = line[i:end], end
        value = value.strip()
        if _DECIMAL_COMMA.fullmatch(value):
            value = value.replace(",", ".")
        fields.append(value)
        if i >= n:
            return fields
        i += 1  # past the delimiter


def _quoted(line: str, i: int, number: int) -> tuple[str, int]:
    """The content of a quoted field starting after its opening quote, and the index just
    past the closing quote."""
    parts: list[str] = []
    while True:
        j = line.find('"', i)
        if j < 0:
            raise DataError(number, 'a quoted field is not closed (missing ")')
        parts.append(line[i:j])
        if line.startswith('""', j):
            parts.append('"')
            i = j + 2
        else:
            return "".join(parts), j + 1


def _is_number(field: str) -> bool:
    return bool(_NUMBER.fullmatch(field) or _NON_FINITE.fullmatch(field))


def _parse_number(field: str, what: str, line: int) -> float:
    if not _is_number(field):
        raise DataError(line, f"{what} {field!r} is not a number")
    value = float(field)
    if not math.isfinite(value):
        raise DataError(line, f"{what} {field!r} is not a finite number")
    return value


def _parse_label(field: str, line: int) -> int:
    value = float(field) if _NUMBER.fullmatch(field) else math.nan
    # Accept "2.0" (what many tools export) but not "2.5".
    if not (math.isfinite(value) and value.is_integer()):
        raise DataError(line, f"label {field!r} is not an integer")
    if value < 0:
        raise DataError(line, f"label {int(value)} is negative; labels are 0, 1, 2, ...")
    return int(value)


def parse_csv(text: str, max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``x1,x2,label`` lines into ``X`` (N, 2) float64 and ``y`` (N,) int64.

    The rules are the module's (shared with the page). Any problem raises
    ``DataError(line, message)`` with the 1-based line number, so a user can fix the file:
    wrong column count, a non-numeric or non-finite coordinate, a label that is not a
    non-negative integer, a badly quoted field, no data rows, or more than ``max_rows``
    rows.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    xs: list[tuple[float, float]] = []
    labels: list[int] = []
    delimiter = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip() or line.strip().startswith("#"):
            continue
        first = delimiter is None
        if delimiter is None:
            delimiter = detect_delimiter(line)
        fields = split_fields(line, delimiter, number)
        if first and not all(_is_number(f) for f in fields):
            continue  # header
        if len(fields) != 3:
            raise DataError(number, f"expected 3 columns (x1,x2,label), got {len(fields)}")
        x1 = _parse_number(fields[0], "x1", number)
        x2 = _parse_number(fields[1], "x2", number)
        labels.append(_parse_label(fields[2], number))
        xs.append((x1, x2))
        if max_rows is not None and len(xs) > max_rows:
            raise DataError(number, f"too many rows; at most {max_rows} points are allowed")
    if not xs:
        raise DataError(None, "no data rows; expected lines of x1,x2,label")
    return np.array(xs, dtype=np.float64), np.array(labels, dtype=np.int64)


def to_csv(X: np.ndarray, y: np.ndarray) -> str:
    """``x1,x2,label`` text with a header; floats are written so they read back exactly."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"expected X (N, 2) and y (N,), got {X.shape} and {y.shape}")
    out = io.StringIO()
    out.write("x1,x2,label\n")
    integer = np.issubdtype(y.dtype, np.integer)
    for (a, b), label in zip(X.tolist(), y.tolist(), strict=True):
        out.write(f"{a!r},{b!r},{int(label) if integer else repr(float(label))}\n")
    return out.getvalue()
