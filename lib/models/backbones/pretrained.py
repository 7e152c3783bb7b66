"""Load pre-trained ViT weights (MAE release or a timm state dict) from a local file into a one-stream ViT.

Accepted files: a dict with the weights under 'model' (how MAE releases its checkpoints) or 'state_dict', or the
state dict itself. Keys are matched by name, after dropping a 'module.' or 'encoder.' prefix; the classifier
and MAE decoder entries are ignored. A position embedding on another grid is resized bicubically, and the
backbone's template/search position embeddings are then derived from the loaded one.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from lib.models.backbones.vit import resize_grid_embedding

logger = logging.getLogger(__name__)

_WRAPPER_KEYS = ("model", "state_dict")
_PREFIXES = ("module.", "encoder.")
# Derived from pos_embed after loading, never taken from a file.
_DERIVED = ("pos_embed_z", "pos_embed_x")


@dataclass
class LoadReport:
    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def resolve_pretrained_file(name: str, folder: str) -> str:
    """`name` itself when it is an existing path, else `folder/name`; a clear error when neither exists."""
    if os.path.isfile(name):
        return name
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"pre-trained weights '{name}' not found: expected the file {path}. Download it into that folder "
            f"(or set TRACKZOO_PRETRAINED_NETWORKS to the folder that holds it), or switch pre-training off "
            f"with MODEL.PRETRAIN_FILE ''.")
    return path


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped and with training prefixes removed."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # report the file; torch's own message says whether it is pickled objects or damage
        raise ValueError(f"cannot read pre-trained weights {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(data).__name__}")
    for key in _WRAPPER_KEYS:
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    if "net" in data and isinstance(data["net"], dict):
        raise ValueError(f"{path} is a whole-tracker checkpoint ('net'); start from it with TRAIN.INIT_FROM "
                         f"instead of MODEL.PRETRAIN_FILE")
    state = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        state[key] = value
    return state


def load_pretrained_vit(backbone: nn.Module, path: str) -> LoadReport:
    """Copy matching weights from `path` into `backbone` (a OneStreamViT), then derive its crop pos-embeds.

    Raises when the file shares no weight with the backbone or when a shared weight has another shape, since
    either means the wrong file.
    """
    state = read_state_dict(path)
    own = backbone.state_dict()
    report = LoadReport(path)
    if "pos_embed" in state:
        state["pos_embed"] = _fit_pos_embed(state["pos_embed"], own["pos_embed"], path)
    usable = {}
    for key, value in state.items():
        if key not in own or key in _DERIVED:
            report.ignored.append(key)
        elif value.shape != own[key].shape:
            raise ValueError(f"{path}: '{key}' has shape {tuple(value.shape)}, the backbone expects "
                             f"{tuple(own[key].shape)}")
        else:
            usable[key] = value
    if not usable:
        raise ValueError(f"{path} shares no weight with the backbone (file keys start with "
                         f"{sorted(state)[:5]}); is it a ViT checkpoint?")
    backbone.load_state_dict(usable, strict=False)
    report.loaded = sorted(usable)
    report.missing = sorted(k for k in own if k not in usable and k not in _DERIVED)
    backbone.reset_crop_pos_embeds_()
    logger.info("loaded %d pre-trained tensors from %s; missing %s; ignored %d", len(report.loaded), path,
                report.missing, len(report.ignored))
    return report


def _fit_pos_embed(pos_embed: torch.Tensor, target: torch.Tensor, path: str) -> torch.Tensor:
    """Resize a (1, [cls +] g*g, C) position embedding to the target's grid, keeping or adding the cls slot."""
    if pos_embed.shape == target.shape:
        return pos_embed
    if pos_embed.dim() != 3 or pos_embed.shape[-1] != target.shape[-1]:
        raise ValueError(f"{path}: 'pos_embed' has shape {tuple(pos_embed.shape)}, the backbone expects "
                         f"{tuple(target.shape)}")
    num = pos_embed.shape[1]
    prefix = 0 if int(round(num ** 0.5)) ** 2 == num else 1
    cls = pos_embed[:, :1] if prefix else target[:, :1].to(pos_embed.dtype)
    side = int(round((target.shape[1] - 1) ** 0.5))
    grid = resize_grid_embedding(pos_embed[:, prefix:].float(), (side, side)).to(pos_embed.dtype)
    return torch.cat([cls, grid], dim=1)
