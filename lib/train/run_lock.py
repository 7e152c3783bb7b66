"""One trainer per run folder: a lock file holding the owner's host and process id.

A lock left by a process that no longer runs (killed with SIGKILL, machine rebooted) is taken over with a message;
a lock of a running process, or of another host (whose processes cannot be checked), stops the new trainer.
"""
from __future__ import annotations

import contextlib
import os
import socket
from typing import Callable

from lib.utils.cli import UserError
from lib.utils.io import process_alive

LOCK_NAME = ".trainer.lock"


class RunLockedError(UserError):
    """Another trainer is writing the run folder."""


def _owner(path: str) -> tuple[str, int] | None:
    """(host, pid) written in the lock file, or None when it is unreadable (being written, or garbage)."""
    try:
        with open(path, encoding="utf-8") as f:
            host, pid = f.read().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


class RunLock:
    """`with RunLock(folder):` holds `<folder>/.trainer.lock` for the duration of the block."""

    def __init__(self, folder: str, report: Callable[[str], None] = print):
        self.path = os.path.join(folder, LOCK_NAME)
        self.report = report
        self.held = False

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(f"{socket.gethostname()} {os.getpid()}\n")
            self.held = True
            return
        raise RunLockedError(f"{self.path}: another trainer took the run folder at the same time; retry")

    def _take_over_if_stale(self) -> None:
        owner = _owner(self.path)
        here = socket.gethostname()
        if owner is not None and owner[0] == here and not process_alive(owner[1]):
            self.report(f"taking over {self.path}: the trainer that held it (pid {owner[1]}) is not running "
                        f"any more")
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
            return
        who = f"process {owner[1]} on {owner[0]}" if owner else "an unknown process"
        raise RunLockedError(f"{os.path.dirname(self.path)} is being trained by {who} (lock {self.path}); stop "
                             f"that trainer first, or delete the lock if it is certainly not running")

    def release(self) -> None:
        if self.held and _owner(self.path) == (socket.gethostname(), os.getpid()):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
        self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
