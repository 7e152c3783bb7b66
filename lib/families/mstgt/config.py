"""MSTGT config keys: the official `lib/config/mstgt/config.py` schema (capf-2011/MSTGT) with its defaults, on top of
the shared schema, so the official experiment files load unmodified.

DA.border_prob / DA.sfactor drive the search-area augmentation; DA.imix* the mixed sampling (lib/families/mstgt
`data_options`): imix switches it on, imix_epoch / imix_interval pick the epochs (as the release's trainer),
imix_occrate bounds how much of the target the pasted object covers, imix_reverse_prob puts it behind the target.
In the release the sampler draws the extra object on those epochs and nothing uses it; imix_occrate,
imix_reverse_prob, mix_type, norm_type and update_bbox are read nowhere (`check_mixing_keys` says what is accepted).
DATA.DYNAMIC / TEST.DYNAMIC_* only size the stored, unused `pos_embed_d`.
"""
from __future__ import annotations

from lib.config.node import CfgNode, ConfigError
from lib.families.ostrack.config import add_steadying_config


def add_config(cfg: CfgNode, script: str) -> None:
    add_steadying_config(cfg)  # the tracker is OSTrack's
    cfg.DA = CfgNode({"border_prob": 0.0, "sfactor": [4.0, 4.0], "imix": False, "imix_occrate": 0.5,
                      "imix_reverse_prob": 0.3, "imix_epoch": 40, "imix_interval": 1, "mix_type": 1,
                      "norm_type": "channel", "update_bbox": False})
    cfg.MODEL.PRETRAIN_FILE = "mae_hivit_base_1600ep.pth"
    cfg.MODEL.EXTRA_MERGER = False
    cfg.MODEL.RETURN_INTER = False
    cfg.MODEL.BACKBONE = CfgNode({"TYPE": "hivit_base", "STRIDE": 16})
    cfg.MODEL.HEAD = CfgNode({"TYPE": "CENTER", "NUM_CHANNELS": 256})
    cfg.DATA.DYNAMIC = CfgNode({"CENTER_JITTER": 0, "FACTOR": 3.0, "SCALE_JITTER": 0, "SIZE": 192, "NUMBER": 1})
    cfg.TEST.DYNAMIC_FACTOR = 3.0
    cfg.TEST.DYNAMIC_SIZE = 192
    cfg.TRAIN.DROP_PATH_RATE = 0.1
    cfg.DATA.TRAIN.DATASETS_NAME = ["LASOT", "GOT10K_vottrain"]
    cfg.DATA.TRAIN.DATASETS_RATIO = [1, 1]


# Values of the keys the release declares but never reads that mean what this implementation does: mix_type 1 (the
# only one the official files use) is the object paste; update_bbox False keeps the target's box, as the paste
# does; norm_type's two official spellings are accepted and change nothing, because neither the release nor the
# public material says what they would normalise (inputs are normalised per channel by DATA.MEAN / DATA.STD).
SUPPORTED = {"mix_type": (1,), "update_bbox": (False,), "norm_type": ("global", "channel")}


def check_mixing_keys(da: CfgNode) -> None:
    """Reject DA values that the mixed sampling cannot honour, naming the key."""
    for key, allowed in SUPPORTED.items():
        if da[key] not in allowed:
            raise ConfigError(f"DA.{key} = {da[key]!r} is not supported (only {', '.join(map(repr, allowed))})")
    if da.imix_epoch < 0 or da.imix_interval < 1:
        raise ConfigError(f"DA.imix_epoch must be >= 0 and DA.imix_interval >= 1, got {da.imix_epoch} and "
                          f"{da.imix_interval}")
    for key in ("imix_occrate", "imix_reverse_prob"):
        if not 0.0 <= da[key] <= 1.0:
            raise ConfigError(f"DA.{key} = {da[key]} must be in [0, 1]")
