"""Choosing the compute device from a command-line value, and the CPU threads a process of a pool uses."""
from __future__ import annotations

import os

from lib.utils.cli import UserError


class DeviceError(UserError, ValueError):
    """A device that this machine does not have."""


def resolve_device(requested: str | None) -> str:
    """'cuda' or 'cpu': the requested one, or CUDA when available. Asking for CUDA without it is a user error."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda, but CUDA is not available here; use --device cpu")
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def cpu_threads_per_process(processes: int, busy_helpers: int = 0) -> int:
    """Compute threads for one of `processes` CPU processes sharing this machine, leaving a core to each of its
    `busy_helpers` (data-loader workers). Full-size thread pools side by side oversubscribe the cores and spin-wait:
    the tiny quickstart model trained ~35 % slower, and a tiny tracker tested ~6x slower, that way on 2 cores."""
    share = (os.cpu_count() or 1) // max(1, processes)
    return max(1, share - busy_helpers)
