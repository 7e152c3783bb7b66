"""Optimiser and learning-rate schedule from the shared TRAIN keys."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from lib.config.node import CfgNode


def default_param_groups(net: nn.Module, cfg: CfgNode) -> list[dict]:
    """Official recipe: parameters whose name contains 'backbone' get LR * BACKBONE_MULTIPLIER."""
    backbone = [p for n, p in net.named_parameters() if p.requires_grad and "backbone" in n]
    others = [p for n, p in net.named_parameters() if p.requires_grad and "backbone" not in n]
    groups = [{"params": others, "lr": cfg.TRAIN.LR}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.TRAIN.LR * cfg.TRAIN.BACKBONE_MULTIPLIER})
    return [g for g in groups if g["params"]]


def build_optimizer(param_groups: list[dict], cfg: CfgNode) -> torch.optim.Optimizer:
    if not param_groups:
        raise ValueError("no trainable parameters: check TRAIN.FREEZE / TRAIN.TRAINABLE")
    name = cfg.TRAIN.OPTIMIZER.upper()
    if name == "ADAMW":
        # The fused kernel applies the same update to all tensors at once (about 15 % of a tiny model's CPU step).
        return torch.optim.AdamW(param_groups, lr=cfg.TRAIN.LR, weight_decay=cfg.TRAIN.WEIGHT_DECAY,
                                 fused=_can_fuse(param_groups))
    if name == "SGD":
        return torch.optim.SGD(param_groups, lr=cfg.TRAIN.LR, momentum=0.9, weight_decay=cfg.TRAIN.WEIGHT_DECAY)
    raise ValueError(f"TRAIN.OPTIMIZER: unknown optimizer '{cfg.TRAIN.OPTIMIZER}' (valid: ADAMW, SGD)")


def _can_fuse(param_groups: list[dict]) -> bool:
    """The fused AdamW kernel takes floating-point tensors on one CPU or CUDA device."""
    params = [p for g in param_groups for p in g["params"]]
    devices = {p.device.type for p in params}
    return len(devices) == 1 and devices <= {"cpu", "cuda"} and all(p.is_floating_point() for p in params)


def lr_factor(cfg: CfgNode, epoch: float) -> float:
    """Multiplier of the base learning rates at (fractional, 0-based) `epoch`.

    step: x DECAY_RATE every LR_DROP_EPOCH epochs (official StepLR); Mstep: x GAMMA at each of MILESTONES;
    cosine: half cosine from 1 to 0 over TRAIN.EPOCH. A linear warm-up over SCHEDULER.WARMUP_EPOCHS applies to all.
    """
    sched = cfg.TRAIN.SCHEDULER
    kind = sched.TYPE.lower()
    if kind == "step":
        factor = sched.DECAY_RATE ** math.floor(epoch / cfg.TRAIN.LR_DROP_EPOCH)
    elif kind == "mstep":
        factor = sched.GAMMA ** sum(epoch >= m for m in sched.MILESTONES)
    elif kind == "cosine":
        factor = 0.5 * (1 + math.cos(math.pi * min(epoch / cfg.TRAIN.EPOCH, 1.0)))
    else:
        raise ValueError(f"TRAIN.SCHEDULER.TYPE: unknown schedule '{sched.TYPE}' (valid: step, Mstep, cosine)")
    if sched.WARMUP_EPOCHS > 0 and epoch < sched.WARMUP_EPOCHS:
        factor *= (epoch + 1e-3) / sched.WARMUP_EPOCHS
    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: CfgNode,
                    iters_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per iteration, so warm-up and cosine are smooth; step schedules still change per epoch."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(cfg, it / iters_per_epoch))
