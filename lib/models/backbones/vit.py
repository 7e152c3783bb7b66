"""One-stream ViT: template and search patches share one timm ViT, with optional candidate elimination.

Parameter names follow timm's VisionTransformer (`patch_embed.proj`, `blocks.N.{norm1,attn.qkv,attn.proj,norm2,
mlp.fc1,mlp.fc2}`, `norm`, `cls_token`, `pos_embed`), so MAE/timm ViT checkpoints load by name. How the crops form
the token sequence is declared by a `ViTLayout` (see lib/models/backbones/layout.py):

    OSTrack:   build_one_stream_vit("vit_base_patch16_224_ce", 128, 256, layout=ViTLayout(cls_token="stored"))
    SeqTrack:  ViTLayout(num_templates=2, search_first=True, pos_embed="joint", pos_align_corners=True)
    two templates, search first, RGB + depth / thermal / event in one 6-channel patch embedding:
               ViTLayout(num_templates=2, search_first=True, in_chans=6)

and then `backbone([z1, z2], x)` returns the tokens in layout order; `backbone.search_tokens(feat)` picks the search
crop's tokens out of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import torch
import torch.nn as nn
from timm.layers import PatchEmbed

from lib.models.backbones.layout import OneStreamBackbone, ViTLayout, check_candidate_elimination
from lib.models.layers.candidate_elimination import CEBlock


@dataclass(frozen=True)
class VitVariant:
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    candidate_elimination: bool = False


# Names as the experiment files spell them; the `_ce` variants accept CE layers, the others refuse them.
VIT_VARIANTS: dict[str, VitVariant] = {
    "vit_base_patch16_224": VitVariant(16, 768, 12, 12),
    "vit_base_patch16_224_ce": VitVariant(16, 768, 12, 12, candidate_elimination=True),
    "vit_large_patch16_224_ce": VitVariant(16, 1024, 24, 16, candidate_elimination=True),
    # SeqTrack's names (MODEL.ENCODER.TYPE), without candidate elimination.
    "vit_base_patch16": VitVariant(16, 768, 12, 12),
    "vit_large_patch16": VitVariant(16, 1024, 24, 16),
    # Small enough for CPU tests and a quick training run.
    "vit_test_patch16_ce": VitVariant(16, 64, 4, 2, candidate_elimination=True),
}


def vit_variant(name: str) -> VitVariant:
    try:
        return VIT_VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown ViT backbone type '{name}'; valid: {', '.join(sorted(VIT_VARIANTS))}") from None


class OneStreamViT(OneStreamBackbone):
    """Joint feature extraction and relation modelling of template and search crops, arranged by a `ViTLayout`.

    ce_loc / ce_keep_ratio: 0-based block indices that eliminate candidates, and their keep ratios.
    block_layer: builds each block from CEBlock's arguments (a subclass may add modules, e.g. per-stream adapters:
    blocks are called with `stream=<index>`).
    """

    def __init__(self, template_size: int, search_size: int, patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 ce_loc: Sequence[int] = (), ce_keep_ratio: Sequence[float] = (), pretrain_img_size: int = 224,
                 layout: ViTLayout = ViTLayout(), block_layer: Callable[..., CEBlock] = CEBlock):
        super().__init__(layout, template_size, search_size, patch_size, embed_dim, pretrain_img_size, drop_rate)
        check_candidate_elimination(ce_loc, ce_keep_ratio, depth, layout)
        self.ce_loc = tuple(ce_loc)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        stream_chans = layout.in_chans // layout.streams
        self.patch_embed = PatchEmbed(img_size=None, patch_size=patch_size, in_chans=stream_chans,
                                      embed_dim=embed_dim)
        keep = dict(zip(ce_loc, ce_keep_ratio))
        drop_path = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(
            block_layer(dim=embed_dim, num_heads=num_heads, keep_ratio=keep.get(i, 1.0), mlp_ratio=mlp_ratio,
                        qkv_bias=qkv_bias, proj_drop=drop_rate, attn_drop=attn_drop_rate, drop_path=drop_path[i],
                        norm_layer=norm_layer, act_layer=nn.GELU)
            for i in range(depth))
        self.norm = norm_layer(embed_dim)
        if layout.streams > 1:
            if layout.streams != 2:
                raise ValueError(f"a ViT takes one or two input streams, the layout declares {layout.streams}")
            self.patch_embed_multimodal = PatchEmbed(img_size=None, patch_size=patch_size, in_chans=stream_chans,
                                                     embed_dim=embed_dim)
        self.init_weights()

    def patch_tokens(self, image: torch.Tensor, stream: int = 0) -> torch.Tensor:
        return (self.patch_embed_multimodal if stream else self.patch_embed)(image)

    def transformer_blocks(self) -> nn.ModuleList:
        return self.blocks

    def final_norm(self) -> nn.Module:
        return self.norm


def build_one_stream_vit(variant: str, template_size: int, search_size: int, drop_path_rate: float = 0.0,
                         ce_loc: Sequence[int] = (), ce_keep_ratio: Sequence[float] = (),
                         layout: ViTLayout = ViTLayout(), block_layer: Callable[..., CEBlock] = CEBlock
                         ) -> OneStreamViT:
    """A named variant at the given crop sizes (pre-trained weights are loaded separately)."""
    spec = vit_variant(variant)
    if ce_loc and not spec.candidate_elimination:
        raise ValueError(f"backbone '{variant}' has no candidate elimination, but CE layers {list(ce_loc)} are "
                         f"set; use the '_ce' variant or an empty CE_LOC")
    return OneStreamViT(template_size, search_size, patch_size=spec.patch_size, embed_dim=spec.embed_dim,
                        depth=spec.depth, num_heads=spec.num_heads, mlp_ratio=spec.mlp_ratio,
                        drop_path_rate=drop_path_rate, ce_loc=ce_loc, ce_keep_ratio=ce_keep_ratio, layout=layout,
                        block_layer=block_layer)
