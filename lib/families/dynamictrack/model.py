"""DynamicTrack network (chenxlin222/DynamicTrack lib/models/dynamictrack/stark_s.py): STARK-S twice, a light
branch (ResNet-18, `*1`) and a heavy branch (ResNet-50, `*2`), plus an adaptive router on the light search
features that decides per image whether the heavy branch runs. Top-level names are the official ones.

The template is always encoded by the light backbone (both branches' transformers read ResNet-18 template tokens);
the heavy route still pays for the light backbone on the search crop, since the router reads its features.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import CfgNode, ConfigError
from lib.families.stark.model import (TokenDict, attention_macs, build_backbone, build_box_head, build_transformer,
                                      check_supported, merge_tokens)
from lib.models.backbones.resnet import BackboneWithPosition
from lib.models.heads.corner import CornerPredictor, query_weighted_features
from lib.models.transformers.detr import Transformer
from lib.utils.box_ops import box_xyxy_to_cxcywh

BRANCHES = (1, 2)  # 1: light, 2: heavy


class AdaptiveRouter(nn.Module):
    """1x1 conv (C -> C/reduction) + ReLU + 1x1 conv (-> 1) + sigmoid: one score per image in (0, 1), which the
    official code calls "1 - difficulty"; the heavy route runs when the score is below the threshold.

    The official pooling views the (HW, B, C) tokens as (B, C, HW) without a permute and averages the last axis,
    i.e. runs of HW consecutive values of the token-major buffer (channels mixed, not a per-channel spatial mean).
    A trained router only reproduces with that exact reduction, so it is kept.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.layer1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, bias=True)
        self.layer2 = nn.Conv2d(channels // reduction, 1, kernel_size=1, bias=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (HW, B, C) -> scores (B,)."""
        _, batch, channels = tokens.shape
        pooled = tokens.contiguous().view(batch, channels, -1).mean(dim=2, keepdim=True).unsqueeze(3)
        return self.layer2(torch.relu(self.layer1(pooled))).flatten(1).sigmoid()[:, 0]


class DynamicTrack(nn.Module):
    """Modes of `forward` (one call per step, so that DDP and the profiler see module calls):
    'backbone1' / 'backbone2': tokens {feat, mask, pos} of one crop (img, mask) through that branch's backbone;
    'router': scores (B,) from light search tokens `seq_dict['feat']`;
    'transformer1' / 'transformer2': boxes (B, N, 4) normalised (cx, cy, w, h) from merged tokens `seq_dict`.
    """

    def __init__(self, backbones: tuple[BackboneWithPosition, BackboneWithPosition],
                 transformers: tuple[Transformer, Transformer], box_heads: tuple[CornerPredictor, CornerPredictor],
                 num_queries: int, router: AdaptiveRouter | None):
        super().__init__()
        self.backbone1, self.backbone2 = backbones
        self.transformer1, self.transformer2 = transformers
        self.box_head1, self.box_head2 = box_heads
        self.query_embed1 = nn.Embedding(num_queries, self.transformer1.d_model)
        self.query_embed2 = nn.Embedding(num_queries, self.transformer2.d_model)
        self.bottleneck1 = nn.Conv2d(self.backbone1.num_channels, self.transformer1.d_model, kernel_size=1)
        self.bottleneck2 = nn.Conv2d(self.backbone2.num_channels, self.transformer2.d_model, kernel_size=1)
        self.router = router

    def branch(self, index: int) -> tuple[BackboneWithPosition, nn.Conv2d, Transformer, nn.Embedding,
                                          CornerPredictor]:
        return tuple(getattr(self, f"{name}{index}")
                     for name in ("backbone", "bottleneck", "transformer", "query_embed", "box_head"))

    def forward(self, img: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                seq_dict: TokenDict | None = None, mode: str = "backbone1"):
        for index in BRANCHES:
            if mode == f"backbone{index}":
                return self.forward_backbone(index, img, mask)
            if mode == f"transformer{index}":
                return self.forward_transformer(index, seq_dict)
        if mode == "router":
            return self.route_score(seq_dict["feat"])
        raise ValueError(f"unknown mode '{mode}'; valid: backbone1, backbone2, router, transformer1, transformer2")

    def forward_backbone(self, index: int, img: torch.Tensor, mask: torch.Tensor) -> TokenDict:
        """img (B, 3, H, W), mask (B, H, W) True on padding -> tokens {feat, pos: (hw, B, C), mask: (B, hw)}."""
        backbone, bottleneck = self.branch(index)[:2]
        feat, small_mask, pos = backbone(img, mask)
        return {"feat": bottleneck(feat).flatten(2).permute(2, 0, 1), "mask": small_mask.flatten(1),
                "pos": pos.flatten(2).permute(2, 0, 1)}

    def route_score(self, light_search_feat: torch.Tensor) -> torch.Tensor:
        if self.router is None:
            raise ValueError("this DynamicTrack has no router (MODEL.BACKBONE.Dynamic: false)")
        return self.router(light_search_feat)

    def forward_transformer(self, index: int, seq_dict: TokenDict) -> torch.Tensor:
        """Encoder-decoder and corner head of branch `index` on [template tokens; search tokens]."""
        _, _, transformer, query_embed, box_head = self.branch(index)
        hs, memory = transformer(seq_dict["feat"], seq_dict["mask"], query_embed.weight, seq_dict["pos"])
        fused = query_weighted_features(memory[-box_head.feat_sz ** 2:], hs, box_head.feat_sz)
        return box_xyxy_to_cxcywh(box_head(fused)).view(hs.shape[1], hs.shape[2], 4)


def build_model(cfg: CfgNode, training: bool) -> DynamicTrack:
    """Both branches (built in the official order: backbones, transformers, heads) and, with
    MODEL.BACKBONE.Dynamic, the router (256 -> 64 -> 1 for the official width)."""
    check_supported(cfg)
    if cfg.MODEL.HIDDEN_DIM % 4:
        raise ConfigError(f"MODEL.HIDDEN_DIM = {cfg.MODEL.HIDDEN_DIM} must be a multiple of 4 (router reduction)")
    backbones = tuple(build_backbone(cfg, training, cfg.MODEL.BACKBONE[f"TYPE{i}"]) for i in BRANCHES)
    strides = {b[0].stride for b in backbones}
    if len(strides) != 1:
        raise ConfigError(f"MODEL.BACKBONE.TYPE1/TYPE2 have different strides {sorted(strides)}")
    transformers = tuple(build_transformer(cfg) for _ in BRANCHES)
    stride = strides.pop()
    heads = tuple(build_box_head(cfg, stride) for _ in BRANCHES)
    router = AdaptiveRouter(cfg.MODEL.HIDDEN_DIM) if cfg.MODEL.BACKBONE.Dynamic else None
    return DynamicTrack(backbones, transformers, heads, cfg.MODEL.NUM_OBJECT_QUERIES, router)


def _add_macs(module: nn.Module, macs: float) -> None:
    module.total_ops += torch.tensor([float(macs)], dtype=torch.float64)


def conv_macs(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
    """Kernel multiply-adds plus one per output element for the bias."""
    kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
    _add_macs(module, output.numel() * (kernel + (module.bias is not None)))


def batchnorm_macs(module: nn.BatchNorm2d, inputs: tuple, output: torch.Tensor) -> None:
    _add_macs(module, 2 * output.numel())


def no_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    _add_macs(module, 0)


# The manifest's per-component MACs come from the thop that the official install script pins (git master of
# 2021): convolutions count their bias, batch norm 2 per element, layer norm nothing; attention as STARK's
# profile_model counts it. Today's thop differs by 0.12 % on a transformer + head component.
OFFICIAL_THOP_RULES = {nn.Conv2d: conv_macs, nn.BatchNorm2d: batchnorm_macs, nn.LayerNorm: no_macs,
                       nn.MultiheadAttention: attention_macs}


def dummy_inputs(cfg: CfgNode, device: str | torch.device):
    """Each component of a tracking step at test sizes, batch 1, named as in the manifest's
    `thop_macs_per_component`: the light route is backbone1_search + router + transformer1_head1, the heavy route
    adds backbone2_search and runs transformer2_head2 instead; backbone1_template runs once per sequence."""
    from lib.utils.profiling import ProfileStep

    def crop(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.randn(1, 3, size, size, device=device),
                torch.zeros(1, size, size, dtype=torch.bool, device=device))

    def steps(model: DynamicTrack) -> list:
        template = crop(cfg.TEST.TEMPLATE_SIZE)
        search = crop(cfg.TEST.SEARCH_SIZE)
        z = model.forward_backbone(1, *template)
        x = {i: model.forward_backbone(i, *search) for i in BRANCHES}
        calls = {"backbone1_template": (*template, None, "backbone1"),
                 "backbone1_search": (*search, None, "backbone1"),
                 "router": (None, None, x[1], "router"),
                 "backbone2_search": (*search, None, "backbone2"),
                 **{f"transformer{i}_head{i}": (None, None, merge_tokens([z, x[i]]), f"transformer{i}")
                    for i in BRANCHES}}
        if model.router is None:
            del calls["router"]
        return [ProfileStep(name, model, args=args, thop_rules=OFFICIAL_THOP_RULES) for name, args in calls.items()]

    return steps
