"""Load pre-trained weights (MAE ViT-B/L, MAE HiViT-B, or a timm state dict) from a local file into a layout
backbone (lib/models/backbones/layout.py).

Accepted files: a dict with the weights under 'model' (how MAE releases its checkpoints) or 'state_dict', or the
state dict itself. Keys are matched by name, after dropping a 'module.' or 'encoder.' prefix; the classifier
and MAE decoder entries are ignored. The file's pre-training position table (`pos_embed` of a ViT, with or without
a cls slot; `absolute_pos_embed` of HiViT) on any grid is mapped onto the position parameters the backbone's layout
declares: the stored pre-training grid and separate template / search tables, or one joint table; a cls slot is
kept, dropped or added as the layout needs. The returned report lists what was loaded, missing and ignored.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch

from lib.models.backbones.layout import OneStreamBackbone
from lib.utils.env import MissingPathError

logger = logging.getLogger(__name__)

_WRAPPER_KEYS = ("model", "state_dict")
_PREFIXES = ("module.", "encoder.")


@dataclass
class LoadReport:
    """loaded: backbone entries set from the file (position tables included, derived from `position_source`);
    missing: backbone entries the file did not set; ignored: file entries not used."""
    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    position_source: str | None = None

    def summary(self) -> str:
        source = f"position tables from '{self.position_source}'" if self.position_source else \
            "no position table in the file"
        return (f"loaded {len(self.loaded)} pre-trained tensors from {self.path} ({source}); missing "
                f"{self.missing}; ignored {len(self.ignored)}: {self.ignored[:8]}"
                f"{' ...' if len(self.ignored) > 8 else ''}")


def resolve_pretrained_file(name: str, folder: str, switch_off: str = "MODEL.PRETRAIN_FILE ''") -> str:
    """`name` itself when it is an existing path, else `folder/name`; a clear error when neither exists, naming
    the config setting `switch_off` that trains without pre-training."""
    if os.path.isfile(name):
        return name
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise MissingPathError(
            f"pre-trained weights '{name}' not found: expected the file {path}. Download it into that folder "
            f"(or set TRACKZOO_PRETRAINED_NETWORKS to the folder that holds it), or switch pre-training off "
            f"with {switch_off}.")
    return path


def load_named_pretraining(backbone: OneStreamBackbone, name: str, folder: str | None = None) -> "LoadReport":
    """`load_pretrained_vit` from the file `name` (MODEL.PRETRAIN_FILE) in `folder` (default: the environment's
    `pretrained_networks`)."""
    if folder is None:
        from lib.utils.env import env_settings

        folder = env_settings().pretrained_networks
    return load_pretrained_vit(backbone, resolve_pretrained_file(name, folder))


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


def load_pretrained_vit(backbone: OneStreamBackbone, path: str) -> LoadReport:
    """Copy matching weights from `path` into a layout backbone (ViT or HiViT) and map the file's pre-training
    position table onto the crops its layout declares (`OneStreamBackbone.position_embeddings_from`).

    Raises when the file shares no weight with the backbone or when a shared weight has another shape, since
    either means the wrong file.
    """
    state = read_state_dict(path)
    own = backbone.state_dict()
    report = LoadReport(path)
    positions = set(backbone.position_parameter_names())
    usable = {}
    table = state.pop(backbone.pretrain_table_name, None)
    if table is not None:
        if table.dim() != 3 or table.shape[-1] != backbone.embed_dim:
            raise ValueError(f"{path}: '{backbone.pretrain_table_name}' has shape {tuple(table.shape)}, the "
                             f"backbone expects (1, tokens, {backbone.embed_dim})")
        usable.update(backbone.position_embeddings_from(table))
        report.position_source = backbone.pretrain_table_name
    shared = 0
    for key, value in state.items():
        if key not in own or key in positions:
            report.ignored.append(key)
        elif value.shape != own[key].shape:
            raise ValueError(f"{path}: '{key}' has shape {tuple(value.shape)}, the backbone expects "
                             f"{tuple(own[key].shape)}")
        else:
            usable[key] = value
            shared += 1
    if not shared:
        raise ValueError(f"{path} shares no weight with the backbone (file keys start with "
                         f"{sorted(state)[:5]}); is it a ViT checkpoint?")
    backbone.load_state_dict(usable, strict=False)
    report.loaded = sorted(usable)
    report.missing = sorted(k for k in own if k not in usable)
    logger.info("%s", report.summary())
    return report
