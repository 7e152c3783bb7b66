"""One writer per benchmark, each producing that benchmark's official on-disk layout and byte conventions.

Conventions written (see shared research notes, eval_datasets.md section 1 and its section-4 checklist):
  LaSOT        <class>/<class>-<k>/img/%08d.jpg from 1; groundtruth.txt integers `x,y,w,h`; full_occlusion.txt and
               out_of_view.txt one comma-separated 0/1 line; nlp.txt; junk boxes on out-of-view frames (zeros, the
               last box, or `1,1,-1,-1`, one style per sequence); root testing_set.txt with the 280 test names.
  GOT-10k      <split>/list.txt; <split>/<seq>/%08d.jpg from 1; groundtruth.txt `%.4f` (test: first row only);
               absence.label, cover.label, cut_by_image.label one integer per line (train/val); meta_info.ini
               in the official 11-line order ending with `resolution: (W, H)`.
  TrackingNet  TRAIN_<k>/ and TEST/ with anno/<seq>.txt (`%.2f`, TEST: first row only) and frames/<seq>/<i>.jpg
               from 0, not padded; names are YouTube-like ids, one starts with `-`; no absence flags
               (out-of-view frames hold `0,0,0,0`).
  UAV123       data_seq/UAV123/<folder>/%06d.jpg numbered over the whole raw video; anno/UAV123/<name>.txt cut at
               the official sub-sequence ranges; `NaN,NaN,NaN,NaN` rows where the target is absent.
  OTB          <Video>/img/%04d.jpg (Board: 5 digits, KiteSurf: jpg/%04d.png), groundtruth_rect.txt with the
               delimiter varying per video (comma, TAB, space); multi-target videos get groundtruth_rect.<k>.txt.
  NFS          sequences/<Name>/%05d.jpg from 1, anno/nfs_<Name>.txt TAB-separated.
  TNL2K        <seq>/imgs/%05d.jpg, groundtruth.txt (comma), language.txt.
  COCO 2017    images/train2017/%012d.jpg, annotations/instances_train2017.json with crowd annotations (RLE) and
               boxes under 50 px among the ordinary ones.
  DepthTrack   {test,train,val}/<seq>/{color/%08d.jpg, depth/%08d.png (16-bit mm), groundtruth.txt} from 1, NaN rows
               where the target is absent; VOT-RGBD2022 the same folders plus VOT `sequence` files and list.txt.
  LasHeR       {testingset,trainingset,valset}/<seq>/{visible/v%03d.jpg, infrared/i%03d.jpg, visible.txt,
               infrared.txt, init.txt} (0-size boxes: absent), testingsetList.txt / trainingsetList.txt; names with
               quotes. RGBT234: <seq>/{visible/%05dv.jpg, infrared/%05di.jpg} from 1, infrared.txt shifted by the
               thermal camera's offset.
  VisEvent     {test,train}/<seq>/{vis_imgs,event_imgs}/frame%04d.bmp, groundtruth.txt, absent_label.txt
               (1 = present), testlist.txt / trainlist.txt.
  Auxiliary frames are rendered from the same scene (lib/synthetic/auxiliary.py).
The hidden box of a fully occluded target is written as is; a box that is partly outside the image is clipped.
Each sequence gets its own random stream (seed, benchmark, sequence name), so any subset regenerates identically.
"""
from __future__ import annotations

import json
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
from tqdm import tqdm

from lib.synthetic.auxiliary import plan_aux, render_depth, render_event, render_thermal
from lib.synthetic.fileio import is_complete, write_dir_atomic, write_image, write_text_atomic
from lib.synthetic.render import make_textures, render_frame, render_image
from lib.synthetic.scene import FrameTruth, frame_truth, simulate
from lib.test.evaluation.benchmark_tables import (TableEntry, lasot_all_names, lasot_extension_names,
                                                  lasot_test_names, nfs_table, otb_table, uav_table)

__all__ = ["Plan", "SequenceTruth", "WRITERS", "TABLE_BENCHMARKS"]


@dataclass(frozen=True)
class Plan:
    """What to generate: sizes apply per benchmark (see each writer for how it uses them)."""
    seed: int
    num_sequences: int
    num_frames: Optional[int]
    width: int
    height: int
    names: Optional[tuple[str, ...]]
    quality: int
    progress: bool
    natural_share: float = 0.0   # share of sequences with natural-statistics content (lib/synthetic/natural.py)


@dataclass
class SequenceTruth:
    """Ground truth of one generated evaluation/training sequence, as the readers should return it."""
    name: str
    split: str
    boxes: np.ndarray            # rows as written to the GT file (test splits publish row 0 only)
    true_boxes: np.ndarray       # clipped true boxes
    visible: np.ndarray
    out_of_view: np.ndarray
    full_occlusion: np.ndarray
    cut_by_image: np.ndarray
    cover: np.ndarray
    object_class: Optional[str] = None
    first_frame: int = 1         # number in the file name of the frame of GT row 0
    extra: dict = field(default_factory=dict)


