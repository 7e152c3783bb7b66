"""The OSTrack network: one-stream ViT `backbone` + center `box_head` (the official top-level names)."""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import CfgNode, ConfigError
from lib.models.backbones.layout import ViTLayout
from lib.models.backbones.pretrained import load_named_pretraining
from lib.models.backbones.vit import OneStreamViT, build_one_stream_vit
from lib.models.heads.center import CenterPredictor

# One template before the search crop, separate template / search position tables derived from the stored
# 224-px grid, and a cls token kept only so the released checkpoints load strictly.
OSTRACK_LAYOUT = ViTLayout(num_templates=1, search_first=False, cls_token="stored", pos_embed="separate")


class OSTrack(nn.Module):
    def __init__(self, backbone: OneStreamViT, box_head: CenterPredictor):
        super().__init__()
        self.backbone = backbone
        self.box_head = box_head
        self.feat_sz_s = box_head.feat_sz
        self.feat_len_s = box_head.feat_sz ** 2

    def forward(self, template: torch.Tensor | None, search: torch.Tensor, ce_template_mask: torch.Tensor | None = None,
                ce_keep_rate: float | None = None, score_only: bool = False,
                template_tokens: torch.Tensor | None = None) -> dict:
        """template, search: (B, 3, H, W) normalised crops. ce_template_mask: (B, L_t) bool template tokens that
        score search tokens (None: all); ce_keep_rate overrides the CE keep ratio (training warm-up).
        template_tokens: `backbone.embed_templates(template)` from before, in place of the template crop.

        Returns pred_boxes (B, 1, 4) normalised cxcywh, score_map (B, 1, n, n), size_map and offset_map
        (B, 2, n, n), removed_indexes_s and backbone_feat (B, L_t + L_s, C).
        score_only (the tracking step, which reads the score map and the box at one cell): only score_map,
        removed_indexes_s and head_input (the search feature map for `box_head.box_at_peak`), plus search_cells
        after candidate elimination; the backbone skips what only the template tokens' final features need, the
        head's first score convolution what the eliminated (zero) cells would add.
        """
        feat, aux = self.backbone(template, search, template_mask=ce_template_mask, keep_ratio=ce_keep_rate,
                                  search_only=score_only, template_tokens=template_tokens)
        return self.outputs(feat, aux, score_only)

    def outputs(self, feat: torch.Tensor, aux: dict, score_only: bool) -> dict:
        """The forward's result from the backbone's (features, aux): see `forward`."""
        if score_only:
            fmap = self.search_map(feat)
            return {"score_map": self.box_head.score_map(fmap, aux.get("search_cells")), "head_input": fmap, **aux}
        out = self.forward_head(feat)
        out.update(aux)
        out["backbone_feat"] = feat
        return out

    def search_map(self, feat: torch.Tensor) -> torch.Tensor:
        """The head input (B, C, n, n) from backbone features ending with the search tokens."""
        search = feat[:, -self.feat_len_s:]
        return search.transpose(1, 2).reshape(search.shape[0], -1, self.feat_sz_s, self.feat_sz_s)

    def forward_head(self, feat: torch.Tensor, gt_score_map: torch.Tensor | None = None) -> dict:
        return self.box_head.predict(self.search_map(feat), gt_score_map)


def _check_supported(cfg: CfgNode) -> None:
    """Reject values this builder cannot honour: options the official code declares but this one (like the released
    configs) does not use, and a SCORE_PRIOR that is not a probability."""
    backbone = cfg.MODEL.BACKBONE
    fixed = {"MODEL.BACKBONE.CAT_MODE": (backbone.CAT_MODE, "direct"),
             "MODEL.BACKBONE.SEP_SEG": (backbone.SEP_SEG, False),
             "MODEL.BACKBONE.ADD_CLS_TOKEN": (backbone.ADD_CLS_TOKEN, False),
             "MODEL.RETURN_INTER": (cfg.MODEL.RETURN_INTER, False),
             "MODEL.HEAD.TYPE": (cfg.MODEL.HEAD.TYPE, "CENTER")}
    for key, (value, supported) in fixed.items():
        if value != supported:
            raise ConfigError(f"{key} = {value!r} is not supported (only {supported!r})")
    if not 0 <= cfg.MODEL.HEAD.SCORE_PRIOR < 1:
        raise ConfigError(f"MODEL.HEAD.SCORE_PRIOR = {cfg.MODEL.HEAD.SCORE_PRIOR} is not a probability in [0, 1) "
                          f"(0: the official head initialisation)")


def build_ostrack(cfg: CfgNode, training: bool, pretrained_folder: str | None = None) -> OSTrack:
    """Build from the config; when training with MODEL.PRETRAIN_FILE set, load the backbone's pre-training
    from `pretrained_folder` (default: the `pretrained_networks` path of the environment)."""
    _check_supported(cfg)
    backbone_cfg = cfg.MODEL.BACKBONE
    backbone = build_one_stream_vit(backbone_cfg.TYPE, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE,
                                    drop_path_rate=cfg.TRAIN.DROP_PATH_RATE, ce_loc=backbone_cfg.CE_LOC,
                                    ce_keep_ratio=backbone_cfg.CE_KEEP_RATIO, layout=OSTRACK_LAYOUT)
    if backbone_cfg.STRIDE != backbone.patch_size:
        raise ConfigError(f"MODEL.BACKBONE.STRIDE = {backbone_cfg.STRIDE} differs from the patch size "
                          f"{backbone.patch_size} of '{backbone_cfg.TYPE}'")
    if training and cfg.MODEL.PRETRAIN_FILE:
        load_named_pretraining(backbone, cfg.MODEL.PRETRAIN_FILE, pretrained_folder)
    head = CenterPredictor(inplanes=backbone.embed_dim, channel=cfg.MODEL.HEAD.NUM_CHANNELS,
                           feat_sz=cfg.DATA.SEARCH.SIZE // backbone_cfg.STRIDE, stride=backbone_cfg.STRIDE,
                           score_prior=cfg.MODEL.HEAD.SCORE_PRIOR)
    return OSTrack(backbone, head)
