"""Where a reader's files come from: a folder on disk, or an LMDB database holding the same files.

An LMDB pack stores every file of a dataset folder under its POSIX path relative to that folder (key) with the
file's bytes (value); `pack_folder_to_lmdb` writes one. Readers address files by relative path only, so the same
reader code serves both. numpy/cv2/lmdb only (no torch), usable from training and evaluation code.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from lib.utils.image_io import ImageReadError, decode_rgb, imread_rgb
from lib.utils.io import FileWriteError, atomic_dir

__all__ = ["FileSource", "DirSource", "LmdbSource", "FrameList", "pack_folder_to_lmdb", "open_source"]


class FrameList(Sequence):
    """Frame references `prefix + pattern % number` for each number of a range, made on demand.

    A list-like stand-in for the ~2,500 path strings of a long sequence: building ~700,000 paths up front is most
    of the time of loading LaSOT. Supports len(), indexing, iteration, slicing (a FrameList again), comparison
    with lists and pickling (plain attributes).
    """

    def __init__(self, prefix: str, pattern: str, numbers: range):
        self.prefix = prefix
        self.pattern = pattern
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index: Union[int, slice]) -> Union[str, "FrameList"]:
        if isinstance(index, slice):
            return FrameList(self.prefix, self.pattern, self.numbers[index])
        return self.prefix + self.pattern % self.numbers[index]

    def __iter__(self) -> Iterator[str]:
        prefix, pattern = self.prefix, self.pattern
        return (prefix + pattern % k for k in self.numbers)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrameList) and (self.prefix, self.pattern) == (other.prefix, other.pattern):
            return self.numbers == other.numbers
        if isinstance(other, (FrameList, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # mutable-sequence semantics, like the list it replaces

    def __repr__(self) -> str:
        return f"FrameList({self.prefix!r}, {self.pattern!r}, {self.numbers!r})"


class FileSource:
    """Read-only access to the files of one dataset by relative POSIX path."""

    def sub(self, rel: str) -> "FileSource":
        raise NotImplementedError

    def read_bytes(self, rel: str) -> bytes:
        raise NotImplementedError

    def read_text(self, rel: str) -> str:
        data = self.read_bytes(rel)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{self.describe(rel)}: not UTF-8 text ({e})") from e

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def is_dir(self, rel: str) -> bool:
        raise NotImplementedError

    def list_dir(self, rel: str) -> list[str]:
        """Names of the direct children of folder `rel`, sorted."""
        raise NotImplementedError

    def load_image(self, rel: str) -> np.ndarray:
        raise NotImplementedError

    def describe(self, rel: str) -> str:
        """Human-readable location of `rel` for error messages."""
        raise NotImplementedError

    def frame_ref(self, rel: str) -> str:
        """What an evaluation Sequence stores as the frame: a file path, or the key for an LMDB source."""
        raise NotImplementedError

    def frame_prefix(self, folder: str) -> str:
        """The string that, followed by a file name, gives `frame_ref(folder + '/' + name)`."""
        raise NotImplementedError

    def frame_refs(self, folder: str, names: Sequence[str]) -> list[str]:
        """`frame_ref` of each file `names[i]` of `folder` (one string concatenation each)."""
        prefix = self.frame_prefix(folder)
        return [prefix + name for name in names]

    def numbered_frames(self, folder: str, pattern: str, numbers: range) -> FrameList:
        """`frame_ref` of the files `pattern % k` of `folder` for k in `numbers`, formatted on demand."""
        return FrameList(self.frame_prefix(folder), pattern, numbers)

    def load_ref(self, ref: str) -> np.ndarray:
        """Load the image of a `frame_ref` value (picklable as a bound method, for multiprocessing runners)."""
        raise NotImplementedError


def _join(prefix: str, rel: str) -> str:
    rel = rel.strip("/")
    if not prefix:
        return rel
    return f"{prefix}/{rel}" if rel else prefix


class DirSource(FileSource):
    """Files under a root folder; images go through `image_loader` (path -> RGB array)."""

    def __init__(self, root: str | os.PathLike, image_loader: Callable[[str], np.ndarray] = imread_rgb):
        self.root = os.fspath(root)
        self.image_loader = image_loader

    def __repr__(self) -> str:
        return f"DirSource({self.root!r})"

    def path(self, rel: str) -> str:
        return os.path.join(self.root, *[p for p in rel.split("/") if p])

    def sub(self, rel: str) -> "DirSource":
        return DirSource(self.path(rel), self.image_loader)

    def read_bytes(self, rel: str) -> bytes:
        path = self.path(rel)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: file not found") from None

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def is_dir(self, rel: str) -> bool:
        return os.path.isdir(self.path(rel))

    def list_dir(self, rel: str) -> list[str]:
        path = self.path(rel)
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: folder not found") from None

    def load_image(self, rel: str) -> np.ndarray:
        return self.image_loader(self.path(rel))

    def describe(self, rel: str) -> str:
        return self.path(rel)

    def frame_ref(self, rel: str) -> str:
        return self.path(rel)

    def frame_prefix(self, folder: str) -> str:
        return os.path.join(self.path(folder), "")

    def load_ref(self, ref: str) -> np.ndarray:
        return self.image_loader(ref)


# path -> (pid, environment): py-lmdb refuses to open one environment twice in a process, and an environment
# must not be used across a fork, so environments are shared per process and re-opened in a forked child.
_LMDB_ENVS: dict[str, tuple[int, object]] = {}


class _LmdbHandle:
    """Access to one LMDB environment; picklable (the environment itself is not pickled)."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def env(self):
        entry = _LMDB_ENVS.get(self.path)
        if entry is None or entry[0] != os.getpid():
            import lmdb
            if entry is not None:
                entry[1].close()   # inherited through fork: drop the parent's mapping in this process only
            if not os.path.isdir(self.path):
                raise FileNotFoundError(f"{self.path}: LMDB folder not found")
            env = lmdb.open(self.path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=512)
            entry = (os.getpid(), env)
            _LMDB_ENVS[self.path] = entry
        return entry[1]

    def get(self, key: str) -> Optional[bytes]:
        with self.env().begin(buffers=False) as txn:
            return txn.get(key.encode("utf-8"))

    def first_key_at_or_after(self, position: str) -> Optional[str]:
        with self.env().begin() as txn:
            cursor = txn.cursor()
            if not cursor.set_range(position.encode("utf-8")):
                return None
            return bytes(cursor.key()).decode("utf-8")


