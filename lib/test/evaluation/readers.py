"""Evaluation readers, one per benchmark layout; each builds a SequenceList from a root folder (or LMDB pack).

Benchmarks defined by official name tables (UAV123, OTB, NFS) read the official list by default and fail with the
list of missing sequences; `only_present=True` (`--only_present`) or `names=` evaluates a partial copy, and says
which sequences it skips. LaSOT reads the copy's `testing_set.txt` when there is one, else the official test list
when the copy holds all of it, else every `<class>/<class>-<n>` folder. Benchmarks defined by their folder contents
(GOT-10k, TrackingNet, TNL2K) read what is there.
Where the official layout fixes the frame files from the ground-truth length (LaSOT, the tables), no folder is
listed and no image is touched (scoring needs none): the frames are a FrameList formatted on demand.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Iterable, Optional, Sequence as Seq

import numpy as np

from lib.test.evaluation.benchmark_tables import (TableEntry, lasot_extension_names, lasot_test_names, nfs_table,
                                                  otb_table, uav_table)
from lib.families import UnknownNameError
from lib.test.evaluation.data import Sequence, SequenceList
from lib.utils.annotations import (AnnotationError, check_box_sizes, check_length, parse_boxes, parse_flags,
                                   parse_key_values, parse_resolution)
from lib.utils.env import MissingPathError
from lib.utils.file_source import DirSource, FileSource, LmdbSource
from lib.utils.got10k_splits import split_ids
from lib.utils.image_io import imread_rgb

__all__ = ["EvalDataset", "LaSOTDataset", "GOT10KDataset", "TrackingNetDataset", "TableDataset", "TNL2KDataset",
           "uav_dataset", "otb_dataset", "nfs_dataset", "lasot_extension_dataset"]


def _source(root: str | os.PathLike | FileSource, use_lmdb: bool,
            image_loader: Callable[[str], np.ndarray]) -> FileSource:
    if isinstance(root, FileSource):
        return root
    if use_lmdb:
        return LmdbSource(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: benchmark folder not found")
    return DirSource(root, image_loader)


def _shown(names: Seq[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def choose_sequences(benchmark: str, source: FileSource, listed: Seq[str], names: Optional[Iterable[str]],
                     only_present: bool, present: Callable[[str], bool]) -> list[str]:
    """The listed sequences (or `names`, which must be among them), checked against what is on disk; with
    `only_present` the missing ones are skipped and named."""
    if names is not None:
        wanted = list(names)
        valid = set(listed)
        unknown = [n for n in wanted if n not in valid]
        if unknown:
            raise UnknownNameError(f"{benchmark}: not sequences of this benchmark: {unknown[:10]}")
    else:
        wanted = list(listed)
    found = [n for n in wanted if present(n)]
    if len(found) != len(wanted):
        found_set = set(found)
        missing = [n for n in wanted if n not in found_set]
        if not only_present:
            raise MissingPathError(
                f"{benchmark} at {source.describe('')}: {len(missing)} of {len(wanted)} sequences are missing: "
                f"{_shown(missing)}. For a partial copy (e.g. a synthetic subset) add --only_present to evaluate "
                f"the {len(found)} present ones.")
        if found:
            print(f"{benchmark}: evaluating {len(found)} of {len(wanted)} sequences; skipped (not present): "
                  f"{_shown(missing)}")
    if not found:
        raise MissingPathError(f"{benchmark} at {source.describe('')}: no sequence present")
    return found


def _numeric_frames(source: FileSource, folder: str, ext: str = ".jpg") -> list[str]:
    """Names of the files `<int>.<ext>` of a folder, sorted by the integer (GOT-10k, TrackingNet evaluation order)."""
    files = [f for f in source.list_dir(folder) if f.lower().endswith(ext)]
    if not files:
        raise FileNotFoundError(f"{source.describe(folder)}: sequence folder has no {ext} frames")
    try:
        files.sort(key=lambda f: int(f[:-len(ext)]))
    except ValueError:
        bad = next(f for f in files if not f[:-len(ext)].isdigit())
        raise AnnotationError(f"{source.describe(folder)}: frame file '{bad}' is not named by a number") from None
    return files


class EvalDataset:
    """Base: a named benchmark over a file source; `get_sequence_list()` builds the sequences."""
    tag = ""

    def __init__(self, source: FileSource):
        self.source = source

    def get_sequence_list(self) -> SequenceList:
        raise NotImplementedError

    def _sequence(self, name: str, frames: Seq[str], gt: np.ndarray, visible: Optional[np.ndarray] = None,
                  object_class: Optional[str] = None, image_size: Optional[tuple[float, float]] = None) -> Sequence:
        """`frames`: frame references made by the source (`frame_refs`, `numbered_frames`)."""
        return Sequence(name, frames, self.tag, gt, visible, object_class, frame_loader=self.source.load_ref,
                        image_size=image_size)

    def _read_gt(self, rel: str, delimiter: Optional[str] = ",", allow_nan: bool = False,
                 present: Optional[np.ndarray] = None) -> np.ndarray:
        text = self.source.read_text(rel)
        boxes = parse_boxes(text, self.source.describe(rel), delimiter=delimiter, allow_nan=allow_nan)
        if present is None or len(present) == len(boxes):
            check_box_sizes(boxes, self.source.describe(rel), text, present)
        return boxes


class LaSOTDataset(EvalDataset):
    """LaSOT test set or, with `official=lasot_extension_names()`, LaSOT extension.

    Sequences: the copy's root `testing_set.txt` when present; else the official list when the copy holds all of
    it (a full LaSOT copy also holds the training sequences); else every `<class>/<class>-<n>` folder.
    """
    tag = "lasot"
    LIST_FILE = "testing_set.txt"

    def __init__(self, root: str | os.PathLike | FileSource, names: Optional[Iterable[str]] = None,
                 only_present: bool = False, use_lmdb: bool = False, tag: str = "lasot",
                 official: Optional[Seq[str]] = None, image_loader: Callable[[str], np.ndarray] = imread_rgb):
        super().__init__(_source(root, use_lmdb, image_loader))
        self.tag = tag
        self.sequence_names = choose_sequences(
            tag, self.source, self._listed(official or lasot_test_names()), names, only_present,
            lambda n: self.source.exists(f"{self._dir(n)}/groundtruth.txt"))

    def _listed(self, official: Seq[str]) -> list[str]:
        if self.source.exists(self.LIST_FILE):
            return [line.strip() for line in self.source.read_text(self.LIST_FILE).splitlines() if line.strip()]
        folders = self._sequence_folders()
        return list(official) if set(official) <= set(folders) else folders

    def _sequence_folders(self) -> list[str]:
        """Every `<class>/<class>-<n>` folder, by class and number."""
        found = []
        for cls in self.source.list_dir(""):
            if not self.source.is_dir(cls):
                continue
            pattern = re.compile(re.escape(cls) + r"-(\d+)")
            numbered = [(int(m.group(1)), d) for d in self.source.list_dir(cls) if (m := pattern.fullmatch(d))]
            found += [d for _, d in sorted(numbered)]
        return found

    @staticmethod
    def _dir(name: str) -> str:
        return f"{name.rsplit('-', 1)[0]}/{name}"

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        seq = self._dir(name)
        flags = []
        for f in ("full_occlusion.txt", "out_of_view.txt"):
            flags.append(parse_flags(self.source.read_text(f"{seq}/{f}"), self.source.describe(f"{seq}/{f}")))
        visible = None
        if len(flags[0]) == len(flags[1]):
            visible = (flags[0] == 0) & (flags[1] == 0)
        gt = self._read_gt(f"{seq}/groundtruth.txt", present=visible)
        for f, values in zip(("full_occlusion.txt", "out_of_view.txt"), flags):
            check_length(values, len(gt), self.source.describe(f"{seq}/{f}"), "values", "groundtruth.txt")
        frames = self.source.numbered_frames(f"{seq}/img", "%08d.jpg", range(1, len(gt) + 1))
        return self._sequence(name, frames, gt, visible, name.rsplit("-", 1)[0])


def lasot_extension_dataset(root: str | os.PathLike | FileSource, **kwargs) -> LaSOTDataset:
    return LaSOTDataset(root, tag="lasot_extension_subset", official=lasot_extension_names(), **kwargs)


class GOT10KDataset(EvalDataset):
    """GOT-10k `test` or `val` from `<root>/<split>/list.txt`; `ltrval` = the held-out rows of `train/`."""
    tag = "got10k"

    def __init__(self, root: str | os.PathLike | FileSource, split: str, use_lmdb: bool = False,
                 image_loader: Callable[[str], np.ndarray] = imread_rgb):
        if split not in ("test", "val", "ltrval"):
            raise ValueError(f"GOT-10k evaluation split must be test, val or ltrval, got '{split}'")
        super().__init__(_source(root, use_lmdb, image_loader))
        self.split = split
        self.folder = "train" if split == "ltrval" else split
        listed = self._read_list()
        self.sequence_names = [listed[i] for i in split_ids("val", listed)] if split == "ltrval" else listed

    def _read_list(self) -> list[str]:
        rel = f"{self.folder}/list.txt"
        names = [line.strip() for line in self.source.read_text(rel).splitlines() if line.strip()]
        if not names:
            raise AnnotationError(f"{self.source.describe(rel)}: empty list.txt (expected one sequence per line)")
        return names

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        seq = f"{self.folder}/{name}"
        files = _numeric_frames(self.source, seq)
        if self.split == "test":
            return self._sequence(name, self.source.frame_refs(seq, files), self._read_gt(f"{seq}/groundtruth.txt")[:1])
        visible = self._visibility(seq)
        gt = self._read_gt(f"{seq}/groundtruth.txt", present=visible)
        if len(gt) != len(files):
            raise AnnotationError(f"{self.source.describe(seq + '/groundtruth.txt')}: {len(gt)} rows for "
                                  f"{len(files)} frames")
        if visible is not None:
            check_length(visible, len(gt), self.source.describe(seq), "visibility labels", "groundtruth.txt")
        return self._sequence(name, self.source.frame_refs(seq, files), gt, visible,
                              image_size=self._image_size(seq))

    def _visibility(self, seq: str) -> Optional[np.ndarray]:
        """Target visible where `cover.label` > 0 (what the got10k toolkit keeps), else where `absence.label` is 0;
        None when the copy has neither."""
        for label, visible_if in (("cover", lambda v: v > 0), ("absence", lambda v: v == 0)):
            rel = f"{seq}/{label}.label"
            if self.source.exists(rel):
                return visible_if(parse_flags(self.source.read_text(rel), self.source.describe(rel)))
        return None

    def _image_size(self, seq: str) -> Optional[tuple[float, float]]:
        rel = f"{seq}/meta_info.ini"
        if not self.source.exists(rel):
            return None
        where = self.source.describe(rel)
        return parse_resolution(parse_key_values(self.source.read_text(rel), where, ["resolution"])["resolution"],
                                where)


class TrackingNetDataset(EvalDataset):
    """TrackingNet `TEST` (first box public only) or a `TRAIN_<k>` chunk."""
    tag = "trackingnet"

    def __init__(self, root: str | os.PathLike | FileSource, chunk: str = "TEST", use_lmdb: bool = False,
                 image_loader: Callable[[str], np.ndarray] = imread_rgb):
        super().__init__(_source(root, use_lmdb, image_loader))
        self.chunk = chunk
        files = [f for f in self.source.list_dir(f"{chunk}/anno") if f.endswith(".txt")]
        if not files:
            raise FileNotFoundError(f"{self.source.describe(chunk + '/anno')}: no annotation files")
        self.sequence_names = sorted(f[:-4] for f in files)

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        folder = f"{self.chunk}/frames/{name}"
        files = _numeric_frames(self.source, folder)
        gt = self._read_gt(f"{self.chunk}/anno/{name}.txt")
        if self.chunk != "TEST" and len(gt) != len(files):
            raise AnnotationError(f"{self.source.describe(f'{self.chunk}/anno/{name}.txt')}: {len(gt)} rows for "
                                  f"{len(files)} frames")
        return self._sequence(name, self.source.frame_refs(folder, files), gt)


class TableDataset(EvalDataset):
    """A benchmark defined by an official table of entries (UAV123, OTB, NFS)."""

    def __init__(self, root: str | os.PathLike | FileSource, table: Seq[TableEntry], tag: str, prefix: str,
                 delimiter: Optional[str], allow_nan: bool, names: Optional[Iterable[str]] = None,
                 only_present: bool = False, image_loader: Callable[[str], np.ndarray] = imread_rgb):
        super().__init__(_source(root, False, image_loader))
        self.tag, self.prefix, self.delimiter, self.allow_nan = tag, prefix, delimiter, allow_nan
        self.entries = {prefix + e.name: e for e in table}
        self.sequence_names = choose_sequences(tag, self.source, list(self.entries), names, only_present,
                                               lambda n: self.source.exists(self.entries[n].anno_path))

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        e = self.entries[name]
        gt = self._read_gt(e.anno_path, self.delimiter, self.allow_nan)
        if len(gt) != e.num_frames:
            raise AnnotationError(f"{self.source.describe(e.anno_path)}: {len(gt)} rows, but the official table has "
                                  f"{e.num_frames} frames ({e.start_frame}-{e.end_frame}) for {name}")
        frames = self.source.numbered_frames(e.frames_dir, e.frame_pattern, e.frame_numbers)
        return self._sequence(name, frames, gt[e.init_omit:], object_class=e.object_class)


def uav_dataset(root: str | os.PathLike, **kwargs) -> TableDataset:
    """UAV123: comma GT, NaN rows mark an absent target."""
    return TableDataset(root, uav_table(), "uav", "uav_", ",", True, **kwargs)


def otb_dataset(root: str | os.PathLike, **kwargs) -> TableDataset:
    """OTB-100: GT delimiter varies per file (comma, TAB or spaces)."""
    return TableDataset(root, otb_table(), "otb", "", None, False, **kwargs)


def nfs_dataset(root: str | os.PathLike, **kwargs) -> TableDataset:
    """NFS (30 fps) in pytracking's re-arranged layout: TAB-separated GT."""
    return TableDataset(root, nfs_table(), "nfs", "nfs_", "\t", False, **kwargs)


