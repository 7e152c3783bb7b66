"""Fast, exact parsing of numeric text tables: annotation, result and time files. numpy only (no torch).

A LaSOT-size evaluation reads ~1.4 million result rows and ~700,000 ground-truth rows; `np.loadtxt` spends ~2 ms
per 2,500-row file here, which would dominate both loading a benchmark and scoring it. The fast path parses the
usual formats (integers, or decimals with a point in every field, as `%d` / `%.4f` / `repr` writers produce) of
many texts in one integer scan: removing the points turns every field into an exact integer mantissa, and one
division by 10**decimals gives the correctly rounded float, i.e. bit-identical to what `float()` / `np.loadtxt`
return. Anything else (NaN, exponents, spaces, blank or ragged lines, fields with and without points mixed) makes
the fast path answer None, and the caller's exact slow path reads the text and words the error messages.
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

__all__ = ["parse_table", "parse_int_list", "read_numeric_file", "read_numeric_files", "parse_numeric_text",
           "parse_numeric_texts"]

_TAB, _NL, _DOT, _MINUS, _PLUS, _ZERO = 9, 10, 46, 45, 43, 48
# Mantissas of 2**53 or more would not convert exactly; such texts take the slow path. Powers of ten are exact
# doubles up to 10**22.
_MAX_EXACT = 2 ** 53
_MAX_DECIMALS = 22
_POW10 = np.array([float(10 ** k) for k in range(_MAX_DECIMALS + 1)])
# Integers at or beyond this take the slow path: numpy's text scan (strtoll) saturates at the int64 limits, so an
# out-of-range number shows up as a limit value.
_MAX_INT = 2 ** 62
_INT_LIST_SEPARATORS = b", \t\n\r\x0b\x0c"
_INT_LIST_BYTES = b"0123456789+-" + _INT_LIST_SEPARATORS
_IS_SEPARATOR = np.zeros(256, dtype=bool)
_IS_SEPARATOR[list(_INT_LIST_SEPARATORS)] = True


# --- annotation side: one text, a known delimiter ----------------------------------------------------------------

def parse_table(raw: bytes, ncols: int, delimiter: Optional[str]) -> Optional[np.ndarray]:
    """(N, ncols) float64 rows of `ncols` numbers separated by `delimiter` (',' or TAB; None: comma or TAB, as a
    tokenizer splitting on commas and whitespace reads them), or None when the fast path cannot read the text.

    A non-None answer is exactly what `np.loadtxt` gives; None says nothing about validity (NaN rows, spaces and
    blank lines are valid but slow), so the caller then parses the text its exact way.
    """
    text = (raw.replace(b"\r\n", b"\n") if b"\r" in raw else raw).strip(b"\n")
    if not text or b" " in text or b"\r" in text:
        return None
    if delimiter == "\t":
        if b"," in text:
            return None
    elif delimiter == "," and b"\t" in text:
        return None
    elif delimiter not in (",", None):
        return None
    parsed = _parse_fast(text.replace(b",", b"\t"), ncols)  # same length: byte positions stay valid
    return None if parsed is None else parsed[0]


def parse_int_list(raw: bytes) -> Optional[np.ndarray]:
    """int64 values of integers separated by commas and/or whitespace, or None when the fast path cannot read the
    text (anything but signs, digits and separators, a number of 2**62 or more, or no number at all)."""
    digits = _single_digits(raw.strip())
    if digits is not None:
        return digits
    text = raw.replace(b",", b" ")
    if text.translate(None, _INT_LIST_BYTES) or _misplaced_sign(text):
        return None
    values = _scan_int64(text)
    if values is None or values.size == 0 or values.size != len(text.split()):
        return None
    if values.max() >= _MAX_INT or values.min() <= -_MAX_INT:
        return None
    return values


def _single_digits(text: bytes) -> Optional[np.ndarray]:
    """The usual label file (LaSOT occlusion flags, GOT-10k absence/cover labels): one-digit numbers with one
    separator byte between them, read without a text scan; None for anything else."""
    b = np.frombuffer(text, np.uint8)
    if len(b) % 2 == 0:
        return None
    digits = b[0::2] - np.uint8(_ZERO)  # bytes below '0' wrap around to large values
    if (digits > 9).any() or not _IS_SEPARATOR[b[1::2]].all():
        return None
    return digits.astype(np.int64)


# --- result side: many files, TAB or comma decided per file ----------------------------------------------------

def read_numeric_file(path: str, ncols: int) -> np.ndarray:
    """Rows of `ncols` float64 values from a TAB- or comma-separated text file (TAB tried first, as pytracking).

    Returns an (N, ncols) array (N may be 0 for an empty file). Raises ValueError naming the file when the content
    is not a table of `ncols` numbers.
    """
    return read_numeric_files([path], ncols)[0]


def read_numeric_files(paths: Sequence[str], ncols: int) -> list[np.ndarray]:
    """`read_numeric_file` for many files, parsed together (one scan for all, which is what makes it fast)."""
    raws = []
    for path in paths:
        with open(path, "rb") as f:
            raws.append(f.read())
    return parse_numeric_texts(raws, ncols, list(paths))


def parse_numeric_text(raw: bytes, ncols: int, source: str = "<text>") -> np.ndarray:
    """`read_numeric_file` for bytes already in memory; `source` names them in error messages."""
    return parse_numeric_texts([raw], ncols, [source])[0]


def parse_numeric_texts(raws: Sequence[bytes], ncols: int, sources: Sequence[str]) -> list[np.ndarray]:
    out: list[np.ndarray | None] = [None] * len(raws)
    batch, texts = [], []
    for i, raw in enumerate(raws):
        text = _normalised(raw.strip(), ncols)
        if text is None:
            out[i] = _parse_single(raw, ncols, sources[i])
        else:
            batch.append(i)
            texts.append(text)
    parsed = _parse_fast(b"\n".join(texts), ncols) if texts else None
    if parsed is None:
        for i in batch:
            out[i] = _parse_single(raws[i], ncols, sources[i])
        return out
    values, line_ends = parsed
    # The texts are joined by newlines, so the line that ends where a text ends gives that text's row count.
    text_ends = np.cumsum([len(t) + 1 for t in texts]) - 1
    rows = np.searchsorted(line_ends, text_ends) + 1
    for i, part in zip(batch, np.split(values, rows[:-1])):
        out[i] = part
    return out


def _normalised(text: bytes, ncols: int) -> bytes | None:
    """TAB-delimited text for the fast path (the delimiter is the first line's), or None for the slow path."""
    if not text or b" " in text or b"\r" in text:
        return None
    if ncols == 1:
        return None if b"," in text or b"\t" in text else text
    newline = text.find(b"\n")
    first_line = text if newline < 0 else text[:newline]
    if b"\t" in first_line:
        return None if b"," in text else text
    return text.replace(b",", b"\t")  # same length: byte positions stay valid


def _parse_single(raw: bytes, ncols: int, source: str) -> np.ndarray:
    text = raw.strip()
    if not text:
        return np.zeros((0, ncols))
    normalised = _normalised(text, ncols)
    fast = _parse_fast(normalised, ncols) if normalised is not None else None
    return fast[0] if fast is not None else _parse_slow(text, ncols, source)


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


# --- the shared integer scan -----------------------------------------------------------------------------------

def _parse_fast(text: bytes, ncols: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows x ncols values, byte offsets of the line ends) of TAB/newline-delimited decimal numbers; None when
    the text is anything but that."""
    rows = text.count(b"\n") + 1
    if text.count(b"\t") != (ncols - 1) * rows:
        return None
    b = np.frombuffer(text, np.uint8)
    ends = _field_ends(b, rows, ncols)
    if ends is None:
        return None
    decimals = _decimals(text, b, ends)
    if decimals is False or _misplaced_sign(text, b):
        return None
    digits = text.replace(b".", b"") if decimals is not None else text
    values = _scan_int64(digits)
    if values is None or values.size != rows * ncols:
        return None
    if values.size and max(values.max(), -values.min()) >= _MAX_EXACT:
        return None
    out = values.astype(np.float64)
    if decimals is not None:
        out /= _POW10[decimals]  # exact mantissa / exact power of ten = the correctly rounded decimal
    if b"-" in text:
        _restore_negative_zeros(out, b, ends)
    return out.reshape(rows, ncols), ends[ncols - 1::ncols]


def _scan_int64(text: bytes) -> np.ndarray | None:
    """Whitespace-separated integers as int64, or None when numpy's scan stops at an unexpected character."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (or raises) there instead of failing
        try:
            return np.fromstring(text, dtype=np.int64, sep=" ")
        except (DeprecationWarning, ValueError):
            return None


def _misplaced_sign(text: bytes, b: Optional[np.ndarray] = None) -> bool:
    """Whether a '+' or '-' does not start a number: it must open its field (follow a separator, all of which
    sort below '+') and be followed by a digit, or by '.' and a digit. numpy's scan reads a lone sign as 0 or
    joins it with the next number, and a sign after a point would vanish with the point, where float() and int()
    refuse them."""
    if b"-" not in text and b"+" not in text:
        return False
    b = np.frombuffer(text, np.uint8) if b is None else b
    signs = np.flatnonzero((b == _MINUS) | (b == _PLUS) if b"+" in text else b == _MINUS)
    after = signs + 1
    if after[-1] >= len(b) or (b[signs[signs > 0] - 1] >= _PLUS).any():
        return True
    digit = (b[after] - np.uint8(_ZERO)) < 10
    dot = np.flatnonzero(~digit & (b[after] == _DOT))
    if dot.size:
        if after[dot[-1]] + 1 >= len(b):
            return True
        digit[dot] = (b[after[dot] + 1] - np.uint8(_ZERO)) < 10
    return not digit.all()


def _restore_negative_zeros(values: np.ndarray, b: np.ndarray, ends: np.ndarray) -> None:
    """'-0' / '-0.000' are -0.0 for float(); the integer mantissa lost the sign."""
    zeros = np.flatnonzero(values == 0)
    if zeros.size:
        starts = np.where(zeros > 0, ends[zeros - 1] + 1, 0)
        values[zeros[b[starts] == _MINUS]] = -0.0


def _field_ends(b: np.ndarray, rows: int, ncols: int) -> np.ndarray | None:
    """Byte offset just past each field, row-major; None when a line does not hold exactly ncols fields.

    TAB (9) and newline (10) are the only bytes below 11 here, so one scan finds every field end in order; the
    counts were checked by the caller, so newlines exactly at every ncols-th end mean every line is complete.
    """
    ends = np.append(np.flatnonzero(b < 11), len(b))
    if len(ends) != rows * ncols:
        return None
    if ncols > 1 and rows > 1 and not (b[ends[ncols - 1:-1:ncols]] == _NL).all():
        return None
    return ends


def _decimals(text: bytes, b: np.ndarray, ends: np.ndarray):
    """Digits after the point per field (an int when all agree); None when no field has a point; False when some
    fields have one and others not, or a field has two (the slow path handles those)."""
    ndots = text.count(b".")
    if ndots == 0:
        return None
    if ndots != len(ends):
        return False
    # Usual case, one width everywhere: the point sits at the same distance from every field end, inside its own
    # field (every field longer than the decimals); with as many points as fields, that accounts for all of them.
    first = int(ends[0]) - text.find(b".") - 1
    if (0 <= first <= _MAX_DECIMALS and (b[ends - first - 1] == _DOT).all()
            and (np.diff(ends) > first + 1).all()):
        return first
    dots = np.flatnonzero(b == _DOT)
    decimals = ends - dots - 1
    # One point per field: every point lies before its field's end and after the previous field's end.
    if (decimals < 0).any() or not (dots[1:] > ends[:-1]).all() or decimals.max() > _MAX_DECIMALS:
        return False
    return decimals
