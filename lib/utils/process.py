"""Process lifetime: a child never outlives the process that started it, and a launcher passes its signals on.

Linux: the kernel signals the child when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread
polls the parent's id. SIGTERM in a worker raises SystemExit, so `finally` blocks and the atomic writers clean up.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Sequence

_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0
# Set by `run_child` for the launched process tree: its processes follow their parent (see `exit_with_parent`).
LAUNCHED_VAR = "TRACKZOO_LAUNCHED"


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send `sig` to this process when its parent dies; False where that is not available.

    Also usable as a `preexec_fn` (it runs in the child between fork and exec, and the setting survives exec)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), sig)


def exit_with_parent(sig: int = signal.SIGTERM) -> None:
    """Make this process receive `sig` when its parent process dies (now, if it already has)."""
    parent = os.getppid()
    if not set_parent_death_signal(sig):
        threading.Thread(target=_watch_parent, args=(parent, sig), daemon=True, name="parent-watch").start()
    elif os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)


def launched() -> bool:
    """True in a process started by `run_child` (or its descendants) or by torchrun."""
    return os.environ.get(LAUNCHED_VAR) == "1" or "TORCHELASTIC_RUN_ID" in os.environ


def _raise_exit(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM ends the main thread with SystemExit (exit code 143) instead of killing it on the spot."""
    signal.signal(signal.SIGTERM, _raise_exit)


def run_child(command: Sequence[str]) -> int:
    """Run `command` and return its exit code (128 + N when signal N ended it).

    The child dies with this process (even on SIGKILL, on Linux) and gets the SIGTERM / SIGINT this process gets.
    It runs in its own process group, so a terminal's Ctrl-C reaches it once, through this process."""
    preexec = set_parent_death_signal if sys.platform.startswith("linux") else None
    child = subprocess.Popen(list(command), preexec_fn=preexec, process_group=0,
                             env={**os.environ, LAUNCHED_VAR: "1"})
    forward = {sig: signal.signal(sig, lambda signum, frame: child.send_signal(signum))
               for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for sig, previous in forward.items():
            signal.signal(sig, previous)
    return 128 - code if code < 0 else code