def _rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed] + [zlib.crc32(k.encode()) for k in keys])


class _Video:
    """A simulated video: ground truth is available at once, pixels only when written."""

    def __init__(self, plan: Plan, key: str, num_frames: int, num_targets: int = 1):
        seed = self._seed = plan.seed
        self._key = key
        # drawn from its own stream, so the classic sequences stay identical whatever the share
        self.natural = plan.natural_share > 0 and _rng(seed, key, "content").random() < plan.natural_share
        self.scene = simulate(_rng(seed, key, "scene"), num_frames, plan.width, plan.height, num_targets=num_targets)
        self.truths = [frame_truth(self.scene, k) for k in range(num_targets)]

    @property
    def num_frames(self) -> int:
        return self.scene.num_frames

    def write_frames(self, folder: Path, file_name: Callable[[int], str], quality: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        textures = make_textures(_rng(self._seed, self._key, "textures"), self.scene, self.natural)
        for t in range(self.num_frames):
            write_image(folder / file_name(t), render_frame(self.scene, textures, t), quality)

    def write_modal_frames(self, folders: tuple[Path, Path], file_names: tuple[Callable[[int], str], ...],
                           kind: str, quality: int, shift: tuple[float, float] = (0.0, 0.0)) -> None:
        """RGB frames and their auxiliary frames of `kind` (depth, thermal or event) from the same scene."""
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        textures = make_textures(_rng(self._seed, self._key, "textures"), self.scene, self.natural)
        plan = plan_aux(_rng(self._seed, self._key, "aux"), self.scene)
        noise = _rng(self._seed, self._key, "aux-noise")
        previous = None
        for t in range(self.num_frames):
            rgb = render_frame(self.scene, textures, t)
            write_image(folders[0] / file_names[0](t), rgb, quality)
            if kind == "depth":
                aux = render_depth(self.scene, plan, t, noise)
            elif kind == "thermal":
                aux = render_thermal(self.scene, plan, t, noise, shift)
            else:
                aux = render_event(previous, rgb)
            write_image(folders[1] / file_names[1](t), aux, quality)
            previous = rgb


def _round_boxes(boxes: np.ndarray) -> np.ndarray:
    """Integer boxes from rounded corners (so adjacent edges stay consistent)."""
    x0, y0 = np.round(boxes[:, 0]), np.round(boxes[:, 1])
    x1, y1 = np.round(boxes[:, 0] + boxes[:, 2]), np.round(boxes[:, 1] + boxes[:, 3])
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1) + 0.0


def _stale(boxes: np.ndarray, absent: np.ndarray) -> np.ndarray:
    """Replace rows of absent frames by the last box of a present frame (frame 0 is always present)."""
    out = boxes.copy()
    last = out[0]
    for t in range(len(out)):
        if absent[t]:
            out[t] = last
        else:
            last = out[t]
    return out


def _box_text(boxes: np.ndarray, fmt: str, delimiter: str = ",") -> str:
    lines = []
    for row in boxes:
        if np.isnan(row).any():
            lines.append(delimiter.join(["NaN"] * 4))
        else:
            lines.append(delimiter.join(fmt % v for v in row))
    return "\n".join(lines) + "\n"


def _parse_written(text: str, delimiter: str = ",") -> np.ndarray:
    rows = [line.split(delimiter) for line in text.splitlines()]
    return np.array([[float(v) for v in r] for r in rows], dtype=np.float64).reshape(-1, 4)


def _truth(name: str, split: str, written: np.ndarray, tr: FrameTruth, rows: slice = slice(None),
           object_class: Optional[str] = None, first_frame: int = 1) -> SequenceTruth:
    return SequenceTruth(name, split, written, tr.boxes[rows].copy(), tr.visible[rows].copy(),
                         tr.out_of_view[rows].copy(), tr.full_occlusion[rows].copy(), tr.cut_by_image[rows].copy(),
                         tr.cover[rows].copy(), object_class, first_frame)


def _progress(items: Sequence, desc: str, plan: Plan) -> Iterable:
    return tqdm(items, desc=desc, unit="seq", disable=not plan.progress, leave=False)


