"""One-stream ViT: template and search patches share one timm ViT, with optional candidate elimination.

Parameter names follow timm's VisionTransformer (`patch_embed.proj`, `blocks.N.{norm1,attn.qkv,attn.proj,norm2,
mlp.fc1,mlp.fc2}`, `norm`, `cls_token`, `pos_embed`), so MAE/timm ViT checkpoints load by name. `pos_embed` keeps
the pre-training grid (224 / 16 = 14 x 14, plus the cls slot); the template and search crops get their own
learnable position embeddings `pos_embed_z` / `pos_embed_x`, initialised by bicubic resizing of that grid. The
cls token is not part of the sequence; it stays as a parameter so released checkpoints load strictly.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import PatchEmbed, trunc_normal_

from lib.models.layers.candidate_elimination import CEBlock, restore_search_tokens


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
    # Small enough for CPU tests and a quick training run.
    "vit_test_patch16_ce": VitVariant(16, 64, 4, 2, candidate_elimination=True),
}


def vit_variant(name: str) -> VitVariant:
    try:
        return VIT_VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown ViT backbone type '{name}'; valid: {', '.join(sorted(VIT_VARIANTS))}") from None


def resize_grid_embedding(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubically resize square-grid token embeddings (1, g*g, C) to (1, h*w, C)."""
    side = int(round(grid.shape[1] ** 0.5))
    if side * side != grid.shape[1]:
        raise ValueError(f"position embedding of {grid.shape[1]} tokens is not a square grid")
    image = grid.transpose(1, 2).reshape(1, grid.shape[2], side, side)
    image = F.interpolate(image, size=size, mode="bicubic", align_corners=False)
    return image.flatten(2).transpose(1, 2)


class OneStreamViT(nn.Module):
    """Joint feature extraction and relation modelling of a template and a search crop.

    ce_loc / ce_keep_ratio: 0-based block indices that eliminate candidates, and their keep ratios.
    block_layer: builds each block from CEBlock's arguments (a subclass may add modules, e.g. adapters).
    """

    def __init__(self, template_size: int, search_size: int, patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 ce_loc: Sequence[int] = (), ce_keep_ratio: Sequence[float] = (), pretrain_img_size: int = 224,
                 in_chans: int = 3, block_layer: Callable[..., CEBlock] = CEBlock):
        super().__init__()
        _check_ce(ce_loc, ce_keep_ratio, depth)
        for name, size in (("template", template_size), ("search", search_size)):
            if size % patch_size:
                raise ValueError(f"{name} size {size} is not a multiple of the patch size {patch_size}")
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.template_grid = (template_size // patch_size,) * 2
        self.search_grid = (search_size // patch_size,) * 2
        self.pretrain_grid = (pretrain_img_size // patch_size,) * 2
        self.ce_loc = tuple(ce_loc)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)

        self.patch_embed = PatchEmbed(img_size=None, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.pretrain_grid[0] * self.pretrain_grid[1], embed_dim))
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.template_grid[0] * self.template_grid[1], embed_dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.search_grid[0] * self.search_grid[1], embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        keep = dict(zip(ce_loc, ce_keep_ratio))
        drop_path = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(
            block_layer(dim=embed_dim, num_heads=num_heads, keep_ratio=keep.get(i, 1.0), mlp_ratio=mlp_ratio,
                        qkv_bias=qkv_bias, proj_drop=drop_rate, attn_drop=attn_drop_rate, drop_path=drop_path[i],
                        norm_layer=norm_layer, act_layer=nn.GELU)
            for i in range(depth))
        self.norm = norm_layer(embed_dim)
        self.init_weights()

    def init_weights(self) -> None:
        """timm's default ViT init, then the crop position embeddings from the (random) pre-training grid."""
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_layer)
        self.reset_crop_pos_embeds_()

    @torch.no_grad()
    def reset_crop_pos_embeds_(self) -> None:
        """Set pos_embed_z / pos_embed_x from pos_embed (without its cls slot); call after loading pre-training."""
        grid = self.pos_embed[:, 1:]
        self.pos_embed_z.copy_(resize_grid_embedding(grid, self.template_grid))
        self.pos_embed_x.copy_(resize_grid_embedding(grid, self.search_grid))

    def embed(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens with position embeddings, template first: (B, L_t + L_s, C)."""
        z = self.patch_embed(z) + self.pos_embed_z
        x = self.patch_embed(x) + self.pos_embed_x
        return self.pos_drop(torch.cat([z, x], dim=1))

    def forward(self, z: torch.Tensor, x: torch.Tensor, template_mask: torch.Tensor | None = None,
                keep_ratio: float | None = None) -> tuple[torch.Tensor, dict]:
        """z, x: (B, 3, H, W) crops. template_mask: (B, L_t) bool tokens that score search tokens (None: all).
        keep_ratio: overrides the CE blocks' ratio (training warm-up).

        Returns (B, L_t + L_s, C) normalised tokens (eliminated search positions are zeros) and
        {"removed_indexes_s": per CE block, the (B, n) grid indices it removed}.
        """
        tokens = self.embed(z, x)
        num_template, num_search = self.pos_embed_z.shape[1], self.pos_embed_x.shape[1]
        global_index = torch.arange(num_search, device=tokens.device).expand(tokens.shape[0], -1)
        removed_indexes = []
        for block in self.blocks:
            tokens, global_index, removed = block(tokens, num_template, global_index, template_mask, keep_ratio)
            if removed is not None:
                removed_indexes.append(removed)
        tokens = self.norm(tokens)
        search = tokens[:, num_template:]
        if removed_indexes:
            search = restore_search_tokens(search, global_index, num_search)
        return torch.cat([tokens[:, :num_template], search], dim=1), {"removed_indexes_s": removed_indexes}


def _check_ce(ce_loc: Sequence[int], ce_keep_ratio: Sequence[float], depth: int) -> None:
    if len(ce_loc) != len(ce_keep_ratio):
        raise ValueError(f"CE layers {list(ce_loc)} and keep ratios {list(ce_keep_ratio)} differ in length")
    bad = [i for i in ce_loc if not 0 <= i < depth]
    if bad:
        raise ValueError(f"CE layers {bad} outside the {depth} blocks")
    if any(not 0 < r <= 1 for r in ce_keep_ratio):
        raise ValueError(f"CE keep ratios must be in (0, 1], got {list(ce_keep_ratio)}")


def _init_layer(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def build_one_stream_vit(variant: str, template_size: int, search_size: int, drop_path_rate: float = 0.0,
                         ce_loc: Sequence[int] = (), ce_keep_ratio: Sequence[float] = (),
                         block_layer: Callable[..., CEBlock] = CEBlock) -> OneStreamViT:
    """A named variant at the given crop sizes (pre-trained weights are loaded separately)."""
    spec = vit_variant(variant)
    if ce_loc and not spec.candidate_elimination:
        raise ValueError(f"backbone '{variant}' has no candidate elimination, but CE layers {list(ce_loc)} are "
                         f"set; use the '_ce' variant or an empty CE_LOC")
    return OneStreamViT(template_size, search_size, patch_size=spec.patch_size, embed_dim=spec.embed_dim,
                        depth=spec.depth, num_heads=spec.num_heads, mlp_ratio=spec.mlp_ratio,
                        drop_path_rate=drop_path_rate, ce_loc=ce_loc, ce_keep_ratio=ce_keep_ratio,
                        block_layer=block_layer)
