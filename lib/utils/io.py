"""Atomic file writing: a reader never sees a half-written file, a crash never leaves one behind for long.

A write goes to `.<name>.<pid>-<random>.tmp` next to the target and is renamed over it at the end. A process killed
mid-write cannot remove its temporary file; the next write of the same target removes the temporaries of writers
that are no longer running (and says so), so concurrent writers of one target never delete each other's files.
Temporaries without a process id (`.<name>.<random>.tmp`, from versions before this one) count as stale.
Files get the permissions the umask gives (as `open` would), not the 0600 of `tempfile.mkstemp`.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import shutil
import tempfile
from typing import Callable, Iterator, IO

from lib.utils.cli import UserError

log = logging.getLogger("trackzoo.io")

_TEMP = re.compile(r"^\.(?P<target>.+)\.(?:(?P<pid>\d+)-)?[a-z0-9_]+\.tmp$")


class FileWriteError(UserError, OSError):
    """A file could not be written (disk full, no permission, read-only file system); the message names it."""


def process_alive(pid: int) -> bool:
    """True when a process with this id runs on this machine (a zombie counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to another user
        return True
    return True


def stale_temporaries(folder: str, target: str | None = None) -> list[str]:
    """Temporary files in `folder` (of `target`, a base name, or of any target) whose writer is not running."""
    pattern = f".{glob.escape(target)}.*.tmp" if target else ".*.tmp"
    found = []
    for path in glob.glob(os.path.join(glob.escape(folder), pattern)):
        match = _TEMP.match(os.path.basename(path))
        if match and (target is None or match["target"] == target) and not (
                match["pid"] and process_alive(int(match["pid"]))):
            found.append(path)
    return sorted(found)


def remove_stale_temporaries(folder: str, target: str | None = None) -> list[str]:
    """Remove what `stale_temporaries` finds, logging each file; returns the removed paths."""
    removed = []
    for path in stale_temporaries(folder, target):
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
            log.warning(f"removed {path}, a temporary file left by a killed write")
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file next to `path`; on success it replaces `path`, on error it is removed.

    An OSError while writing (e.g. a full disk) becomes a FileWriteError naming `path`."""
    folder, base = os.path.split(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        remove_stale_temporaries(folder, base)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.{os.getpid()}-", suffix=".tmp")
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **kwargs) as f:
            tracked = _ErrorTrackingFile(f)
            try:
                yield tracked  # type: ignore[misc]
                f.flush()
                os.fsync(f.fileno())
            except Exception as e:
                if tracked.os_error is not None:  # e.g. torch.save hides the OSError behind its own message
                    raise _write_error(path, tracked.os_error) from e
                raise
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(e, FileWriteError):
            raise
        raise _write_error(path, e) from e
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """A temporary folder next to `path` to fill; on success it replaces `path` (an older folder there is
    removed), on error it is removed. Folders left by killed writers are cleared first."""
    parent, base = os.path.split(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        remove_stale_temporaries(parent, base)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{base}.{os.getpid()}-", suffix=".tmp")
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        yield tmp
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_error(path: str, error: OSError) -> FileWriteError:
    reason = error.strerror or str(error)
    hint = {errno.ENOSPC: "free some space there or choose another folder",
            errno.EDQUOT: "free some space there or choose another folder",
            errno.EFBIG: "raise the file size limit (ulimit -f) or choose another folder",
            errno.EACCES: "check the folder's permissions or choose another folder",
            errno.EROFS: "choose a writable folder"}.get(error.errno or -1, "check the folder or choose another one")
    return FileWriteError(f"cannot write {path}: {reason}; {hint}")


class _ErrorTrackingFile:
    """File proxy that remembers the first OSError of a write, for writers that replace it with their own error."""

    def __init__(self, file: IO):
        self._file = file
        self.os_error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._file.write(data)
        except OSError as e:
            self.os_error = self.os_error or e
            raise

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def atomic_write_text(path: str, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def atomic_save(path: str, save: Callable[[IO], None]) -> None:
    """Write binary content through `save(file)` atomically (e.g. `lambda f: torch.save(obj, f)`)."""
    with atomic_open(path, "wb") as f:
        save(f)
