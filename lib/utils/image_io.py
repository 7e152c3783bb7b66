"""Image decoding for the data pipelines: RGB uint8 arrays, clear errors for missing or damaged files.

jpeg4py (libjpeg-turbo) is used when it imports *and* its shared library loads; otherwise OpenCV, with one
logged notice per process. Both decoders may return partial pixel data for a truncated JPEG instead of failing,
so JPEG input is checked for its start and end markers before decoding.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Optional

import cv2
import numpy as np

__all__ = ["ImageReadError", "imread_rgb", "decode_rgb", "jpeg_backend"]

_LOG = logging.getLogger(__name__)
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
# Some encoders pad after the end-of-image marker; accept a short tail of padding.
_EOI_SEARCH_TAIL = 64

_jpeg4py_decode: Optional[Callable[[np.ndarray], np.ndarray]] = None
_backend: Optional[str] = None


class ImageReadError(OSError):
    """An image file is missing, unreadable, truncated or not an image; the message names the file."""


def _probe_jpeg4py() -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """Return jpeg4py's decoder if the package imports and libturbojpeg loads, else None."""
    try:
        import jpeg4py
        from jpeg4py import _cffi
        # load the shared library first: a failing JPEG() constructor leaves noisy __del__ errors behind
        _cffi.initialize()
        _, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
        jpeg4py.JPEG(np.frombuffer(buf.tobytes(), np.uint8)).decode()
    except Exception:  # any failure (missing package, missing shared library) means: use OpenCV
        return None
    return lambda buf: jpeg4py.JPEG(buf).decode()


def jpeg_backend() -> str:
    """'jpeg4py' or 'opencv': the JPEG decoder this process uses (probed on first call)."""
    global _jpeg4py_decode, _backend
    if _backend is None:
        _jpeg4py_decode = _probe_jpeg4py()
        _backend = "jpeg4py" if _jpeg4py_decode is not None else "opencv"
        if _backend == "opencv":
            _LOG.warning("jpeg4py/libturbojpeg not available; decoding JPEG images with OpenCV")
    return _backend


def _is_jpeg_name(name: str) -> bool:
    return name.lower().endswith((".jpg", ".jpeg"))


def _check_jpeg(data: bytes, name: str) -> None:
    if not data.startswith(_JPEG_SOI):
        raise ImageReadError(f"{name}: not a JPEG file (missing start-of-image marker)")
    if _JPEG_EOI not in data[-_EOI_SEARCH_TAIL:]:
        raise ImageReadError(f"{name}: truncated JPEG file (missing end-of-image marker)")


def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """Decode encoded image bytes to an HxWx3 uint8 RGB array; `name` (file or key) is used in errors."""
    if len(data) == 0:
        raise ImageReadError(f"{name}: empty image file")
    buf = np.frombuffer(data, np.uint8)
    if _is_jpeg_name(name) or data.startswith(_JPEG_SOI):
        _check_jpeg(data, name)
        if jpeg_backend() == "jpeg4py":
            try:
                return _jpeg4py_decode(buf)
            except Exception as e:
                raise ImageReadError(f"{name}: cannot decode JPEG ({type(e).__name__}: {e})") from e
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{name}: cannot decode image (unreadable or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def imread_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array; raise ImageReadError naming the file on any problem."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as e:
        raise ImageReadError(f"{path}: image file not found") from e
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read image file ({e})") from e
    return decode_rgb(data, path)
