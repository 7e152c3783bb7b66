"""Multi-modal frames in the official on-disk conventions: RGB plus an auxiliary image, stacked to (H, W, 6) uint8.

numpy/cv2 only (no torch): the training and evaluation readers of RGB-D, RGB-T and RGB-E benchmarks share it.

* Depth (DepthTrack, VOT-RGBD): a 16-bit PNG in millimetres becomes the official 3-channel image: clipped at
  min(3 * median, 10000), min-max normalised to 0..255, JET colour map, kept in OpenCV's BGR order (as the
  official code feeds it) after the RGB channels.
* Thermal (LasHeR, RGBT234) and event (VisEvent) images: decoded like a colour frame (RGB order), as the official
  loaders do (BGR read, then converted to RGB).
* Visible/auxiliary pairing by the frame number in the file names. The official LasHeR lookup
  `glob('*{i}.jpg')[0]` can return `...11.jpg` for frame 1 (and glob order is unspecified), so frames get
  mismatched in time and between modalities; this matching cannot.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from lib.utils.annotations import DataFileError, check_length, parse_flags, parse_rectangles
from lib.utils.file_source import FileSource
from lib.utils.image_io import ImageReadError, imread_rgb

__all__ = ["MAX_DEPTH", "depth_colormap", "decode_depth", "read_depth", "rgbd_frame", "stack_aux",
           "load_rgbd_pair", "load_rgb_aux_pair", "frame_index", "frames_by_index", "paired_frames",
           "Layout", "RGBD", "RGBT", "RGBE", "ModalSequence", "read_modal_sequence", "load_modal_frame",
           "read_name_list"]

MAX_DEPTH = 10000
# the last run of digits of a file stem: 'i000' -> 000, '000011' -> 000011, RGBT234's '00012v' -> 00012
_INDEX = re.compile(r"(\d+)\D*$")


def depth_colormap(depth: np.ndarray, clip: bool = True) -> np.ndarray:
    """(H, W) raw depth (uint16) -> (H, W, 3) uint8 JET colour map in BGR order."""
    depth = depth.copy()
    if clip:
        limit = min(np.median(depth) * 3, MAX_DEPTH)
        depth[depth > limit] = limit  # cast to the depth dtype as the official assignment does
    scaled = cv2.normalize(depth, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)
    return cv2.applyColorMap(np.asarray(scaled, dtype=np.uint8), cv2.COLORMAP_JET)


def decode_depth(data: bytes, name: str) -> np.ndarray:
    """Encoded single-channel 16-bit PNG bytes -> (H, W) uint16; `name` (file or key) is used in errors."""
    depth = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if depth is None:
        raise ImageReadError(f"{name}: cannot decode depth image (unreadable or not an image)")
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ImageReadError(f"{name}: a depth image must be single-channel 16-bit, got {depth.dtype} with shape "
                             f"{depth.shape}")
    return depth


def read_depth(path: str | os.PathLike) -> np.ndarray:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return decode_depth(f.read(), path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: depth image not found") from None


def stack_aux(rgb: np.ndarray, aux: np.ndarray, where: str) -> np.ndarray:
    """RGB (H, W, 3) then the 3-channel auxiliary image -> (H, W, 6); the sizes must agree."""
    if rgb.shape[:2] != aux.shape[:2]:
        raise ImageReadError(f"{where}: the RGB frame is {rgb.shape[1]}x{rgb.shape[0]} but the auxiliary image is "
                             f"{aux.shape[1]}x{aux.shape[0]}")
    return np.concatenate([rgb, aux], axis=2)


def rgbd_frame(rgb: np.ndarray, depth: np.ndarray, clip: bool = True, where: str = "depth image") -> np.ndarray:
    """An RGB image and its raw depth -> (H, W, 6): RGB, then the BGR depth colour map."""
    return stack_aux(rgb, depth_colormap(depth, clip), where)


def load_rgbd_pair(ref: tuple[str, str]) -> np.ndarray:
    """(colour file, depth file) -> (H, W, 6): an evaluation Sequence's `frame_loader` for RGB-D benchmarks."""
    return rgbd_frame(imread_rgb(ref[0]), read_depth(ref[1]), where=ref[1])