class TNL2KDataset(EvalDataset):
    """TNL2K: every sub-folder of the root is a sequence; frames = all files of `imgs/`, sorted by name."""
    tag = "tnl2k"

    def __init__(self, root: str | os.PathLike | FileSource, image_loader: Callable[[str], np.ndarray] = imread_rgb):
        super().__init__(_source(root, False, image_loader))
        self.sequence_names = [d for d in self.source.list_dir("") if self.source.is_dir(d)]
        if not self.sequence_names:
            raise FileNotFoundError(f"{self.source.describe('')}: no sequence folders")

    def __len__(self) -> int:
        return len(self.sequence_names)

    def get_sequence_list(self) -> SequenceList:
        return SequenceList(self._construct(n) for n in self.sequence_names)

    def _construct(self, name: str) -> Sequence:
        files = [f for f in self.source.list_dir(f"{name}/imgs") if not f.startswith(".")]
        if not files:
            raise FileNotFoundError(f"{self.source.describe(name + '/imgs')}: sequence folder has no frames")
        gt = self._read_gt(f"{name}/groundtruth.txt")
        if len(gt) != len(files):
            raise AnnotationError(f"{self.source.describe(name + '/groundtruth.txt')}: {len(gt)} rows for "
                                  f"{len(files)} frames")
        return self._sequence(name, self.source.frame_refs(f"{name}/imgs", files), gt)
