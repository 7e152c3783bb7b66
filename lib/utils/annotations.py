"""Parsing of the benchmarks' annotation text files, with errors that name the file and the line.

numpy only (no torch): training and evaluation readers share it. The fast path is the exact integer scan of
lib/utils/numeric_text.py; texts it cannot read go to numpy's loadtxt, and only when that fails is the text walked
line by line to say exactly what is wrong where.
"""
from __future__ import annotations

import io
import re
from typing import Optional, Sequence

import numpy as np

from lib.utils.cli import UserError
from lib.utils.numeric_text import parse_int_list, parse_table

__all__ = ["AnnotationError", "DataFileError", "parse_boxes", "parse_rectangles", "parse_flags", "check_box_sizes", "check_length", "parse_key_values"]


class AnnotationError(ValueError):
    """An annotation file does not have the expected content; the message names the file and line."""


class DataFileError(UserError, AnnotationError):
    """A dataset file or folder a reader cannot use, reported to the user as one line naming it."""


_WHITESPACE_OR_COMMA = re.compile(r"[,\s]+")


def _split_line(line: str, delimiter: Optional[str]) -> list[str]:
    """Tokens of one line: delimiter None = comma and/or whitespace (OTB's mixed files), else that character."""
    stripped = line.strip()
    if delimiter is None:
        return _WHITESPACE_OR_COMMA.split(stripped)
    return [t.strip() for t in stripped.split(delimiter)]


def _explain(text: str, where: str, delimiter: Optional[str], columns: int) -> AnnotationError:
    """Find the first bad line (slow path, only after the fast parser failed)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tokens = _split_line(line, delimiter)
        if len(tokens) != columns:
            return AnnotationError(f"{where}, line {number}: expected {columns} values separated by "
                                   f"{_delimiter_name(delimiter)}, got {len(tokens)}: {line.strip()!r}")
        for token in tokens:
            try:
                float(token)
            except ValueError:
                return AnnotationError(f"{where}, line {number}: '{token}' is not a number: {line.strip()!r}")
    return AnnotationError(f"{where}: cannot parse the file as rows of {columns} numbers")


def _delimiter_name(delimiter: Optional[str]) -> str:
    return {None: "commas or whitespace", ",": "commas", "\t": "TABs", " ": "spaces"}.get(delimiter,
                                                                                        repr(delimiter))


def parse_boxes(text: str, where: str, delimiter: Optional[str] = ",", allow_nan: bool = False,
                columns: int = 4) -> np.ndarray:
    """Rows of `columns` numbers -> float64 array (N, columns). Blank lines are ignored.

    `delimiter=None` accepts commas and/or whitespace per line. NaN (any case) is accepted only with `allow_nan`.
    """
    boxes = parse_table(text.encode("utf-8"), columns, delimiter)
    if boxes is None:
        boxes = _parse_boxes_exact(text, where, delimiter, columns)
    if not allow_nan:
        bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
        if bad.size:
            raise AnnotationError(f"{where}, line {_line_of_row(text, int(bad[0]))}: NaN or infinite value, "
                                  f"which this benchmark does not allow")
    return boxes


def parse_rectangles(text: str, where: str, delimiter: Optional[str] = None) -> np.ndarray:
    """Rows of `x,y,w,h` or of 8-value polygons (some DepthTrack / VisEvent files) -> (N, 4) float64 axis-aligned
    boxes; NaN rows (absent target) stay NaN."""
    try:
        return parse_boxes(text, where, delimiter=delimiter, allow_nan=True)
    except AnnotationError as error:
        try:
            points = parse_boxes(text, where, delimiter=delimiter, allow_nan=True, columns=8).reshape(-1, 4, 2)
        except AnnotationError:
            raise error from None
    corner = points.min(axis=1)
    return np.concatenate([corner, points.max(axis=1) - corner], axis=1)


def _parse_boxes_exact(text: str, where: str, delimiter: Optional[str], columns: int) -> np.ndarray:
    """numpy's loadtxt for what the fast scan does not read (NaN, spaces, blank lines), and the error messages."""
    if not text.strip():
        raise AnnotationError(f"{where}: empty annotation file")
    if delimiter is None:
        lines = (_WHITESPACE_OR_COMMA.sub(" ", line).strip() for line in text.splitlines())
        text_for_numpy, np_delimiter = "\n".join(lines), None
    else:
        text_for_numpy, np_delimiter = text, delimiter
    try:
        boxes = np.loadtxt(io.StringIO(text_for_numpy), delimiter=np_delimiter, dtype=np.float64, ndmin=2,
                           comments=None)
    except ValueError:
        raise _explain(text, where, delimiter, columns) from None
    if boxes.shape[1] != columns:
        raise _explain(text, where, delimiter, columns)
    return boxes


def _line_of_row(text: str, row: int) -> int:
    """1-based line number of data row `row` (blank lines are skipped by the parser)."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            seen += 1
            if seen == row:
                return number
    return row + 1


def check_box_sizes(boxes: np.ndarray, where: str, text: str, present: Optional[np.ndarray] = None) -> None:
    """Reject a negative width or height on frames where the target is present (all frames if `present` is None).

    Absent frames may carry junk boxes (LaSOT's maintainers say so), which is why they are exempt.
    """
    negative = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if present is not None:
        negative &= present
    bad = np.flatnonzero(negative)
    if bad.size:
        row = int(bad[0])
        raise AnnotationError(f"{where}, line {_line_of_row(text, row)}: negative width or height "
                              f"{boxes[row, 2]:g} x {boxes[row, 3]:g} on a frame where the target is present")


def parse_flags(text: str, where: str) -> np.ndarray:
    """Integers separated by commas and/or newlines (LaSOT: one comma line; GOT-10k: one per line) -> int64 array."""
    values = parse_int_list(text.encode("utf-8"))
    if values is not None:
        return values
    tokens = [t for t in _WHITESPACE_OR_COMMA.split(text.strip()) if t]
    if not tokens:
        raise AnnotationError(f"{where}: empty label file")
    try:
        return np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        line = next((n for n, l in enumerate(text.splitlines(), 1) if bad in _WHITESPACE_OR_COMMA.split(l)), 1)
        raise AnnotationError(f"{where}, line {line}: '{bad}' is not an integer") from None


def check_length(values: Sequence, expected: int, where: str, what: str, reference: str) -> None:
    if len(values) != expected:
        raise AnnotationError(f"{where}: {len(values)} {what}, but {reference} has {expected}")


def parse_key_values(text: str, where: str, required: Sequence[str]) -> dict[str, str]:
    """`key: value` lines (GOT-10k meta_info.ini); the `[SECTION]` header is skipped."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            values[key.strip()] = value.strip()
    missing = [k for k in required if k not in values]
    if missing:
        raise AnnotationError(f"{where}: missing keys {missing} (expected `key: value` lines)")
    return values


def parse_resolution(value: str, where: str) -> tuple[float, float]:
    """GOT-10k's `resolution: (W, H)` value -> (W, H), the image bound the got10k toolkit clips boxes to."""
    numbers = value.strip().lstrip("(").rstrip(")").split(",")
    try:
        width, height = (float(n) for n in numbers)
    except ValueError:
        raise AnnotationError(f"{where}: resolution '{value}' is not '(W, H)'") from None
    return width, height