def _spread(names: Sequence[str], count: int) -> list[str]:
    """`count` names spread evenly over an official list (so several classes are represented)."""
    count = min(count, len(names))
    return [names[(i * len(names)) // count] for i in range(count)]


def _frames_required(plan: Plan) -> int:
    if plan.num_frames is None or plan.num_frames < 2:
        raise ValueError(f"num_frames must be an integer >= 2, got {plan.num_frames}")
    return plan.num_frames


def _reject_names(plan: Plan, benchmark: str) -> None:
    if plan.names is not None:
        raise ValueError(f"names= is not supported for '{benchmark}': its sequence names are not an official "
                         f"list; use num_sequences")


# ----------------------------------------------------------------------------------------------- LaSOT family

def _lasot_sentence(rng: np.random.Generator, cls: str) -> str:
    colour = rng.choice(["red", "striped", "checkered", "bright", "dark", "patterned"])
    motion = rng.choice(["moving quickly", "crossing the scene", "passing behind a block", "weaving between others"])
    return f"the {colour} {cls} {motion}\n"


def _lasot_boxes(tr: FrameTruth, rng: np.random.Generator) -> np.ndarray:
    """Integer boxes; frames out of view get junk in one of the styles seen in the real data."""
    boxes = _round_boxes(tr.boxes)
    style = int(rng.integers(3))
    if style == 0:
        boxes[tr.out_of_view] = 0
    elif style == 1:
        boxes = np.where(tr.out_of_view[:, None], _stale(boxes, tr.out_of_view), boxes)
    else:
        boxes[tr.out_of_view] = [1, 1, -1, -1]
    return boxes


def _flags_line(flags: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in flags) + "\n"


def _write_lasot_like(root: Path, plan: Plan, names: Sequence[str], tag: str, split_of: Callable[[str], str]
                      ) -> dict[str, SequenceTruth]:
    n = _frames_required(plan)
    truths = {}
    for name in _progress(names, tag, plan):
        cls = name.rsplit("-", 1)[0]
        video = _Video(plan, f"{tag}/{name}", n)
        tr = video.truths[0]
        side_rng = _rng(plan.seed, tag, name, "annotation")
        gt_text = _box_text(_lasot_boxes(tr, side_rng), "%d")
        texts = {"groundtruth.txt": gt_text, "full_occlusion.txt": _flags_line(tr.full_occlusion),
                 "out_of_view.txt": _flags_line(tr.out_of_view), "nlp.txt": _lasot_sentence(side_rng, cls)}
        final = root / cls / name
        if not is_complete({final / k: v for k, v in texts.items()}, [final / "img" / f"{n:08d}.jpg"]):
            def fill(tmp: Path) -> None:
                for k, v in texts.items():
                    (tmp / k).write_text(v, encoding="utf-8")
                video.write_frames(tmp / "img", lambda t: f"{t + 1:08d}.jpg", plan.quality)
            write_dir_atomic(final, fill)
        truths[name] = _truth(name, split_of(name), _parse_written(gt_text), tr, object_class=cls)
    return truths


def _check_names(names: Sequence[str], valid: Sequence[str], benchmark: str) -> None:
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise ValueError(f"not {benchmark} sequence names: {unknown[:10]}{' ...' if len(unknown) > 10 else ''}")


def write_lasot(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """`num_sequences` test sequences (spread over the official 280) and as many from the train split."""
    test = lasot_test_names()
    if plan.names is not None:
        _check_names(plan.names, lasot_all_names(), "LaSOT")
        names = list(plan.names)
    else:
        train = sorted(set(lasot_all_names()) - set(test))
        names = _spread(test, plan.num_sequences) + _spread(train, plan.num_sequences)
    test_set = set(test)
    truths = _write_lasot_like(root, plan, names, "lasot", lambda s: "test" if s in test_set else "train")
    write_text_atomic(root / "testing_set.txt", "".join(f"{s}\n" for s in test))
    return truths


def write_lasot_extension(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    valid = lasot_extension_names()
    if plan.names is not None:
        _check_names(plan.names, valid, "LaSOT extension")
    names = list(plan.names) if plan.names is not None else _spread(valid, plan.num_sequences)
    return _write_lasot_like(root, plan, names, "lasot_extension_subset", lambda s: "test")


# ----------------------------------------------------------------------------------------------------- GOT-10k

_GOT_CLASSES = [
    ("ball", "rolling", "sports equipment", "artifact", "quickly"),
    ("toy car", "running", "toy", "artifact", "fast"),
    ("drone", "flying", "aircraft", "artifact", "slowly"),
    ("fish", "swimming", "aquatic animal", "animal", "smoothly"),
    ("beetle", "crawling", "insect", "animal", "steadily"),
]
_GOT_SPLITS = (("train", "GOT-10k_Train_"), ("val", "GOT-10k_Val_"), ("test", "GOT-10k_Test_"))


def _got_meta(rng: np.random.Generator, plan: Plan, n: int) -> tuple[str, str]:
    obj, motion, major, root_cls, adverb = _GOT_CLASSES[int(rng.integers(len(_GOT_CLASSES)))]
    vid = "".join(rng.choice(list(string.ascii_letters + string.digits), 11))
    seconds = n // 10
    lines = ["[METAINFO]", f"url: https://youtu.be/{vid}", "begin: 00:00:00",
             f"end: 00:{seconds // 60:02d}:{seconds % 60:02d}", "anno_fps: 10Hz", f"object_class: {obj}",
             f"motion_class: {motion}", f"major_class: {major}", f"root_class: {root_cls}",
             f"motion_adverb: {adverb}", f"resolution: ({plan.width}, {plan.height})"]
    return "\n".join(lines) + "\n", obj


def _column(values: np.ndarray) -> str:
    return "".join(f"{int(v)}\n" for v in values)


def write_got10k(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """train: `num_sequences`; val and test: a quarter of that (at least 2) each."""
    _reject_names(plan, "got10k")
    n = _frames_required(plan)
    small = max(2, plan.num_sequences // 4)
    truths = {}
    for split, prefix in _GOT_SPLITS:
        count = plan.num_sequences if split == "train" else small
        names = [f"{prefix}{i:06d}" for i in range(1, count + 1)]
        for name in _progress(names, f"got10k/{split}", plan):
            video = _Video(plan, f"got10k/{name}", n)
            tr = video.truths[0]
            meta, obj = _got_meta(_rng(plan.seed, "got10k", name, "meta"), plan, n)
            boxes = np.where(tr.out_of_view[:, None], _stale(tr.boxes, tr.out_of_view), tr.boxes)
            gt_text = _box_text(boxes, "%.4f")
            texts = {"groundtruth.txt": gt_text, "meta_info.ini": meta}
            if split == "test":
                texts["groundtruth.txt"] = gt_text.splitlines(keepends=True)[0]
            else:
                texts.update({"absence.label": _column(tr.absent), "cover.label": _column(tr.cover),
                              "cut_by_image.label": _column(tr.cut_by_image)})
            final = root / split / name
            if not is_complete({final / k: v for k, v in texts.items()}, [final / f"{n:08d}.jpg"]):
                def fill(tmp: Path) -> None:
                    for k, v in texts.items():
                        (tmp / k).write_text(v, encoding="utf-8")
                    video.write_frames(tmp, lambda t: f"{t + 1:08d}.jpg", plan.quality)
                write_dir_atomic(final, fill)
            truths[name] = _truth(name, split, _parse_written(gt_text), tr, object_class=obj)
        write_text_atomic(root / split / "list.txt", "".join(f"{s}\n" for s in names))
    return truths


# ------------------------------------------------------------------------------------------------- TrackingNet

_YOUTUBE_ALPHABET = list(string.ascii_letters + string.digits + "-_")


def _trackingnet_names(seed: int, count: int, tag: str) -> list[str]:
    rng = _rng(seed, "trackingnet", tag, "names")
    names = []
    for i in range(count):
        vid = "".join(rng.choice(_YOUTUBE_ALPHABET, 11))
        if i == 0:
            vid = "-" + vid[1:]   # real ids may start with '-': keep one to catch CLI/glob mistakes
        names.append(f"{vid}_{int(rng.integers(3))}")
    return sorted(set(names))


def write_trackingnet(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """`num_sequences` training sequences over TRAIN_0 and TRAIN_1, a quarter of that (at least 2) in TEST."""
    _reject_names(plan, "trackingnet")
    n = _frames_required(plan)
    half = (plan.num_sequences + 1) // 2
    chunks = {"TRAIN_0": half, "TRAIN_1": plan.num_sequences - half, "TEST": max(2, plan.num_sequences // 4)}
    truths = {}
    for chunk, count in chunks.items():
        names = _trackingnet_names(plan.seed, count, chunk)
        for name in _progress(names, f"trackingnet/{chunk}", plan):
            video = _Video(plan, f"trackingnet/{name}", n)
            tr = video.truths[0]
            boxes = np.where(tr.out_of_view[:, None], 0.0, tr.boxes)
            gt_text = _box_text(boxes, "%.2f")
            anno_text = gt_text.splitlines(keepends=True)[0] if chunk == "TEST" else gt_text
            anno = root / chunk / "anno" / f"{name}.txt"
            frames = root / chunk / "frames" / name
            if not is_complete({anno: anno_text}, [frames / f"{n - 1}.jpg"]):
                if anno.exists():
                    anno.unlink()
                write_dir_atomic(frames, lambda tmp: video.write_frames(tmp, lambda t: f"{t}.jpg", plan.quality))
                write_text_atomic(anno, anno_text)
            truths[name] = _truth(name, chunk, _parse_written(gt_text), tr, first_frame=0)
    return truths


# ------------------------------------------------------------------------------- table-defined: UAV, OTB, NFS

def _select_entries(table: Sequence[TableEntry], plan: Plan, preferred: Sequence[str], benchmark: str,
                    min_frames: int = 40) -> list[TableEntry]:
    """Named entries, else the preferred ones followed by the shortest others, `num_sequences` in all."""
    by_name = {e.name: e for e in table}
    if plan.names is not None:
        _check_names(plan.names, list(by_name), benchmark)
        return [by_name[s] for s in plan.names]
    rest = sorted((e for e in table if e.name not in preferred and e.num_frames >= min_frames),
                  key=lambda e: (e.end_frame, e.name))
    order = [by_name[s] for s in preferred] + rest
    return order[:plan.num_sequences]


def _group_by_folder(entries: Sequence[TableEntry]) -> dict[str, list[TableEntry]]:
    """Selected entries per frame folder (in first-use order)."""
    groups: dict[str, list[TableEntry]] = {}
    for e in entries:
        groups.setdefault(e.frames_dir, []).append(e)
    return groups


def _folder_length(folder: str, table: Sequence[TableEntry]) -> int:
    return max(e.end_frame for e in table if e.frames_dir == folder)


_UAV_PREFERRED = ("uav2", "uav4", "uav5", "uav6", "truck4_1", "truck4_2")


def write_uav(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """Official entries (lengths fixed by the table; num_frames is ignored); a split video is written whole."""
    table = uav_table()
    entries = _select_entries(table, plan, _UAV_PREFERRED, "UAV123")
    truths = {}
    for folder, group in _progress(list(_group_by_folder(entries).items()), "uav", plan):
        length = _folder_length(folder, table)
        video = _Video(plan, f"uav/{folder}", length)
        tr = video.truths[0]
        boxes = np.where(tr.absent[:, None], np.nan, _round_boxes(tr.boxes))
        texts = {}
        for e in group:
            rows = slice(e.start_frame - 1, e.end_frame)
            texts[root / e.anno_path] = _box_text(boxes[rows], "%d")
            truths[f"uav_{e.name}"] = _truth(f"uav_{e.name}", "test", _parse_written(texts[root / e.anno_path]), tr,
                                             rows, e.object_class, e.start_frame)
        frames = root / folder
        if not is_complete(texts, [frames / f"{length:06d}.jpg"]):
            for path in texts:
                path.unlink(missing_ok=True)
            write_dir_atomic(frames, lambda tmp: video.write_frames(tmp, lambda t: f"{t + 1:06d}.jpg", plan.quality))
            for path, text in texts.items():
                write_text_atomic(path, text)
    return truths


_OTB_PREFERRED = ("Deer", "Football1", "KiteSurf", "Bird2", "Jogging_1", "Jogging_2", "Tiger1")
_OTB_DELIMITERS = (",", "\t", " ")


def write_otb(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """Official entries (lengths fixed by the table); multi-target videos hold several targets, and every
    target of a written video gets its GT file (and is returned), even if only one of them was asked for."""
    table = otb_table()
    entries = _select_entries(table, plan, _OTB_PREFERRED, "OTB")
    truths = {}
    for frames_dir, group in _progress(list(_group_by_folder(entries).items()), "otb", plan):
        users = [e for e in table if e.frames_dir == frames_dir]
        length = _folder_length(frames_dir, table)
        video = _Video(plan, f"otb/{frames_dir}", length, num_targets=len(users))
        video_dir = root / frames_dir.split("/")[0]
        delimiter = _OTB_DELIMITERS[zlib.crc32(video_dir.name.encode()) % len(_OTB_DELIMITERS)]
        texts = {}
        for k, e in enumerate(users):
            tr = video.truths[k]
            rows = slice(e.start_frame - 1, e.end_frame)
            boxes = np.where(tr.out_of_view[:, None], 0.0, _round_boxes(tr.boxes))[rows]
            texts[root / e.anno_path] = _box_text(boxes, "%d", delimiter)
            truths[e.name] = _truth(e.name, "test", _parse_written(texts[root / e.anno_path], delimiter), tr,
                                    rows, e.object_class, e.start_frame)
        last = root / group[0].frame_file(length)
        if not is_complete(texts, [last]):
            def fill(tmp: Path) -> None:
                for path, text in texts.items():
                    (tmp / path.name).write_text(text, encoding="utf-8")
                sub = frames_dir.split("/", 1)[1]
                ext, digits = group[0].ext, group[0].digits
                video.write_frames(tmp / sub, lambda t: f"{t + 1:0{digits}d}.{ext}", plan.quality)
            write_dir_atomic(video_dir, fill)
    return truths


def write_nfs(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """Official entries in pytracking's re-arranged layout (lengths fixed by the table)."""
    table = nfs_table()
    entries = _select_entries(table, plan, (), "NFS")
    truths = {}
    for e in _progress(entries, "nfs", plan):
        video = _Video(plan, f"nfs/{e.name}", e.num_frames)
        tr = video.truths[0]
        text = _box_text(np.where(tr.out_of_view[:, None], 0.0, _round_boxes(tr.boxes)), "%d", "\t")
        anno = root / e.anno_path
        frames = root / e.frames_dir
        if not is_complete({anno: text}, [root / e.frame_file(e.end_frame)]):
            anno.unlink(missing_ok=True)
            write_dir_atomic(frames, lambda tmp: video.write_frames(tmp, lambda t: f"{t + 1:05d}.jpg", plan.quality))
            write_text_atomic(anno, text)
        truths[f"nfs_{e.name}"] = _truth(f"nfs_{e.name}", "test", _parse_written(text, "\t"), tr,
                                         object_class=e.object_class)
    return truths


# ------------------------------------------------------------------------------------------------------- TNL2K

_TNL2K_CLASSES = ("car", "person", "drone", "ball", "boat", "bird")


def write_tnl2k(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    _reject_names(plan, "tnl2k")
    n = _frames_required(plan)
    names = [f"synth_{_TNL2K_CLASSES[i % len(_TNL2K_CLASSES)]}_{i + 1:03d}" for i in range(plan.num_sequences)]
    truths = {}
    for name in _progress(names, "tnl2k", plan):
        video = _Video(plan, f"tnl2k/{name}", n)
        tr = video.truths[0]
        gt_text = _box_text(np.where(tr.out_of_view[:, None], 0.0, _round_boxes(tr.boxes)), "%d")
        cls = name.split("_")[1]
        texts = {"groundtruth.txt": gt_text, "language.txt": f"track the {cls} that moves fastest\n"}
        final = root / name
        if not is_complete({final / k: v for k, v in texts.items()}, [final / "imgs" / f"{n:05d}.jpg"]):
            def fill(tmp: Path) -> None:
                for k, v in texts.items():
                    (tmp / k).write_text(v, encoding="utf-8")
                video.write_frames(tmp / "imgs", lambda t: f"{t + 1:05d}.jpg", plan.quality)
            write_dir_atomic(final, fill)
        truths[name] = _truth(name, "test", _parse_written(gt_text), tr)
    return truths


# -------------------------------------------------------------------------------------------------------- COCO

_COCO_CATEGORIES = [(1, "person", "person"), (3, "car", "vehicle"), (18, "dog", "animal"),
                    (37, "sports ball", "sports"), (44, "bottle", "kitchen")]


def _coco_boxes(rng: np.random.Generator, width: int, height: int) -> list[tuple[list[float], bool]]:
    """(box, iscrowd) per annotation: 1-3 ordinary objects (over 50 px when the image allows), maybe a tiny one,
    maybe a crowd region."""
    def size(lo: float, hi: float, side: int) -> float:
        hi = min(hi, 0.6 * side)
        return float(rng.uniform(min(lo, hi), hi))

    def place(w: float, h: float) -> list[float]:
        return [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h]

    out = [(place(size(55, width, width), size(55, height, height)), False) for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.5:
        out.append((place(size(8, 45, width), size(8, 45, height)), False))
    if rng.random() < 0.4:
        out.append((place(size(60, 0.5 * width, width), size(40, 0.5 * height, height)), True))
    return [([round(float(v), 2) for v in box], crowd) for box, crowd in out]


def _rle_rect(box: list[float], width: int, height: int) -> dict:
    """Uncompressed COCO RLE (column-major run lengths starting with zeros) of a filled rectangle."""
    mask = np.zeros((height, width), np.uint8)
    x0, y0 = int(box[0]), int(box[1])
    mask[y0:int(np.ceil(box[1] + box[3])), x0:int(np.ceil(box[0] + box[2]))] = 1
    flat = mask.flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"counts": counts, "size": [height, width]}


def write_coco(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """`num_sequences` images; every non-crowd annotation is one training 'sequence' of one frame."""
    _reject_names(plan, "coco")
    images, annotations, truths = [], [], {}
    ann_id = 1
    for i in _progress(list(range(plan.num_sequences)), "coco", plan):
        image_id = 9 + 7 * i
        file_name = f"{image_id:012d}.jpg"
        rng = _rng(plan.seed, "coco", file_name)
        objects = _coco_boxes(rng, plan.width, plan.height)
        images.append({"license": 1, "file_name": file_name, "coco_url": "", "height": plan.height,
                       "width": plan.width, "date_captured": "2013-11-14 16:28:13", "flickr_url": "",
                       "id": image_id})
        for box, crowd in objects:
            cat_id, cat_name, _ = _COCO_CATEGORIES[int(rng.integers(len(_COCO_CATEGORIES)))]
            x, y, w, h = box
            seg = _rle_rect(box, plan.width, plan.height) if crowd else [[x, y, x + w, y, x + w, y + h, x, y + h]]
            annotations.append({"segmentation": seg, "area": round(w * h, 2), "iscrowd": int(crowd),
                                "image_id": image_id, "bbox": box, "category_id": cat_id, "id": ann_id})
            box_arr = np.array([box], dtype=np.float64)
            truths[str(ann_id)] = SequenceTruth(
                str(ann_id), "train2017", box_arr, box_arr.copy(), np.array([True]), np.array([False]),
                np.array([False]), np.array([False]), np.array([8]), cat_name,
                extra={"iscrowd": crowd, "file_name": file_name})
            ann_id += 1
        path = root / "images" / "train2017" / file_name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".tmp-{path.name}"
            pixels = render_image(_rng(plan.seed, "coco", file_name, "pixels"), plan.width, plan.height,
                                  np.array([b for b, _ in objects]))
            try:
                write_image(tmp, pixels, plan.quality)
            except BaseException:  # no partial image left behind
                tmp.unlink(missing_ok=True)
                raise
            tmp.replace(path)
    categories = [{"supercategory": sup, "id": cid, "name": name} for cid, name, sup in _COCO_CATEGORIES]
    doc = {"info": {"description": "TrackZoo synthetic COCO-format images", "version": "1.0", "year": 2017},
           "licenses": [{"url": "", "id": 1, "name": "synthetic"}], "images": images,
           "annotations": annotations, "categories": categories}
    write_text_atomic(root / "annotations" / "instances_train2017.json", json.dumps(doc, separators=(",", ":")))
    return truths


# ---------------------------------------------------------------------- multi-modal: RGB-D, RGB-T, RGB-E

_RGBD_CLASSES = ("adapter", "backpack", "ball", "bottle", "cup", "duck", "toy", "umbrella")
_RGBD_FRAMES = (lambda t: f"{t + 1:08d}.jpg", lambda t: f"{t + 1:08d}.png")


def _write_modal(final: Path, video: _Video, texts: dict[str, str], folders: tuple[str, str],
                 file_names: tuple[Callable[[int], str], ...], kind: str, plan: Plan,
                 shift: tuple[float, float] = (0.0, 0.0)) -> None:
    last = video.num_frames - 1
    required = [final / folders[0] / file_names[0](last), final / folders[1] / file_names[1](last)]
    if not is_complete({final / k: v for k, v in texts.items()}, required):
        def fill(tmp: Path) -> None:
            for k, v in texts.items():
                (tmp / k).write_text(v, encoding="utf-8")
            video.write_modal_frames((tmp / folders[0], tmp / folders[1]), file_names, kind, plan.quality, shift)
        write_dir_atomic(final, fill)


def _rgbd_sequence(root: Path, plan: Plan, name: str, split: str, tag: str, fmt: str,
                   extra: Optional[dict[str, str]] = None) -> SequenceTruth:
    """color/%08d.jpg + 16-bit depth/%08d.png from 1; groundtruth.txt with NaN rows where the target is absent."""
    video = _Video(plan, f"{tag}/{name}", _frames_required(plan))
    tr = video.truths[0]
    gt_text = _box_text(np.where(tr.absent[:, None], np.nan, _round_boxes(tr.boxes)), fmt)
    texts = {"groundtruth.txt": gt_text, **(extra or {})}
    _write_modal(root / name, video, texts, ("color", "depth"), _RGBD_FRAMES, "depth", plan)
    return _truth(name, split, _parse_written(gt_text), tr)


def _modal_counts(plan: Plan) -> tuple[int, int]:
    """(sequences of a main split, of a small split: a quarter, at least 2)."""
    return plan.num_sequences, max(2, plan.num_sequences // 4)


def write_depthtrack(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """test/ and train/ with `num_sequences` each, val/ with a quarter (at least 2); names like adapter01_indoor."""
    _reject_names(plan, "depthtrack")
    main, small = _modal_counts(plan)
    truths = {}
    for split, count, first in (("test", main, 1), ("train", main, 20), ("val", small, 60)):
        names = [f"{_RGBD_CLASSES[i % len(_RGBD_CLASSES)]}{first + i:02d}_{('indoor', 'wild')[i % 2]}"
                 for i in range(count)]
        for name in _progress(names, f"depthtrack/{split}", plan):
            truths[name] = _rgbd_sequence(root / split, plan, name, split, "depthtrack", "%d")
    return truths


def write_vot_rgbd2022(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """VOT sequence folders (color + depth channels declared in each `sequence` file) and list.txt."""
    _reject_names(plan, "vot_rgbd2022")
    names = [f"{_RGBD_CLASSES[-1 - i % len(_RGBD_CLASSES)]}_{i + 1:02d}" for i in range(plan.num_sequences)]
    truths = {}
    for name in _progress(names, "vot_rgbd2022", plan):
        meta = (f"channels.color=color/%08d.jpg\nchannels.depth=depth/%08d.png\nformat=default\nfps=30\n"
                f"name={name}\n")
        truths[name] = _rgbd_sequence(root, plan, name, "test", "vot_rgbd2022", "%.4f", {"sequence": meta})
    write_text_atomic(root / "list.txt", "".join(f"{s}\n" for s in names))
    return truths


def _rgbt_sequence(root: Path, plan: Plan, name: str, split: str, tag: str,
                   file_names: tuple[Callable[[int], str], ...], misaligned: bool) -> SequenceTruth:
    """visible/ + infrared/ frames, visible.txt, infrared.txt (0-size boxes where the target is absent), init.txt.
    `misaligned`: the thermal camera sits a few pixels off (RGBT234), so infrared.txt differs from visible.txt."""
    video = _Video(plan, f"{tag}/{name}", _frames_required(plan))
    tr = video.truths[0]
    shift = (0.0, 0.0)
    if misaligned:
        shift = tuple(float(v) for v in _rng(plan.seed, tag, name, "shift").choice([-3, -2, -1, 1, 2, 3], 2))
    boxes = np.where(tr.absent[:, None], 0.0, _round_boxes(tr.boxes))
    ir_boxes = np.where(tr.absent[:, None], 0.0, boxes + np.array([*shift, 0.0, 0.0]))
    gt_text, ir_text = _box_text(boxes, "%d"), _box_text(ir_boxes, "%d")
    texts = {"visible.txt": gt_text, "infrared.txt": ir_text, "init.txt": gt_text.splitlines(keepends=True)[0]}
    _write_modal(root / name, video, texts, ("visible", "infrared"), file_names, "thermal", plan, shift)
    truth = _truth(name, split, _parse_written(gt_text), tr)
    truth.extra["aux_boxes"] = _parse_written(ir_text)
    return truth


# names with the quote characters of real LasHeR names (`blkboy`shead`, `leftgirl'swhitebag`)
_LASHER_NAMES = ("boywalkinginsnow", "leftgirl'swhitebag", "blkboy`shead", "2ndcarcome", "rightblkboy", "whitecar")
# LasHeR frame names restart per folder with a prefix (v000.jpg / i000.jpg): the official glob('*1.jpg') matches
# v001, v011, v021, ...
_LASHER_FRAMES = (lambda t: f"v{t:03d}.jpg", lambda t: f"i{t:03d}.jpg")


def write_lasher(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """testingset/ and trainingset/ with `num_sequences` each (and their testingsetList.txt, trainingsetList.txt),
    valset/ with a quarter (at least 2)."""
    _reject_names(plan, "lasher")
    main, small = _modal_counts(plan)
    truths = {}
    for split, count, first, list_file in (("testingset", main, 1, "testingsetList.txt"),
                                           ("trainingset", main, 20, "trainingsetList.txt"),
                                           ("valset", small, 60, "")):
        names = [f"{_LASHER_NAMES[i % len(_LASHER_NAMES)]}{first + i}" for i in range(count)]
        for name in _progress(names, f"lasher/{split}", plan):
            truths[name] = _rgbt_sequence(root / split, plan, name, split, "lasher", _LASHER_FRAMES, False)
        if list_file:
            write_text_atomic(root / split / list_file, "".join(f"{s}\n" for s in names))
    return truths


_RGBT234_NAMES = ("afterrain", "baby", "bikeman", "carLight", "dog1", "elecbike", "kite2", "manwithbasketball")


def write_rgbt234(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """`num_sequences` folders with visible/%05dv.jpg + infrared/%05di.jpg from 1 and two ground truths."""
    _reject_names(plan, "rgbt234")
    names = [_RGBT234_NAMES[i % len(_RGBT234_NAMES)] + (str(i // len(_RGBT234_NAMES)) if i >= len(_RGBT234_NAMES)
                                                        else "") for i in range(plan.num_sequences)]
    frames = (lambda t: f"{t + 1:05d}v.jpg", lambda t: f"{t + 1:05d}i.jpg")
    return {name: _rgbt_sequence(root, plan, name, "test", "rgbt234", frames, True)
            for name in _progress(names, "rgbt234", plan)}


def _visevent_name(i: int, first: int) -> str:
    k = first + i
    return (f"{k:05d}_tank_outdoor{k % 3 + 1}", f"dvSave-2021_02_06_09_{k % 60:02d}_44_person{k % 4 + 1}",
            f"video_{k:04d}", f"traffic_{k:04d}")[i % 4]


def write_visevent(root: Path, plan: Plan) -> dict[str, SequenceTruth]:
    """test/ and train/ with `num_sequences` each and testlist.txt / trainlist.txt: vis_imgs/ + event_imgs/ BMPs
    with the same names, groundtruth.txt (0-size boxes out of view), absent_label.txt (1 = target present)."""
    _reject_names(plan, "visevent")
    truths = {}
    frames = (lambda t: f"frame{t:04d}.bmp",) * 2
    for split, first, list_file in (("test", 1, "testlist.txt"), ("train", 200, "trainlist.txt")):
        names = [_visevent_name(i, first) for i in range(plan.num_sequences)]
        for name in _progress(names, f"visevent/{split}", plan):
            video = _Video(plan, f"visevent/{name}", _frames_required(plan))
            tr = video.truths[0]
            gt_text = _box_text(np.where(tr.out_of_view[:, None], 0.0, _round_boxes(tr.boxes)), "%d")
            texts = {"groundtruth.txt": gt_text, "absent_label.txt": _column(tr.visible)}
            _write_modal(root / split / name, video, texts, ("vis_imgs", "event_imgs"), frames, "event", plan)
            truths[name] = _truth(name, split, _parse_written(gt_text), tr)
        write_text_atomic(root / split / list_file, "".join(f"{s}\n" for s in names))
    return truths


WRITERS: dict[str, Callable[[Path, Plan], dict[str, SequenceTruth]]] = {
    "lasot": write_lasot,
    "lasot_extension_subset": write_lasot_extension,
    "got10k": write_got10k,
    "trackingnet": write_trackingnet,
    "uav": write_uav,
    "otb": write_otb,
    "nfs": write_nfs,
    "tnl2k": write_tnl2k,
    "coco": write_coco,
    "depthtrack": write_depthtrack,
    "vot_rgbd2022": write_vot_rgbd2022,
    "lasher": write_lasher,
    "rgbt234": write_rgbt234,
    "visevent": write_visevent,
}
# Benchmarks whose sequence lengths come from official tables (num_frames does not apply).
TABLE_BENCHMARKS = ("uav", "otb", "nfs")