class LmdbSource(FileSource):
    """Files packed in an LMDB database (keys = relative paths), optionally below a key prefix."""

    def __init__(self, lmdb_path: str | os.PathLike, prefix: str = "", _handle: Optional[_LmdbHandle] = None):
        self.lmdb_path = os.fspath(lmdb_path)
        self.prefix = prefix.strip("/")
        self._handle = _handle or _LmdbHandle(self.lmdb_path)

    def __repr__(self) -> str:
        return f"LmdbSource({self.lmdb_path!r}, prefix={self.prefix!r})"

    def sub(self, rel: str) -> "LmdbSource":
        return LmdbSource(self.lmdb_path, _join(self.prefix, rel), self._handle)

    def key(self, rel: str) -> str:
        return _join(self.prefix, rel)

    def read_bytes(self, rel: str) -> bytes:
        data = self._handle.get(self.key(rel))
        if data is None:
            raise FileNotFoundError(f"{self.describe(rel)}: key not found")
        return data

    def _first_key_under(self, folder_key: str) -> Optional[str]:
        start = f"{folder_key}/" if folder_key else ""
        key = self._handle.first_key_at_or_after(start)
        return key if key is not None and key.startswith(start) else None

    def exists(self, rel: str) -> bool:
        return self._handle.get(self.key(rel)) is not None or self.is_dir(rel)

    def is_dir(self, rel: str) -> bool:
        return self._first_key_under(self.key(rel)) is not None

    def list_dir(self, rel: str) -> list[str]:
        """Prefix scan; after a sub-folder is seen the cursor jumps past all of its keys."""
        folder = self.key(rel)
        start = f"{folder}/" if folder else ""
        children: list[str] = []
        position = start
        while True:
            key = self._handle.first_key_at_or_after(position)
            if key is None or not key.startswith(start):
                break
            child, sep, _ = key[len(start):].partition("/")
            children.append(child)
            # '0' is the character after '/', so start + child + '0' is the first key past the child's subtree
            position = start + child + ("0" if sep else "\0")
        if not children and folder:
            raise FileNotFoundError(f"{self.describe(rel)}: folder not found")
        return sorted(set(children))

    def load_image(self, rel: str) -> np.ndarray:
        try:
            data = self.read_bytes(rel)
        except FileNotFoundError as e:
            raise ImageReadError(str(e)) from None
        return decode_rgb(data, self.describe(rel))

    def describe(self, rel: str) -> str:
        return f"{self.lmdb_path}::{self.key(rel)}"

    def frame_ref(self, rel: str) -> str:
        return self.key(rel)

    def frame_prefix(self, folder: str) -> str:
        key = self.key(folder)
        return f"{key}/" if key else ""

    def load_ref(self, ref: str) -> np.ndarray:
        data = self._handle.get(ref)
        if data is None:
            raise ImageReadError(f"{self.lmdb_path}::{ref}: key not found")
        return decode_rgb(data, f"{self.lmdb_path}::{ref}")


def open_source(root: str | os.PathLike, use_lmdb: bool = False,
                image_loader: Callable[[str], np.ndarray] = imread_rgb) -> FileSource:
    return LmdbSource(root) if use_lmdb else DirSource(root, image_loader)


def _walk_files(src: Path) -> Iterator[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path.relative_to(src).as_posix(), path


def _write_lmdb(folder: Path, files: list[tuple[str, Path]], map_size: int, progress: bool, label: str) -> None:
    import lmdb
    from tqdm import tqdm

    env = lmdb.open(str(folder), map_size=map_size, subdir=True, lock=True)
    try:
        txn = env.begin(write=True)
        for i, (key, path) in enumerate(tqdm(files, desc=f"pack {label}", unit="file", disable=not progress)):
            txn.put(key.encode("utf-8"), path.read_bytes())
            if (i + 1) % 5000 == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
        env.sync()
    finally:
        env.close()


def pack_folder_to_lmdb(src: str | os.PathLike, dst: str | os.PathLike, progress: bool = False,
                        skip_hidden: bool = True) -> int:
    """Store every file under `src` in a new LMDB at `dst` (key = relative path). Returns the number of files.

    Written to a temporary sibling folder and renamed at the end, so `dst` is either complete or absent.
    """
    import lmdb

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: source folder not found")
    if dst.exists():
        raise FileExistsError(f"{dst} already exists; remove it first")
    files = [(k, p) for k, p in _walk_files(src)
             if not (skip_hidden and any(part.startswith(".") for part in k.split("/")))]
    total = sum(p.stat().st_size for _, p in files)
    try:
        with atomic_dir(str(dst)) as tmp:
            _write_lmdb(Path(tmp), files, map_size=int(total * 1.5) + (64 << 20), progress=progress, label=src.name)
    except lmdb.Error as e:  # the database could not be written (a full disk, most often)
        raise FileWriteError(f"cannot write {dst}: {e}; free some space there or choose another folder") from e
    return len(files)
