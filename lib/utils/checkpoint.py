"""Checkpoint files: official names, plain contents (loadable with weights_only=True), atomic writes."""
from __future__ import annotations

import glob
import os
import re
from typing import Any

import torch

from lib.utils.io import atomic_save

_EPOCH = re.compile(r"_ep(\d+)\.pth\.tar$")


def checkpoint_dir(save_dir: str, script: str, config: str) -> str:
    return os.path.join(save_dir, "checkpoints", "train", script, config)


def checkpoint_path(save_dir: str, script: str, config: str, prefix: str, epoch: int) -> str:
    return os.path.join(checkpoint_dir(save_dir, script, config), f"{prefix}_ep{epoch:04d}.pth.tar")


def list_checkpoints(folder: str, prefix: str | None = None) -> list[tuple[int, str]]:
    """(epoch, path) of the checkpoints in `folder`, oldest first."""
    pattern = os.path.join(glob.escape(folder), f"{prefix or '*'}_ep*.pth.tar")
    found = [(int(m.group(1)), p) for p in glob.glob(pattern) if (m := _EPOCH.search(p))]
    return sorted(found)


def latest_checkpoint(folder: str, prefix: str | None = None) -> str | None:
    found = list_checkpoints(folder, prefix)
    return found[-1][1] if found else None


def save_checkpoint(path: str, state: dict[str, Any]) -> None:
    atomic_save(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one of our checkpoints (plain data only). Official files that pickle objects need
    tracking/convert_checkpoint.py first; the error says so."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise RuntimeError(
            f"cannot load {path} with weights_only=True ({type(e).__name__}: {str(e).splitlines()[0]}). "
            f"If it is an official release that pickles settings objects, convert it first: "
            f"python tracking/convert_checkpoint.py --input {path} --output <clean file>") from e


def net_state_dict(checkpoint: dict[str, Any], path: str = "<checkpoint>") -> dict[str, torch.Tensor]:
    if "net" in checkpoint:
        return checkpoint["net"]
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise KeyError(f"{path}: no 'net' entry (keys: {', '.join(map(str, checkpoint))})")
