"""How much of a model an INIT_FROM file provides: refuse a file that leaves most of the model at random weights.

Counted over the model's state_dict entries outside its heads (top-level modules whose name contains "head": the
parts a new stage is expected to add), ignoring BatchNorm's `num_batches_tracked` counters (PyTorch fills them in
when missing, so they never count as missing). An entry matches when the file has it with the same shape.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import ConfigError

_SHOWN = 8


def _is_head(key: str) -> bool:
    return "head" in key.split(".")[0]


def _counted(key: str) -> bool:
    return not _is_head(key) and not key.endswith("num_batches_tracked")


def _listing(keys: list[str]) -> str:
    more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more if keys else "-"


def matching_init_state(net: nn.Module, state: dict[str, torch.Tensor], path: str,
                        min_match: float, setting: str = "TRAIN.INIT_FROM") -> dict[str, torch.Tensor]:
    """The entries of `state` that fit `net` (same name and shape); ConfigError when they cover less than
    `min_match` of the counted entries of `net`, listing what did not match. `setting`: the config key that named
    the file (for the message)."""
    model = net.state_dict()
    fitting = {k: v for k, v in state.items() if k in model and tuple(v.shape) == tuple(model[k].shape)}
    counted = [k for k in model if _counted(k)]
    unmatched = [k for k in counted if k not in fitting]
    matched = len(counted) - len(unmatched)
    if counted and matched < min_match * len(counted):
        wrong_shape = [f"{k} {tuple(state[k].shape)} vs {tuple(model[k].shape)}" for k in unmatched if k in state]
        unexpected = [k for k in state if k not in model]
        raise ConfigError(
            f"{setting} {path} provides {matched} of the {len(counted)} non-head entries of "
            f"{type(net).__name__} (TRAIN.INIT_MIN_MATCH {min_match:g} needs {min_match:.0%}); not matched: "
            f"{_listing(unmatched)}; wrong shape: {_listing(wrong_shape)}; only in the file: {_listing(unexpected)}. "
            f"Give a checkpoint of this model, or lower TRAIN.INIT_MIN_MATCH to allow a partial initialisation")
    return fitting
