"""A held-out evaluation split made of real photographs, built by a procedure of its own (TNL2K layout).

The quickstart's tracker is trained on generated content only. To judge it on imagery it was not made from, this
module composes sequences from the photographs bundled with scikit-image (and matplotlib's one sample photo), which
the project reserves for evaluation and never trains on: an object cut from one photo (an elliptical or rectangular
cut-out) moves over another photo seen through a moving camera (pan, zoom, shake), with scale and aspect change,
brightness change, blur, partial and full occlusion by a piece of a third photo, and a look-alike cut from the same
photo next to the target. The first third of the sequences are easy (slow, no occlusion, no look-alike).

The motion model here is independent of lib/synthetic/scene.py, so the split does not share the training
generator's regularities either. Ground truth is the target's true box in every frame (OTB convention: occluded
frames keep their box), written as TNL2K `groundtruth.txt`, so `test.py --dataset tnl2k` runs on it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from lib.synthetic.fileio import is_complete, write_dir_atomic, write_image
from lib.utils.cli import UserError

__all__ = ["photo_paths", "write_photo_split", "PhotoSequence", "simulate_photo_sequence"]

_SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                   "hubble_deep_field.jpg", "ihc.png", "retina.jpg", "camera.png", "brick.png", "grass.png",
                   "gravel.png")


def photo_paths() -> list[str]:
    """The evaluation-only photographs: scikit-image's bundled data and matplotlib's sample photo."""
    try:
        import skimage
    except ImportError:
        raise UserError("the real-content split needs scikit-image (bash install.sh installs it)") from None
    import matplotlib

    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    paths = [os.path.join(folder, name) for name in _SKIMAGE_PHOTOS]
    paths.append(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"evaluation photographs missing: {', '.join(missing)}")
    return paths


def _read_photo(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    return image


def _smooth(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Unit-variance random walk smoothed over about `width` frames (a low-pass trajectory)."""
    steps = rng.standard_normal(n + 64)
    kernel = np.hanning(int(2 * width) + 3)
    out = np.convolve(steps, kernel / kernel.sum(), mode="same")[32:32 + n]
    out = np.cumsum(out - out.mean())
    span = np.abs(out).max()
    return out / span if span > 0 else out


@dataclass
class PhotoSequence:
    """Per-frame geometry in frame coordinates (boxes x, y, w, h) and the appearance of one sequence."""
    boxes: np.ndarray        # (N, 4) target
    distractor: np.ndarray   # (N, 4) NaN rows when absent
    occluder: np.ndarray     # (N, 4) NaN rows when absent
    camera: np.ndarray       # (N, 3) centre x, centre y (background pixels) and zoom of the view
    gain: np.ndarray         # (N,)
    blur: np.ndarray         # (N,) Gaussian sigma in pixels, 0 for none
    easy: bool


