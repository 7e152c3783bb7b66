"""Training pairs from real object photographs (GOT-10k layout), for trackers that must work on real imagery.

The source is the photographs among Tux Paint's stamps (Debian `tuxpaint-stamps-default`, GPL-2): objects
photographed and cut out with an alpha channel (animals, food, plants, vehicles...). Drawings are left out by a
texture rule (see `is_photo`). Without the package the same procedure runs on procedural content (natural-statistics
pieces from lib/synthetic/natural.py), so the quickstart works everywhere and says which content it used.

The procedure is COCO-style, not a video simulation: every "frame" of a sequence is an independent view of the same
object (position, scale, aspect, rotation, mirror, lighting, colour, blur, noise, JPEG quality drawn afresh) over a
collage of other objects on a natural-statistics background, often with a look-alike (the same object recoloured,
or another photo of the same category) and sometimes a partial occluder. Any two frames are a template/search pair
under independent augmentation, so matching appearance is the only way to find the target.

The photographs bundled with scikit-image, matplotlib and OpenCV are reserved for evaluation
(lib/synthetic/photo_split.py): `object_photo_paths` refuses any file under their folders.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from lib.synthetic.fileio import is_complete, write_dir_atomic, write_image, write_text_atomic
from lib.synthetic.natural import natural_image, natural_pieces

__all__ = ["PATCH_SHARE", "STAMP_FOLDER", "object_photo_paths", "is_photo", "reserved_folders",
           "write_object_photo_split", "ObjectSource"]

STAMP_FOLDER = "/usr/share/tuxpaint/stamps"
# A stamp is a photograph when almost none of its opaque pixels lie in flat paint (drawings are mostly flat).
_MAX_FLAT_SHARE = 0.15
_MIN_OPAQUE_PIXELS = 1500
# Share of sequences whose target is a rectangular or elliptical piece of a scene (a box with background inside, as
# most real ground-truth boxes are) instead of a cut-out object.
PATCH_SHARE = 0.3


def reserved_folders() -> list[str]:
    """Folders of the evaluation-only photographs (those that are installed)."""
    folders = []
    for module, sub in (("skimage", "data"), ("matplotlib", "mpl-data"), ("cv2", "data")):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        folders.append(os.path.realpath(os.path.join(os.path.dirname(mod.__file__), sub)))
    folders.append(os.path.realpath(os.path.join(os.path.dirname(cv2.__file__), "samples")))
    return folders


def _read_rgba(path: str) -> Optional[np.ndarray]:
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        return None
    return image


def is_photo(image: np.ndarray) -> bool:
    """True for a BGRA cut-out photograph: enough opaque pixels and little flat paint (Laplacian below 1)."""
    opaque = cv2.erode((image[..., 3] > 200).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if opaque.sum() < _MIN_OPAQUE_PIXELS:
        return False
    grey = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    flat = np.abs(cv2.Laplacian(grey, cv2.CV_32F))[opaque] < 1
    return float(flat.mean()) < _MAX_FLAT_SHARE


def object_photo_paths(folder: str = STAMP_FOLDER) -> list[str]:
    """Sorted PNG paths under `folder` (drawings filtered later); never a file of the reserved folders."""
    if not os.path.isdir(folder):
        return []
    reserved = reserved_folders()
    paths = []
    for base, _, files in os.walk(folder):
        if "cartoon" in base:
            continue
        for name in files:
            path = os.path.realpath(os.path.join(base, name))
            if name.lower().endswith(".png") and not any(path.startswith(r + os.sep) for r in reserved):
                paths.append(path)
    return sorted(paths)


@dataclass
class ObjectSource:
    """Cut-out objects (BGRA) grouped by category; `description` says where they came from."""
    objects: list[np.ndarray]
    category: list[str]
    description: str

    @classmethod
    def load(cls, folder: str = STAMP_FOLDER) -> "ObjectSource":
        objects, category = [], []
        for path in object_photo_paths(folder):
            image = _read_rgba(path)
            if image is not None and is_photo(image):
                objects.append(_trim(image))
                category.append(os.path.dirname(path))
        if objects:
            return cls(objects, category, f"{len(objects)} object photographs from {folder} (Tux Paint stamps)")
        return cls.procedural()

    @classmethod
    def procedural(cls, count: int = 200, seed: int = 4242) -> "ObjectSource":
        """Fallback: elliptical natural-statistics pieces (lib/synthetic/natural.py)."""
        rng = np.random.default_rng(seed)
        objects = []
        for _ in range(count):
            piece = natural_pieces(rng, 1, 96, 0)[0][0]
            alpha = np.zeros(piece.shape[:2], np.uint8)
            cv2.ellipse(alpha, (48, 48), (47, int(rng.integers(24, 48))), float(rng.uniform(0, 180)), 0, 360, 255, -1)
            objects.append(np.dstack([piece, alpha]))
        return cls(objects, [f"procedural{i % 20}" for i in range(count)],
                   f"{count} procedural objects (no object photographs found: `bash install.sh --with-photos` "
                   f"installs tuxpaint-stamps-default)")


def _trim(image: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(image[..., 3] > 16)
    return image[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _paste(canvas: np.ndarray, obj: np.ndarray, centre: tuple[float, float], size: float, aspect: float,
           angle: float, mirror: bool) -> np.ndarray:
    """Alpha-blend `obj` into `canvas` (float32 BGR) in place; return its coverage map in canvas pixels."""
    oh, ow = obj.shape[:2]
    scale = size / np.sqrt(oh * ow)
    sx, sy = scale * np.sqrt(aspect), scale / np.sqrt(aspect)
    rot = cv2.getRotationMatrix2D((0, 0), angle, 1.0)[:, :2]
    linear = rot @ np.diag([(-sx if mirror else sx), sy])
    shift = np.asarray(centre) - linear @ np.array([ow / 2, oh / 2])
    h, w = canvas.shape[:2]
    cover = np.zeros((h, w), np.float32)
    corners = linear @ np.array([[0, ow, 0, ow], [0, 0, oh, oh]]) + shift[:, None]
    x0, y0 = np.maximum(np.floor(corners.min(axis=1)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=1)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return cover
    # warp into the object's bounding region only: the blend costs its area, not the frame's
    affine = np.hstack([linear, (shift - [x0, y0])[:, None]]).astype(np.float32)
    warped = cv2.warpAffine(obj, affine, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:].astype(np.float32) / 255
    region = canvas[y0:y1, x0:x1]
    region *= 1 - alpha
    region += warped[..., :3].astype(np.float32) * alpha
    cover[y0:y1, x0:x1] = alpha[..., 0]
    return cover


def _recolour(obj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A look-alike: the same object with its hue and brightness shifted."""
    hsv = cv2.cvtColor(obj[..., :3], cv2.COLOR_BGR2HSV).astype(np.int32)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(10, 170))) % 180
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.7, 1.2), 0, 255)
    return np.dstack([cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR), obj[..., 3]])


