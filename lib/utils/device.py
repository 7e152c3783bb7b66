"""Choosing the compute device from a command-line value, and the CPU threads a training process uses."""
from __future__ import annotations

import os


def resolve_device(requested: str | None) -> str:
    """'cuda' or 'cpu': the requested one, or CUDA when available. Asking for CUDA without it is an error."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but CUDA is not available here")
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def training_cpu_threads(num_workers: int, processes_per_node: int) -> int:
    """Compute threads for one CPU training process: its share of the cores minus its data-loader workers.

    Each worker keeps a core busy decoding and cropping; a full-size thread pool beside them oversubscribes the
    cores and its threads spin-wait (the tiny quickstart model trained ~35 % slower that way on 2 cores)."""
    share = (os.cpu_count() or 1) // max(1, processes_per_node)
    return max(1, share - num_workers)
