"""Staged training declared in config: TRAIN.INIT_FROM, TRAIN.FREEZE and TRAIN.TRAINABLE."""
from __future__ import annotations

import logging
import os
from typing import Callable

import torch
import torch.nn as nn

from lib.config.node import ConfigError
from lib.train.init_match import matching_init_state
from lib.utils.checkpoint import checkpoint_dir, latest_checkpoint, list_checkpoints, load_checkpoint, \
    net_state_dict
from lib.utils.env import MissingPathError

log = logging.getLogger(__name__)


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _check_prefixes(net: nn.Module, prefixes: list[str], key: str) -> None:
    names = [n for n, _ in net.named_parameters()]
    unknown = [p for p in prefixes if not any(_matches(n, p) for n in names)]
    if unknown:
        tops = sorted({n.split(".")[0] for n in names})
        raise ConfigError(f"{key}: prefix(es) {unknown} match no parameter of {type(net).__name__} "
                          f"(top-level modules: {', '.join(tops)}); use those names")


def apply_freeze(net: nn.Module, freeze: list[str], trainable: list[str]) -> list[str]:
    """Set requires_grad from module-name prefixes; return the names that stay trainable.

    TRAIN.TRAINABLE non-empty: only those prefixes train. TRAIN.FREEZE: those prefixes stop training. Prefixes match
    whole name components ("box_head" matches "box_head.conv1.weight", not "box_head2.x").
    """
    _check_prefixes(net, list(trainable), "TRAIN.TRAINABLE")
    _check_prefixes(net, list(freeze), "TRAIN.FREEZE")
    for name, param in net.named_parameters():
        if trainable and not any(_matches(name, p) for p in trainable):
            param.requires_grad_(False)
        if any(_matches(name, p) for p in freeze):
            param.requires_grad_(False)
    return [n for n, p in net.named_parameters() if p.requires_grad]


def resolve_init_from(spec: str, save_dir: str, prefix: str | None = None) -> str:
    """A checkpoint path from TRAIN.INIT_FROM: a file path, or 'script:config[:epoch]' of a previous run."""
    if os.path.isfile(spec):
        return spec
    parts = spec.split(":")
    if len(parts) not in (2, 3) or os.sep in parts[0] or (len(parts) == 3 and not parts[2].isdigit()):
        raise MissingPathError(f"TRAIN.INIT_FROM '{spec}' is neither an existing file nor 'script:config[:epoch]'; "
                               f"give one of those")
    folder = checkpoint_dir(save_dir, parts[0], parts[1])
    if len(parts) == 3:
        epoch = int(parts[2])
        found = [p for e, p in list_checkpoints(folder, prefix) if e == epoch]
        if not found:
            raise MissingPathError(f"TRAIN.INIT_FROM '{spec}': no epoch-{epoch} checkpoint in {folder}; name an "
                                   f"epoch that was saved")
        return found[0]
    path = latest_checkpoint(folder, prefix)
    if path is None:
        raise MissingPathError(f"TRAIN.INIT_FROM '{spec}': no checkpoint in {folder} (train that stage first)")
    return path


def load_init_weights(net: nn.Module, path: str, min_match: float = 1.0,
                      adapt: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
                      setting: str = "TRAIN.INIT_FROM") -> tuple[list[str], list[str]]:
    """Load a previous stage's weights non-strictly (new modules such as a score head are expected to be
    missing), after the family's key rename `adapt` (as for test-time loading, so an official checkpoint can start
    a training); returns (missing, unexpected) keys and fails when the file covers too little of the model
    (see lib.train.init_match)."""
    state = net_state_dict(load_checkpoint(path), path)
    if adapt is not None:
        state = adapt(state)
    result = net.load_state_dict(matching_init_state(net, state, path, min_match, setting), strict=False)
    model_keys = set(net.state_dict())
    unexpected = [k for k in state if k not in model_keys]
    log.info("initialised from %s (missing %d keys, unexpected %d)", path, len(result.missing_keys),
             len(unexpected))
    return list(result.missing_keys), unexpected