def load_rgb_aux_pair(ref: tuple[str, str]) -> np.ndarray:
    """(RGB file, thermal or event file) -> (H, W, 6): the `frame_loader` for RGB-T and RGB-E benchmarks."""
    return stack_aux(imread_rgb(ref[0]), imread_rgb(ref[1]), ref[1])


def frame_index(name: str) -> int:
    """The frame number at the end of a file name's stem ('i000.jpg' -> 0, '000011.jpg' -> 11, '00012v.jpg' -> 12)."""
    match = _INDEX.search(os.path.splitext(os.path.basename(name))[0])
    if match is None:
        raise ValueError(f"frame file '{name}' has no frame number at the end of its name")
    return int(match.group(1))


def frames_by_index(names: Sequence[str]) -> list[str]:
    """Frame files in frame-number order; two files with the same number are an error."""
    indexed: dict[int, str] = {}
    for name in names:
        index = frame_index(name)
        if index in indexed:
            raise ValueError(f"frames '{indexed[index]}' and '{name}' have the same number {index}")
        indexed[index] = name
    return [indexed[i] for i in sorted(indexed)]


def paired_frames(visible: Sequence[str], aux: Sequence[str]) -> list[tuple[str, str]]:
    """(visible, auxiliary) file pairs with the same frame number, in frame order."""
    vis, other = frames_by_index(visible), frames_by_index(aux)
    numbers = [frame_index(n) for n in vis], [frame_index(n) for n in other]
    if numbers[0] != numbers[1]:
        unmatched = min(set(numbers[0]) ^ set(numbers[1]))
        raise ValueError(f"{len(vis)} visible and {len(other)} auxiliary frames do not have the same numbers "
                         f"(frame {unmatched} has no partner)")
    return list(zip(vis, other))


# ------------------------------------------------------------------------------------ sequence folders on disk

@dataclass(frozen=True)
class Layout:
    """How one sequence folder of a multi-modal benchmark stores its frames and annotations."""
    rgb: str                      # folder of the RGB frames
    aux: str                      # folder of the auxiliary frames
    extensions: tuple[str, str]   # frame file extensions (RGB, auxiliary)
    gt: str                       # ground truth of the RGB frames
    depth: bool = False           # auxiliary frames are 16-bit depth PNGs (else images decoded like RGB)
    aux_gt: str = ""              # ground truth annotated on the auxiliary frames, where the benchmark has one
    flags: str = ""               # per-frame presence flags (1 = target present), where the benchmark has them
    pair_by_name: bool = False    # auxiliary frame = same file name (else: same frame number)

    @property
    def path_loader(self) -> Callable[[tuple[str, str]], np.ndarray]:
        return load_rgbd_pair if self.depth else load_rgb_aux_pair


# DepthTrack and VOT-RGBD: color/%08d.jpg + depth/%08d.png, groundtruth.txt (NaN rows: target absent)
RGBD = Layout("color", "depth", (".jpg", ".png"), "groundtruth.txt", depth=True)
# LasHeR and RGBT234: visible/ + infrared/ JPEGs numbered by frame (names differ between the folders),
# visible.txt + infrared.txt (0-size boxes: target absent)
RGBT = Layout("visible", "infrared", (".jpg", ".jpg"), "visible.txt", aux_gt="infrared.txt")
# VisEvent: vis_imgs/*.bmp + event_imgs/*.bmp with the same names (sorted by name), absent_label.txt 1 = present
# (the convention of the official SDSTrack/ViPT loaders, whatever the file name suggests)
RGBE = Layout("vis_imgs", "event_imgs", (".bmp", ".bmp"), "groundtruth.txt", flags="absent_label.txt",
              pair_by_name=True)


@dataclass
class ModalSequence:
    """What a reader needs of one sequence: frame pairs (paths relative to the source) and annotations."""
    pairs: list[tuple[str, str]]
    boxes: np.ndarray                 # (N, 4) float64 as stored (NaN rows stay NaN)
    aux_boxes: Optional[np.ndarray]   # (N, 4) of the auxiliary ground truth, or None
    present: np.ndarray               # bool (N,): finite box with positive width and height (and flag 1)


