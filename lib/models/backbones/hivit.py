"""HiViT (Zhang et al., "HiViT: A simpler and more efficient design of hierarchical vision transformers", ICLR 2023)
as a one-stream tracking backbone, the MAE HiViT-B that MSTGT builds on.

Each crop goes through the stem on its own: a 4 x 4-pixel convolution gives every 16 x 16 patch a 4 x 4 grid of
inner tokens (B, N, 4, 4, C/4), MLP-only blocks (`norm2`, `mlp`) work on them, two patch merges (`norm`,
`reduction`: 2 x 2 inner tokens -> one of twice the width) leave one token per patch. The main stage is a plain
ViT over the joint sequence that a `ViTLayout` declares (lib/models/backbones/layout.py), ending in `norm_`.
Absolute position embedding: `absolute_pos_embed` holds the 224-px pre-training grid (14 x 14, no cls token), and
with separate tables the template / search crops get `pos_embed_z` / `pos_embed_x` resized from it.

Names follow the MAE HiViT release and MSTGT: `patch_embed.{proj,norm}`, `blocks.0..` (stem blocks, merges, main
blocks in one list: for HiViT-B 4 MLP blocks at 128, merge, 4 at 256, merge, 20 main blocks at 512),
`absolute_pos_embed`, `norm_`. A family adds its own modules (MSTGT's prompt encoders) through `extra_modules`,
which are registered between the blocks and `norm_` as the official state dict lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Mapping

import torch
import torch.nn as nn
from timm.layers import DropPath, Mlp

from lib.models.backbones.layout import OneStreamBackbone, ViTLayout
from lib.models.layers.candidate_elimination import CEBlock

INNER_PATCHES = 4  # inner tokens per patch side after the stem convolution


@dataclass(frozen=True)
class HiViTVariant:
    embed_dim: int
    depths: tuple[int, ...]
    num_heads: int
    stem_mlp_ratio: float = 3.0
    mlp_ratio: float = 4.0
    patch_size: int = 16


HIVIT_VARIANTS: dict[str, HiViTVariant] = {
    "hivit_base": HiViTVariant(512, (2, 2, 20), 8),
    # Small enough for CPU tests.
    "hivit_test": HiViTVariant(64, (1, 1, 2), 2),
}


def hivit_variant(name: str) -> HiViTVariant:
    try:
        return HIVIT_VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown HiViT backbone type '{name}'; valid: {', '.join(sorted(HIVIT_VARIANTS))}") from None


class InnerPatchEmbed(nn.Module):
    """(B, C_in, H, W) -> (B, H/16 * W/16, 4, 4, C): each patch's inner tokens, row-major over patches."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, norm_layer):
        super().__init__()
        self.patch_size = patch_size
        inner = patch_size // INNER_PATCHES
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=inner, stride=inner)
        self.norm = norm_layer(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        rows, cols = height // self.patch_size, width // self.patch_size
        x = self.proj(x).view(batch, -1, rows, INNER_PATCHES, cols, INNER_PATCHES)
        x = x.permute(0, 2, 4, 3, 5, 1).reshape(batch, rows * cols, INNER_PATCHES, INNER_PATCHES, -1)
        return self.norm(x)


class MlpBlock(nn.Module):
    """A stem block: pre-norm MLP with a residual, no attention."""

    def __init__(self, dim: int, mlp_ratio: float, drop_path: float, norm_layer):
        super().__init__()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerge(nn.Module):
    """2 x 2 neighbouring inner tokens -> one token of twice the width."""

    def __init__(self, dim: int, norm_layer):
        super().__init__()
        self.norm = norm_layer(dim * 4)
        self.reduction = nn.Linear(dim * 4, dim * 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The concatenation order (row offset varies fastest) is the checkpoints' channel order.
        parts = [x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]]
        return self.reduction(self.norm(torch.cat(parts, dim=-1)))


class HiViT(OneStreamBackbone):
    pretrain_table_name = "absolute_pos_embed"

    def __init__(self, template_size: int, search_size: int, embed_dim: int = 512, depths: tuple[int, ...] = (2, 2, 20),
                 num_heads: int = 8, stem_mlp_ratio: float = 3.0, mlp_ratio: float = 4.0, patch_size: int = 16,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, pretrain_img_size: int = 224, layout: ViTLayout = ViTLayout(),
                 extra_modules: Mapping[str, nn.Module] | None = None):
        if layout.cls_token != "none" or layout.streams != 1:
            raise ValueError(f"HiViT has no cls token and one input stream; the layout is {layout}")
        super().__init__(layout, template_size, search_size, patch_size, embed_dim, pretrain_img_size, drop_rate)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        dim = embed_dim // 2 ** (len(depths) - 1)
        self.patch_embed = InnerPatchEmbed(layout.in_chans, dim, patch_size, norm_layer)
        # Stem stages have two MLP blocks per depth unit; merges take no drop-path rate.
        counts = [2 * d for d in depths[:-1]] + [depths[-1]]
        drop_path = iter(torch.linspace(0, drop_path_rate, sum(counts), device="cpu").tolist())
        self.blocks = nn.ModuleList()
        for count in counts[:-1]:
            self.blocks.extend(MlpBlock(dim, stem_mlp_ratio, next(drop_path), norm_layer) for _ in range(count))
            self.blocks.append(PatchMerge(dim, norm_layer))
            dim *= 2
        self.num_main_blocks = counts[-1]
        self.blocks.extend(
            CEBlock(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, proj_drop=drop_rate,
                    attn_drop=attn_drop_rate, drop_path=next(drop_path), norm_layer=norm_layer, act_layer=nn.GELU)
            for _ in range(self.num_main_blocks))
        for name, module in (extra_modules or {}).items():
            self.add_module(name, module)
        self.norm_ = norm_layer(embed_dim)
        self.init_weights()

    def stem_blocks(self) -> nn.ModuleList:
        return self.blocks[:-self.num_main_blocks]

    def transformer_blocks(self) -> nn.ModuleList:
        return self.blocks[-self.num_main_blocks:]

    def final_norm(self) -> nn.Module:
        return self.norm_

    def patch_tokens(self, image: torch.Tensor, stream: int = 0) -> torch.Tensor:
        x = self.patch_embed(image)
        for block in self.stem_blocks():
            x = block(x)
        return x[..., 0, 0, :]


def build_hivit(variant: str, template_size: int, search_size: int, drop_path_rate: float = 0.0,
                layout: ViTLayout = ViTLayout(), extra_modules: Mapping[str, nn.Module] | None = None) -> HiViT:
    """A named variant at the given crop sizes (pre-trained weights are loaded separately)."""
    spec = hivit_variant(variant)
    return HiViT(template_size, search_size, embed_dim=spec.embed_dim, depths=spec.depths, num_heads=spec.num_heads,
                 stem_mlp_ratio=spec.stem_mlp_ratio, mlp_ratio=spec.mlp_ratio, patch_size=spec.patch_size,
                 drop_path_rate=drop_path_rate, layout=layout, extra_modules=extra_modules)