def simulate_photo_sequence(rng: np.random.Generator, n: int, width: int, height: int, easy: bool
                            ) -> PhotoSequence:
    """Camera and object paths: the target moves in the world, the camera pans, zooms and shakes over it."""
    side = min(width, height)
    speed = rng.uniform(0.6, 1.4) if easy else rng.uniform(1.5, 3.5)  # path length scale, in frame sides
    cx = width / 2 + 0.32 * width * _smooth(rng, n, 25) * min(1.0, speed / 2)
    cy = height / 2 + 0.32 * height * _smooth(rng, n, 25) * min(1.0, speed / 2)
    cx += 0.04 * width * speed * np.sin(np.linspace(0, rng.uniform(2, 6) * speed, n) + rng.uniform(0, 6))
    size = side * rng.uniform(0.16, 0.3) * np.exp(0.25 * _smooth(rng, n, 40))
    aspect = rng.uniform(0.6, 1.6) * np.exp(0.15 * _smooth(rng, n, 40))
    w, h = size * np.sqrt(aspect), size / np.sqrt(aspect)
    boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    zoom = np.exp((0.08 if easy else 0.18) * _smooth(rng, n, 50))
    shake = 0 if easy else rng.uniform(0.5, 3.0)
    camera = np.stack([0.06 * width * _smooth(rng, n, 60) + shake * rng.standard_normal(n),
                       0.06 * height * _smooth(rng, n, 60) + shake * rng.standard_normal(n), zoom], axis=1)
    gain = np.exp((0.05 if easy else 0.25) * _smooth(rng, n, 30))
    blur = np.zeros(n)
    distractor = np.full((n, 4), np.nan)
    occluder = np.full((n, 4), np.nan)
    if not easy:
        start, length = int(rng.integers(0, n // 2)), int(rng.integers(n // 6, n // 3))
        blur[start:start + length] = rng.uniform(0.8, 2.0)
        distractor = _follower(rng, boxes, width)
        occluder = _passing_occluder(rng, boxes, n, side)
    return PhotoSequence(boxes, distractor, occluder, camera, gain, blur, easy)


def _follower(rng: np.random.Generator, boxes: np.ndarray, width: int) -> np.ndarray:
    """A look-alike that keeps a varying offset of about one to two target widths from the target."""
    n = len(boxes)
    angle = rng.uniform(0, 2 * np.pi) + 1.5 * _smooth(rng, n, 40)
    dist = boxes[:, 2] * (1.3 + 0.5 * _smooth(rng, n, 30))
    out = boxes.copy()
    out[:, 0] += dist * np.cos(angle)
    out[:, 1] += dist * np.sin(angle)
    out[:, 2:] *= rng.uniform(0.85, 1.15)
    return out


def _passing_occluder(rng: np.random.Generator, boxes: np.ndarray, n: int, side: int) -> np.ndarray:
    """A block that crosses the target once: it covers it completely for a few frames in the middle."""
    mid = int(rng.integers(n // 3, 2 * n // 3))
    span = int(rng.integers(12, 24))
    out = np.full((n, 4), np.nan)
    direction = rng.choice([-1.0, 1.0])
    for t in range(max(0, mid - span), min(n, mid + span)):
        x, y, w, h = boxes[mid]
        ow, oh = 1.6 * max(w, h), 1.6 * max(w, h)
        frac = (t - mid) / span  # -1 .. 1
        out[t] = [x + w / 2 - ow / 2 + direction * frac * 1.6 * ow, y + h / 2 - oh / 2, ow, oh]
    return out


def _cutout(photo: np.ndarray, rng: np.random.Generator, near: tuple[int, int] | None = None
            ) -> tuple[np.ndarray, tuple[int, int]]:
    ph, pw = photo.shape[:2]
    s = int(min(ph, pw) * rng.uniform(0.25, 0.4))
    if near is None:
        x0, y0 = int(rng.integers(0, pw - s)), int(rng.integers(0, ph - s))
    else:  # an overlapping piece of the same photo: a look-alike
        x0 = int(np.clip(near[0] + rng.uniform(-0.5, 0.5) * s, 0, pw - s))
        y0 = int(np.clip(near[1] + rng.uniform(-0.5, 0.5) * s, 0, ph - s))
    return photo[y0:y0 + s, x0:x0 + s].copy(), (x0, y0)


def _mask(size: int, elliptical: bool) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    if elliptical:
        cv2.ellipse(mask, (size // 2, size // 2), (size // 2 - 1, size // 2 - 1), 0, 0, 360, 1.0, -1)
    else:
        mask[1:-1, 1:-1] = 1.0
    return cv2.GaussianBlur(mask, (5, 5), 0)


def _paste(frame: np.ndarray, piece: np.ndarray, mask: np.ndarray, box: np.ndarray) -> None:
    x, y, w, h = (float(v) for v in box)
    if not np.isfinite([x, y, w, h]).all() or w < 1 or h < 1:
        return
    ph, pw = piece.shape[:2]
    affine = np.array([[w / pw, 0, x], [0, h / ph, y]], np.float32)
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpAffine(piece, affine, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, affine, size, flags=cv2.INTER_LINEAR)[..., None]
    frame[:] = (frame * (1 - alpha) + warped * alpha + 0.5).astype(np.uint8)


def _view(background: np.ndarray, camera: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame the camera sees: the background centred on the camera offset, scaled by its zoom."""
    bh, bw = background.shape[:2]
    scale = max(width / bw, height / bh) * 1.35 * camera[2]
    tx = width / 2 - scale * (bw / 2 + camera[0])
    ty = height / 2 - scale * (bh / 2 + camera[1])
    affine = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
    return cv2.warpAffine(background, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _in_view(box: np.ndarray, camera: np.ndarray, width: int, height: int) -> np.ndarray:
    """The world box as the zooming camera sees it (zoom about the frame centre, shift by the pan)."""
    zoom = camera[2]
    x = (box[0] - camera[0] * 0.3 - width / 2) * zoom + width / 2
    y = (box[1] - camera[1] * 0.3 - height / 2) * zoom + height / 2
    return np.array([x, y, box[2] * zoom, box[3] * zoom])


def render_photo_sequence(seq: PhotoSequence, photos: list[np.ndarray], rng: np.random.Generator, width: int,
                          height: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames (BGR) and the ground-truth boxes in frame coordinates (clipped to the image)."""
    order = rng.permutation(len(photos))
    background, source, cover = (photos[i] for i in order[:3])
    target, where = _cutout(source, rng)
    lookalike, _ = _cutout(source, rng, near=where)
    block, _ = _cutout(cover, rng)
    elliptical = bool(rng.random() < 0.5)
    target_mask, lookalike_mask = _mask(len(target), elliptical), _mask(len(lookalike), elliptical)
    block_mask = _mask(len(block), False)
    frames, gt = [], []
    for t in range(len(seq.boxes)):
        frame = _view(background, seq.camera[t], width, height)
        box = _in_view(seq.boxes[t], seq.camera[t], width, height)
        if np.isfinite(seq.distractor[t]).all():
            _paste(frame, lookalike, lookalike_mask, _in_view(seq.distractor[t], seq.camera[t], width, height))
        _paste(frame, target, target_mask, box)
        if np.isfinite(seq.occluder[t]).all():
            _paste(frame, block, block_mask, _in_view(seq.occluder[t], seq.camera[t], width, height))
        if seq.blur[t] > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), float(seq.blur[t]))
        frames.append(cv2.convertScaleAbs(frame, alpha=float(seq.gain[t])))
        x0, y0 = np.clip(box[:2], 0, [width, height])
        x1, y1 = np.clip(box[:2] + box[2:], 0, [width, height])
        gt.append([x0, y0, x1 - x0, y1 - y0])
    return frames, np.round(np.array(gt))


def _textured_box(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A box of 8-20 % of the photo's sides in its central part, the most textured of 30 random ones."""
    h, w = gray.shape
    size = rng.uniform(0.08, 0.2, size=2) * [w, h]
    corners = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h] - size, size=(30, 2))
    spread = [gray[int(y):int(y + size[1]), int(x):int(x + size[0])].std() for x, y in corners]
    return np.concatenate([corners[int(np.argmax(spread))], size])


def render_camera_sequence(photo: np.ndarray, rng: np.random.Generator, n: int, width: int, height: int
                           ) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured region of a still photo followed while the camera pans, zooms and rolls over the scene (nothing
    pasted): frames (BGR) and the box around the region's four corners in each frame."""
    if max(photo.shape[:2]) < 700:
        photo = cv2.resize(photo, None, fx=2, fy=2)
    box = _textured_box(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32), rng)
    corners = box[:2] + np.array([[0, 0], [box[2], 0], box[2:], [0, box[3]]])
    centre, velocity = box[:2] + box[2:] / 2, np.zeros(2)
    zoom, angle, brightness = width / (box[2] * rng.uniform(4, 6)), 0.0, 0.0
    frames, gt = [], []
    for _ in range(n):
        velocity = 0.85 * velocity + rng.normal(0, 4.5 / zoom, 2)
        reach = 0.3 * np.array([width, height]) / zoom  # the region stays in view
        centre = np.clip(centre + velocity, box[:2] - reach, box[:2] + box[2:] + reach)
        zoom *= np.exp(rng.normal(0, 0.015))
        angle += rng.normal(0, 0.4)
        brightness = 0.95 * brightness + rng.normal(0, 3)
        warp = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, zoom)
        warp[:, 2] += np.array([width / 2, height / 2]) - centre
        frame = cv2.warpAffine(photo, warp, (width, height), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        if rng.random() < 0.2:
            frame = cv2.GaussianBlur(frame, (5, 5), rng.uniform(0.5, 2))
        frames.append(np.clip(frame + brightness + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8))
        seen = np.hstack([corners, np.ones((4, 1))]) @ warp.T
        x0, y0 = np.clip(seen.min(axis=0), 0, [width, height])
        x1, y1 = np.clip(seen.max(axis=0), 0, [width, height])
        gt.append([x0, y0, x1 - x0, y1 - y0])
    return frames, np.round(np.array(gt))


def write_photo_split(root: str | Path, seed: int, num_sequences: int, num_frames: int, width: int = 320,
                      height: int = 240, quality: int = 90,
                      progress: Callable[[list[str]], list[str]] = lambda names: names, camera: bool = False
                      ) -> list[str]:
    """Write the split under `root` (a TNL2K root) and return the sequence names; finished ones are kept.
    camera: the other construction (render_camera_sequence) instead of cut-out objects."""
    photos = [_read_photo(p) for p in photo_paths()]
    root = Path(root)
    if camera:
        names = [f"camera_{i + 1:03d}" for i in range(num_sequences)]
    else:
        names = [f"photo_{'easy' if i < num_sequences // 3 else 'hard'}_{i + 1:03d}" for i in range(num_sequences)]
    for i, name in enumerate(progress(names)):
        rng = np.random.default_rng([seed, 7919, i])
        if camera:
            frames, gt = render_camera_sequence(photos[i % len(photos)], rng, num_frames, width, height)
        else:
            seq = simulate_photo_sequence(rng, num_frames, width, height, easy=name.startswith("photo_easy"))
            frames, gt = render_photo_sequence(seq, photos, rng, width, height)
        gt_text = "".join(",".join(str(int(v)) for v in row) + "\n" for row in gt)
        final = root / name
        if is_complete({final / "groundtruth.txt": gt_text}, [final / "imgs" / f"{num_frames:05d}.jpg"]):
            continue

        def fill(tmp: Path, frames=frames, gt_text=gt_text) -> None:
            (tmp / "groundtruth.txt").write_text(gt_text, encoding="utf-8")
            (tmp / "imgs").mkdir()
            for t, frame in enumerate(frames):
                write_image(tmp / "imgs" / f"{t + 1:05d}.jpg", frame, quality)
        write_dir_atomic(final, fill)
    return names