def _frame_files(source: FileSource, folder: str, extension: str) -> list[str]:
    try:
        names = [n for n in source.list_dir(folder) if n.lower().endswith(extension)]
    except FileNotFoundError:
        raise DataFileError(f"{source.describe(folder)}: modality folder not found") from None
    if not names:
        raise DataFileError(f"{source.describe(folder)}: no {extension} frames")
    return names


def _pairs(source: FileSource, seq: str, layout: Layout) -> list[tuple[str, str]]:
    rgb_dir, aux_dir = f"{seq}/{layout.rgb}", f"{seq}/{layout.aux}"
    rgb = _frame_files(source, rgb_dir, layout.extensions[0])
    aux = _frame_files(source, aux_dir, layout.extensions[1])
    if layout.pair_by_name:
        if rgb != aux:
            only = sorted(set(rgb) ^ set(aux))
            raise DataFileError(f"{source.describe(aux_dir)}: {len(aux)} frames for {len(rgb)} in "
                                f"{layout.rgb}/, and the names differ (first: {only[0]})")
        pairs = list(zip(rgb, aux))
    else:
        try:
            pairs = paired_frames(rgb, aux)
        except ValueError as e:
            raise DataFileError(f"{source.describe(seq)}: {layout.rgb}/ and {layout.aux}/: {e}") from None
    return [(f"{rgb_dir}/{a}", f"{aux_dir}/{b}") for a, b in pairs]


def _annotation(source: FileSource, rel: str, parse: Callable[[str, str], np.ndarray], length: int, unit: str,
                reference: str) -> np.ndarray:
    """Parse annotation file `rel`, which must have one row per frame pair; DataFileError naming it otherwise."""
    try:
        values = parse(source.read_text(rel), source.describe(rel))
        check_length(values, length, source.describe(rel), unit, reference)
    except FileNotFoundError:
        raise DataFileError(f"{source.describe(rel)}: annotation file not found") from None
    except ValueError as e:
        raise DataFileError(str(e)) from None
    return values


def read_modal_sequence(source: FileSource, seq: str, layout: Layout) -> ModalSequence:
    """Frame pairs and annotations of sequence folder `seq`; a problem raises DataFileError naming the file."""
    pairs = _pairs(source, seq, layout)
    frames = f"{layout.rgb}/ (paired with {layout.aux}/)"
    boxes = _annotation(source, f"{seq}/{layout.gt}", parse_rectangles, len(pairs), "rows", frames)
    aux_boxes = None
    if layout.aux_gt and source.exists(f"{seq}/{layout.aux_gt}"):
        aux_boxes = _annotation(source, f"{seq}/{layout.aux_gt}", parse_rectangles, len(pairs), "rows", frames)
    with np.errstate(invalid="ignore"):
        present = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    if layout.flags:
        present &= _annotation(source, f"{seq}/{layout.flags}", parse_flags, len(pairs), "values", frames) == 1
    return ModalSequence(pairs, boxes, aux_boxes, present)


def load_modal_frame(source: FileSource, pair: tuple[str, str], layout: Layout) -> np.ndarray:
    """(H, W, 6) frame of a pair of relative paths (any FileSource: folder or LMDB pack)."""
    rgb = source.load_image(pair[0])
    if layout.depth:
        try:
            data = source.read_bytes(pair[1])
        except FileNotFoundError as e:
            raise ImageReadError(str(e)) from None
        return rgbd_frame(rgb, decode_depth(data, source.describe(pair[1])), where=source.describe(pair[1]))
    return stack_aux(rgb, source.load_image(pair[1]), source.describe(pair[1]))


def read_name_list(source: FileSource, rel: str) -> list[str]:
    """Sequence names of a list file, one per line (blank lines ignored)."""
    names = [line.strip() for line in source.read_text(rel).splitlines() if line.strip()]
    if not names:
        raise DataFileError(f"{source.describe(rel)}: empty sequence list (expected one name per line)")
    return names
