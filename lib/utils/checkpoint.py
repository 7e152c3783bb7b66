"""Checkpoint files: official names, plain contents (loadable with weights_only=True), atomic writes."""
from __future__ import annotations

import glob
import hashlib
import os
import re
import zipfile
from typing import Any, Callable

import torch

from lib.utils.cli import UserError
from lib.utils.io import atomic_save

_EPOCH = re.compile(r"_ep(\d+)\.pth\.tar$")

# What a training checkpoint holds beyond the weights (what --resume needs).
TRAINING_KEYS = ("net", "optimizer", "scheduler", "epoch", "global_step", "rng")


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file cannot be used (empty, truncated, not a checkpoint, wrong contents); the message names it.

    `reason` is the short cause, for callers that report a skipped file."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


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


def _looks_pickled(path: str) -> bool:
    """A torch.save file: a zip archive (current format) or a pickle stream (legacy format, protocol >= 2)."""
    with open(path, "rb") as f:
        return zipfile.is_zipfile(f) or f.seek(0) == 0 and f.read(1) == b"\x80"


def _incomplete_zip(path: str) -> bool:
    """Starts like a zip archive (torch.save's format) but lacks its end: a cut-off copy or write."""
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04" and not zipfile.is_zipfile(f)


def describe_load_failure(path: str, error: Exception) -> str:
    """The cause of a failed torch.load in a few words."""
    if isinstance(error, IsADirectoryError):
        return "it is a folder, not a file"
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return "the file is empty (0 bytes; a write was interrupted or the copy failed)"
    text = str(error)
    if "central directory" in text or "zip archive" in text or _incomplete_zip(path):
        return "the file is truncated or corrupt (incomplete zip archive)"
    if ("Weights only load failed" in text or "weights_only" in text) and _looks_pickled(path):
        return "it pickles objects that weights_only=True refuses"
    first = text.strip().splitlines()[0] if text.strip() else "no details"
    return f"not a PyTorch checkpoint ({type(error).__name__}: {first[:200]})"


def load_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one of our checkpoints (plain data only); any failure is a CheckpointError naming the file.

    Official files that pickle objects need tracking/convert_checkpoint.py first; the error says so."""
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path} does not exist; check the path", "it does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        reason = describe_load_failure(path, e)
        advice = (f"if it is an official release, convert it first: python tracking/convert_checkpoint.py "
                  f"--input {path} --output <clean file>" if "pickles" in reason or reason.startswith("not a")
                  else "delete it, or give another checkpoint")
        raise CheckpointError(f"cannot load checkpoint {path}: {reason}; {advice}", reason) from e
    if not isinstance(checkpoint, dict):
        reason = f"it holds a {type(checkpoint).__name__}, not a dict"
        raise CheckpointError(f"cannot use checkpoint {path}: {reason}; give a TrackZoo or converted checkpoint",
                              reason)
    return checkpoint


def net_state_dict(checkpoint: dict[str, Any], path: str = "<checkpoint>") -> dict[str, torch.Tensor]:
    if "net" in checkpoint:
        return checkpoint["net"]
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise CheckpointError(f"checkpoint {path} has no 'net' entry (keys: {', '.join(map(str, checkpoint))}); "
                          f"convert it with tracking/convert_checkpoint.py", "no 'net' entry")


def load_training_checkpoint(path: str) -> dict[str, Any]:
    """A checkpoint that --resume can continue from (weights, optimizer, scheduler, counters, random states)."""
    checkpoint = load_checkpoint(path)
    missing = [k for k in TRAINING_KEYS if k not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not a training checkpoint (no {', '.join(missing)}); to start from its "
                              f"weights set TRAIN.INIT_FROM instead of --resume", f"no {', '.join(missing)}")
    return checkpoint


def load_latest_training_checkpoint(folder: str, prefix: str | None = None,
                                    report: Callable[[str], None] = print) -> tuple[str, dict[str, Any]] | None:
    """The newest checkpoint in `folder` that loads, with its contents; unusable newer ones are skipped and
    reported (a run killed while copying, a disk that filled up). None when there is none."""
    for _, path in reversed(list_checkpoints(folder, prefix)):
        try:
            return path, load_training_checkpoint(path)
        except CheckpointError as e:
            report(f"skipping {path} for --resume latest: {e.reason}")
    return None


def find_resume_checkpoint(spec: str, folder: str, prefix: str | None = None,
                           report: Callable[[str], None] = print) -> tuple[str, dict[str, Any]] | None:
    """What `--resume spec` continues from: 'latest' (the newest usable checkpoint in `folder`, if any), a path,
    or nothing ('none')."""
    if spec == "none":
        return None
    if spec == "latest":
        return load_latest_training_checkpoint(folder, prefix, report)
    return spec, load_training_checkpoint(spec)


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
