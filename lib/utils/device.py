"""Choosing the compute device from a command-line value."""
from __future__ import annotations


def resolve_device(requested: str | None) -> str:
    """'cuda' or 'cpu': the requested one, or CUDA when available. Asking for CUDA without it is an error."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but CUDA is not available here")
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")