def _photometric(frame: np.ndarray, rng: np.random.Generator, grey: bool) -> np.ndarray:
    """Lighting, colour cast, contrast, blur and sensor noise, drawn per frame (float32 BGR in, uint8 out)."""
    frame *= (np.exp(rng.normal(0, 0.25)) * np.exp(rng.normal(0, 0.08, 3))).astype(np.float32)
    mean = float(frame.mean())
    frame = (frame - mean) * np.float32(np.exp(rng.normal(0, 0.2))) + np.float32(mean)
    if rng.random() < 0.3:
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.5, 2.0))
    frame += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(rng.uniform(0, 6))
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    if grey:
        frame = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return frame


def _collage(source: ObjectSource, rng: np.random.Generator, side: int = 256) -> np.ndarray:
    """A scene of a few objects over a natural-statistics background (BGR uint8)."""
    canvas = natural_image(rng, side, side).astype(np.float32)
    for i in rng.integers(0, len(source.objects), int(rng.integers(4, 9))):
        size = side * rng.uniform(0.15, 0.6)
        _paste(canvas, source.objects[int(i)], tuple(rng.uniform(0, side, 2)), size, 1.0, rng.normal(0, 20),
               bool(rng.random() < 0.5))
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _cut(scene: np.ndarray, rng: np.random.Generator, near: Optional[tuple[int, int]] = None
         ) -> tuple[np.ndarray, tuple[int, int]]:
    """A rectangular or elliptical piece (BGRA) of `scene`; near a given corner: an overlapping look-alike."""
    side = scene.shape[0]
    h = int(side * rng.uniform(0.25, 0.45))
    w = int(np.clip(h * np.exp(rng.normal(0, 0.3)), 0.15 * side, 0.6 * side))
    if near is None:
        x, y = int(rng.integers(0, side - w)), int(rng.integers(0, side - h))
    else:
        x = int(np.clip(near[0] + rng.uniform(-0.5, 0.5) * w, 0, side - w))
        y = int(np.clip(near[1] + rng.uniform(-0.5, 0.5) * h, 0, side - h))
    alpha = np.full((h, w), 255, np.uint8)
    if rng.random() < 0.5:
        alpha[:] = 0
        cv2.ellipse(alpha, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    return np.dstack([scene[y:y + h, x:x + w], alpha]), (x, y)


class _Sequence:
    """One target object with its look-alike, clutter and background, viewed independently in every frame."""

    def __init__(self, source: ObjectSource, rng: np.random.Generator, width: int, height: int,
                 patch_share: float):
        self.rng, self.width, self.height = rng, width, height
        n = len(source.objects)
        self.lookalike = None
        if rng.random() < patch_share:  # a box-shaped target: a piece of a scene, background included
            scene = _collage(source, rng)
            (self.target, where), self.category = _cut(scene, rng), "patch"
            if rng.random() < 0.6:
                self.lookalike = _cut(scene, rng, near=where)[0]
        else:
            pick = int(rng.integers(n))
            self.target, self.category = source.objects[pick], source.category[pick]
            same = [i for i in range(n) if source.category[i] == source.category[pick] and i != pick]
            if rng.random() < 0.6:
                self.lookalike = (source.objects[int(rng.choice(same))] if same and rng.random() < 0.5
                                  else _recolour(self.target, rng))
        self.clutter = [source.objects[int(i)] for i in rng.integers(0, n, int(rng.integers(3, 9)))]
        self.background = natural_image(rng, int(1.5 * height), int(1.5 * width))
        self.size = min(width, height) * rng.uniform(0.12, 0.35)  # sqrt of the target's area
        self.aspect = np.exp(rng.normal(0, 0.15))
        self.grey = bool(rng.random() < 0.1)

    def _place(self, size: float) -> tuple[float, float]:
        margin = 0.3 * size
        return (self.rng.uniform(margin, self.width - margin), self.rng.uniform(margin, self.height - margin))

    def frame(self) -> tuple[np.ndarray, np.ndarray, float]:
        """A view: BGR frame, target box (x, y, w, h, clipped) and the visible share of the target."""
        rng, w, h = self.rng, self.width, self.height
        bh, bw = self.background.shape[:2]
        x0, y0 = int(rng.integers(0, bw - w + 1)), int(rng.integers(0, bh - h + 1))
        canvas = self.background[y0:y0 + h, x0:x0 + w].astype(np.float32)
        for obj in self.clutter:
            size = min(w, h) * rng.uniform(0.1, 0.6)
            _paste(canvas, obj, self._place(size), size, np.exp(rng.normal(0, 0.2)), rng.normal(0, 20),
                   bool(rng.random() < 0.5))
        size = self.size * np.exp(rng.normal(0, 0.15))
        centre = self._place(size)
        pose = dict(aspect=self.aspect * np.exp(rng.normal(0, 0.08)), angle=rng.normal(0, 10),
                    mirror=bool(rng.random() < 0.3))
        if self.lookalike is not None:
            angle = rng.uniform(0, 2 * np.pi)
            near = (centre[0] + 1.5 * size * np.cos(angle), centre[1] + 1.5 * size * np.sin(angle))
            _paste(canvas, self.lookalike, near, size * np.exp(rng.normal(0, 0.15)), **pose)
        cover = _paste(canvas, self.target, centre, size, **pose)
        full = cover.sum()
        if rng.random() < 0.2:  # a partial occluder over one side of the target
            side = rng.uniform(0, 2 * np.pi)
            occ = (centre[0] + 0.7 * size * np.cos(side), centre[1] + 0.7 * size * np.sin(side))
            occluder = self.clutter[int(rng.integers(len(self.clutter)))]
            shade = _paste(canvas, occluder, occ, size * rng.uniform(0.5, 0.9), 1.0, rng.normal(0, 20), False)
            cover = cover * (1 - shade)
        frame = _photometric(canvas, rng, self.grey)
        ys, xs = np.nonzero(cover > 0.5 * cover.max()) if full > 0 else (np.array([0]), np.array([0]))
        box = np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], np.float64)
        return frame, box, float(cover.sum() / max(full, 1e-6))


