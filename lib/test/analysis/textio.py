"""Reading numeric result files fast, and writing files atomically.

Result files hold one row per frame (`x<TAB>y<TAB>w<TAB>h`, or comma-separated; time files one value per line).
A LaSOT-size evaluation reads ~1.4 million such rows; `np.loadtxt` spends ~2 ms per 2,500-row file here, which
would dominate the analysis. The fast path below parses the common formats (integers, or decimals with the same
number of digits after the point in every field, as `%d` / `%.2f` / `%f` writers produce) with one integer scan:
removing the decimal point turns every field into an exact integer mantissa, and one division by 10**k gives
the correctly rounded float, i.e. bit-identical to what `float()` / `np.loadtxt` return. Anything else (NaN,
exponents, spaces, ragged rows, mixed decimals) goes to `np.loadtxt`, which also produces the error messages.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from typing import Callable, IO

import numpy as np

__all__ = ["read_numeric_file", "parse_numeric_text", "atomic_write", "atomic_write_text"]

_TAB, _NL, _DOT = 9, 10, 46
# Mantissas above 2**53 or more than 15 decimals would not convert exactly; such files take the slow path.
_MAX_EXACT = 2 ** 53
_MAX_DECIMALS = 15


def read_numeric_file(path: str, ncols: int) -> np.ndarray:
    """Rows of `ncols` float64 values from a TAB- or comma-separated text file (TAB tried first, as pytracking).

    Returns an (N, ncols) array (N may be 0 for an empty file). Raises ValueError naming the file when the content
    is not a table of `ncols` numbers.
    """
    with open(path, "rb") as f:
        raw = f.read()
    return parse_numeric_text(raw, ncols, source=path)


def parse_numeric_text(raw: bytes, ncols: int, source: str = "<text>") -> np.ndarray:
    """`read_numeric_file` for bytes already in memory; `source` names them in error messages."""
    text = raw.strip()
    if not text:
        return np.zeros((0, ncols))
    fast = _parse_fast(text, ncols)
    return fast if fast is not None else _parse_slow(text, ncols, source)


def _parse_fast(text: bytes, ncols: int) -> np.ndarray | None:
    if b" " in text or b"\r" in text:
        return None
    first_line = text[:text.find(b"\n")] if b"\n" in text else text
    if ncols > 1 and b"\t" not in first_line:
        text = text.replace(b",", b"\t")  # same length: byte positions stay valid
    elif b"," in text:
        return None
    rows = text.count(b"\n") + 1
    if text.count(b"\t") != (ncols - 1) * rows:
        return None
    b = np.frombuffer(text, np.uint8)
    if ncols > 1 and not _one_row_per_line(b, rows, ncols):
        return None
    decimals = _uniform_decimals(text, b, rows * ncols)
    if decimals is None:
        return None
    digits = text.replace(b".", b"") if decimals else text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (not raises) when the scan stops at an unexpected character
        try:
            values = np.fromstring(digits, dtype=np.int64, sep=" ")
        except (DeprecationWarning, ValueError):
            return None
    if values.size != rows * ncols or (values.size and np.abs(values).max() >= _MAX_EXACT):
        return None
    out = values.astype(np.float64).reshape(rows, ncols)
    if decimals:
        out /= 10.0 ** decimals  # exact mantissa / exact power of ten = correctly rounded decimal
    return out


def _one_row_per_line(b: np.ndarray, rows: int, ncols: int) -> bool:
    """Every line holds exactly ncols-1 delimiters (the total alone would accept ragged rows)."""
    tabs = np.flatnonzero(b == _TAB).reshape(rows, ncols - 1)
    newlines = np.flatnonzero(b == _NL)
    return bool((tabs[:-1, -1] < newlines).all() and (tabs[1:, 0] > newlines).all())


def _uniform_decimals(text: bytes, b: np.ndarray, nfields: int) -> int | None:
    """Digits after the point, when it is the same in every field (0 when no field has a point); else None."""
    ndots = text.count(b".")
    if ndots == 0:
        return 0
    if ndots != nfields:
        return None
    dots = np.flatnonzero(b == _DOT)
    end = int(dots[0]) + 1
    while end < len(text) and 48 <= text[end] <= 57:
        end += 1
    decimals = end - int(dots[0]) - 1
    if decimals > _MAX_DECIMALS:
        return None
    # Each point must be followed by exactly `decimals` digits and then a delimiter or the end of the text; with
    # one point per field this pins every field's decimals (a second point in a field would break the pattern).
    padded = np.concatenate((b, np.full(decimals + 1, _NL, np.uint8)))
    for k in range(1, decimals + 1):
        c = padded[dots + k]
        if ((c < 48) | (c > 57)).any():
            return None
    after = padded[dots + decimals + 1]
    if not ((after == _TAB) | (after == _NL)).all():
        return None
    return decimals


def _parse_slow(text: bytes, ncols: int, source: str) -> np.ndarray:
    errors = []
    for delimiter in ("\t", ","):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = np.loadtxt(text.decode("utf-8").splitlines(), delimiter=delimiter, dtype=np.float64,
                                 ndmin=2)
        except (ValueError, UnicodeDecodeError) as e:
            errors.append(f"delimiter {delimiter!r}: {e}")
            continue
        if arr.shape[1] == ncols:
            return arr
        errors.append(f"delimiter {delimiter!r}: {arr.shape[1]} columns")
    raise ValueError(f"{source}: expected {ncols} numbers per line separated by TAB or comma "
                     f"({'; '.join(errors)})")


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Call write(file) on a temporary file in the target folder, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