def _meta(category: str, width: int, height: int) -> str:
    name = os.path.basename(category) or "object"
    return ("[METAINFO]\nurl: none\nbegin: 00:00:00\nend: 00:00:01\nanno_fps: 10Hz\n"
            f"object_class: {name}\nmotion_class: still\nmajor_class: {name}\nroot_class: object\n"
            f"motion_adverb: none\nresolution: ({width}, {height})\n")


def write_object_photo_split(root: str | Path, seed: int, num_sequences: int, num_frames: int, width: int = 320,
                             height: int = 240, patch_share: float = PATCH_SHARE,
                             source: Optional[ObjectSource] = None,
                             progress: Callable[[list[str]], list[str]] = lambda names: names) -> ObjectSource:
    """Write `root/train/<name>/` GOT-10k sequences and `root/train/list.txt`; return the content used."""
    source = source or ObjectSource.load()
    train = Path(root) / "train"
    names = [f"Objects_{i + 1:06d}" for i in range(num_sequences)]
    for i, name in enumerate(progress(names)):
        final = train / name
        rng = np.random.default_rng([seed, 104729, i])
        seq = _Sequence(source, rng, width, height, patch_share)
        views = [seq.frame() for _ in range(num_frames)]
        qualities = rng.integers(35, 95, num_frames)
        texts = {
            "groundtruth.txt": "".join(",".join(f"{v:.1f}" for v in box) + "\n" for _, box, _ in views),
            "absence.label": "0\n" * num_frames,
            "cover.label": "".join(f"{max(1, int(round(8 * share)))}\n" for _, _, share in views),
            "cut_by_image.label": "0\n" * num_frames,
            "meta_info.ini": _meta(seq.category, width, height),
        }
        if is_complete({final / k: v for k, v in texts.items()}, [final / f"{num_frames:08d}.jpg"]):
            continue

        def fill(tmp: Path, views=views, texts=texts, qualities=qualities) -> None:
            for k, v in texts.items():
                (tmp / k).write_text(v, encoding="utf-8")
            for t, (frame, _, _) in enumerate(views):
                write_image(tmp / f"{t + 1:08d}.jpg", frame, int(qualities[t]))
        write_dir_atomic(final, fill)
    write_text_atomic(train / "list.txt", "".join(f"{s}\n" for s in names))
    return source
