"""Token layouts of one-stream trackers: how template and search crops become one transformer sequence.

A one-stream backbone embeds every crop into patch tokens, adds position embeddings and runs one token sequence
through its transformer blocks. What differs between trackers is declared by a `ViTLayout`:

* `num_templates`: template crops per sample; all of them share the template position embedding.
* `search_first`: token order [search, templates...] (SeqTrack) instead of [templates..., search] (OSTrack).
* `cls_token`: "none" (SeqTrack, HiViT), "stored" (a `cls_token` parameter kept only so released checkpoints load
  strictly, OSTrack) or "prepended" (the token leads the sequence, with its own `cls_pos_embed`).
* `pos_embed`: "separate" keeps the pre-training grid (`pos_embed` for a ViT, `absolute_pos_embed` for HiViT) and
  derives learnable `pos_embed_z` / `pos_embed_x` from it (OSTrack, MSTGT); "joint" has ONE learnable table
  `pos_embed` covering the crops in token order (SeqTrack: [search grid, template grid]) and no pre-training grid.
* `pos_align_corners`: how the pre-training grid is resized to a crop grid (OSTrack False, SeqTrack True).
* `in_chans`: channels of the input crops (3 for RGB, 6 for RGB + depth / thermal / event).
* `extra_tokens`: tokens carried between frames (MSTGT's spatio-temporal tokens). The caller passes them in and gets
  their updated value back; the module never stores them, so one network can track several sequences.
* `streams`: input streams (modalities) of the crops, each with its own patch embedding (the second one is
  `patch_embed_multimodal`, SDSTrack's name), sharing the position embeddings and the blocks. The channels are split
  evenly between the streams. Blocks receive `stream=<index>` so a `block_layer` subclass can apply per-stream
  adapters, `fuse_streams` runs after every block and `merge_streams` combines the streams before the final norm.
  (Not to be confused with "one-stream": template and search sharing one sequence, which all layouts do.)

Examples: OSTrack is `ViTLayout(cls_token="stored")`; SeqTrack `ViTLayout(num_templates=2, search_first=True,
pos_embed="joint", pos_align_corners=True)`; a 6-channel two-template search-first tracker
`ViTLayout(num_templates=2, search_first=True, in_chans=6)`; SDSTrack `ViTLayout(cls_token="stored", in_chans=6,
streams=2)` with an adapter `block_layer`.

Candidate elimination needs the templates before the search tokens and nothing after them: template-first order,
no prepended cls token, no extra tokens.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_

from lib.models.layers.candidate_elimination import CEBlock, restore_search_tokens

CLS_TOKEN_MODES = ("none", "stored", "prepended")
POS_EMBED_MODES = ("separate", "joint")


@dataclass(frozen=True)
class ViTLayout:
    num_templates: int = 1
    search_first: bool = False
    cls_token: str = "none"
    pos_embed: str = "separate"
    pos_align_corners: bool = False
    in_chans: int = 3
    extra_tokens: int = 0
    streams: int = 1

    def __post_init__(self) -> None:
        if self.num_templates < 1:
            raise ValueError(f"a layout needs at least one template, got num_templates={self.num_templates}")
        if self.cls_token not in CLS_TOKEN_MODES:
            raise ValueError(f"unknown cls_token mode '{self.cls_token}'; valid: {', '.join(CLS_TOKEN_MODES)}")
        if self.pos_embed not in POS_EMBED_MODES:
            raise ValueError(f"unknown pos_embed mode '{self.pos_embed}'; valid: {', '.join(POS_EMBED_MODES)}")
        if self.extra_tokens < 0 or self.streams < 1:
            raise ValueError(f"extra_tokens must be >= 0 and streams >= 1, got {self.extra_tokens}, {self.streams}")
        if self.in_chans % self.streams:
            raise ValueError(f"{self.in_chans} input channels do not split evenly into {self.streams} streams")
        if self.extra_tokens and self.streams > 1:
            raise ValueError("carried extra tokens and several input streams cannot be combined")

    @property
    def supports_candidate_elimination(self) -> bool:
        return not self.search_first and self.cls_token != "prepended" and not self.extra_tokens


def resize_grid_embedding(grid: torch.Tensor, size: tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    """Bicubically resize square-grid token embeddings (1, g*g, C) to (1, h*w, C)."""
    side = int(round(grid.shape[1] ** 0.5))
    if side * side != grid.shape[1]:
        raise ValueError(f"position embedding of {grid.shape[1]} tokens is not a square grid")
    image = grid.transpose(1, 2).reshape(1, grid.shape[2], side, side)
    image = F.interpolate(image, size=size, mode="bicubic", align_corners=align_corners)
    return image.flatten(2).transpose(1, 2)


def split_cls_slot(table: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(cls slot or None, square grid) of a (1, [1 +] g*g, C) pre-training position table."""
    num = table.shape[1]
    if int(round(num ** 0.5)) ** 2 == num:
        return None, table
    return table[:, :1], table[:, 1:]


class OneStreamBackbone(nn.Module, ABC):
    """Layout logic shared by the one-stream ViT and HiViT: position tables, sequence assembly, the block loop
    with candidate elimination, carried tokens and input streams, and reading the outputs back.

    A subclass registers, in its official order, the patch embedding(s), `blocks` and its final norm, then calls
    `init_weights`; it provides `patch_tokens` (one crop -> (B, L, C) tokens), `transformer_blocks` and
    `final_norm`. `pretrain_table_name` names its pre-training position grid in checkpoints.
    """

    pretrain_table_name = "pos_embed"

    def __init__(self, layout: ViTLayout, template_size: int, search_size: int, patch_size: int, embed_dim: int,
                 pretrain_img_size: int = 224, drop_rate: float = 0.0):
        super().__init__()
        for name, size in (("template", template_size), ("search", search_size)):
            if size % patch_size:
                raise ValueError(f"{name} size {size} is not a multiple of the patch size {patch_size}")
        self.layout = layout
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.template_grid = (template_size // patch_size,) * 2
        self.search_grid = (search_size // patch_size,) * 2
        self.pretrain_grid = (pretrain_img_size // patch_size,) * 2
        self.num_template_tokens = self.template_grid[0] * self.template_grid[1]
        self.num_search_tokens = self.search_grid[0] * self.search_grid[1]
        # Parameters first, in the order the official checkpoints list them.
        if layout.cls_token != "none":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if layout.pos_embed == "separate":
            cls_slot = int(layout.cls_token != "none")
            table = torch.zeros(1, cls_slot + self.pretrain_grid[0] * self.pretrain_grid[1], embed_dim)
            self.register_parameter(self.pretrain_table_name, nn.Parameter(table))
            self.pos_embed_z = nn.Parameter(torch.zeros(1, self.num_template_tokens, embed_dim))
            self.pos_embed_x = nn.Parameter(torch.zeros(1, self.num_search_tokens, embed_dim))
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, self.num_template_tokens + self.num_search_tokens,
                                                      embed_dim))
        if layout.cls_token == "prepended":
            self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)

    # --- hooks of the concrete backbones ---------------------------------------------------------------------

    @abstractmethod
    def patch_tokens(self, image: torch.Tensor, stream: int = 0) -> torch.Tensor:
        """One crop (B, C_stream, H, W) -> (B, h*w, embed_dim) tokens without positions."""

    @abstractmethod
    def transformer_blocks(self) -> Sequence[nn.Module]:
        """The blocks of the joint sequence, called as CEBlock is."""

    @abstractmethod
    def final_norm(self) -> nn.Module:
        """The norm applied to the output sequence."""

    def fuse_streams(self, index: int, streams: list[torch.Tensor]) -> list[torch.Tensor]:
        """Exchange between input streams after block `index` (a multi-stream subclass overrides this)."""
        return streams

    def merge_streams(self, streams: list[torch.Tensor]) -> torch.Tensor:
        """One sequence from the restored streams, before the final norm: their mean (SDSTrack's output fusion)."""
        return torch.stack(streams).mean(dim=0)

    # --- position embeddings ---------------------------------------------------------------------------------

    def init_weights(self) -> None:
        """timm's ViT init: truncated-normal pre-training grid and cls token, linear and LayerNorm layers; then the
        crop tables derived from that grid (a joint table from a freshly drawn one)."""
        cls_slot = int(self.layout.cls_token != "none")
        if self.layout.pos_embed == "separate":
            table = getattr(self, self.pretrain_table_name)
        else:
            table = torch.zeros(1, cls_slot + self.pretrain_grid[0] * self.pretrain_grid[1], self.embed_dim)
        trunc_normal_(table, std=0.02)
        if cls_slot:
            trunc_normal_(self.cls_token, std=0.02)
        self.apply(init_layer)
        self.set_position_embeddings_(table.detach())

    def position_parameter_names(self) -> list[str]:
        """Own parameters that `position_embeddings_from` sets."""
        names = [self.pretrain_table_name, "pos_embed_z", "pos_embed_x"] if self.layout.pos_embed == "separate" \
            else ["pos_embed"]
        return names + (["cls_pos_embed"] if self.layout.cls_token == "prepended" else [])

    def position_embeddings_from(self, table: torch.Tensor) -> dict[str, torch.Tensor]:
        """The position parameters of this layout from a pre-training table (1, [1 +] g*g, C) on any grid.

        Separate tables: the table is first fitted to the stored pre-training grid (bicubic resize, its cls slot
        kept, or ours where it has none) and the crop tables are resized from that. A joint table is resized from
        the given grid directly, one crop grid per segment. A prepended cls token takes the table's cls slot.
        """
        cls_slot, grid = split_cls_slot(table)
        grid = grid.float()
        out = {}
        if self.layout.pos_embed == "separate":
            if grid.shape[1] != self.pretrain_grid[0] * self.pretrain_grid[1]:
                grid = resize_grid_embedding(grid, self.pretrain_grid)
            own = grid
            if self.layout.cls_token != "none":
                slot = getattr(self, self.pretrain_table_name).detach()[:, :1] if cls_slot is None else cls_slot
                own = torch.cat([slot.to(grid), grid], dim=1)
            out[self.pretrain_table_name] = own
        align = self.layout.pos_align_corners
        template = resize_grid_embedding(grid, self.template_grid, align)
        search = resize_grid_embedding(grid, self.search_grid, align)
        if self.layout.pos_embed == "separate":
            out["pos_embed_z"], out["pos_embed_x"] = template, search
        else:
            out["pos_embed"] = torch.cat([search, template] if self.layout.search_first else [template, search], 1)
        if self.layout.cls_token == "prepended" and cls_slot is not None:
            out["cls_pos_embed"] = cls_slot
        return {name: value.to(table.dtype) for name, value in out.items()}

    @torch.no_grad()
    def set_position_embeddings_(self, table: torch.Tensor) -> None:
        """Set every position parameter from a pre-training table (see `position_embeddings_from`)."""
        for name, value in self.position_embeddings_from(table).items():
            self.get_parameter(name).copy_(value)

    def crop_position_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(template, search) position tables, (1, L_t, C) and (1, L_s, C)."""
        if self.layout.pos_embed == "separate":
            return self.pos_embed_z, self.pos_embed_x
        lengths = [self.num_search_tokens, self.num_template_tokens]
        if self.layout.search_first:
            search, template = self.pos_embed.split(lengths, dim=1)
        else:
            template, search = self.pos_embed.split(lengths[::-1], dim=1)
        return template, search

    # --- the sequence ----------------------------------------------------------------------------------------

    @property
    def num_prefix_tokens(self) -> int:
        return int(self.layout.cls_token == "prepended")

    def search_start(self) -> int:
        """Index of the first search token in the output sequence."""
        if self.layout.search_first:
            return self.num_prefix_tokens
        return self.num_prefix_tokens + self.layout.num_templates * self.num_template_tokens

    def search_tokens(self, feat: torch.Tensor) -> torch.Tensor:
        """The search-crop tokens (B, L_s, C) of a backbone output."""
        start = self.search_start()
        return feat[:, start:start + self.num_search_tokens]

    def templates_as_list(self, z: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """One crop (B, C, H, W), a sequence of them, or a stack (N, B, C, H, W) as the data loader gives them."""
        if isinstance(z, torch.Tensor):
            templates = list(z.unbind(0)) if z.dim() == 5 else [z]
        else:
            templates = list(z)
        if len(templates) != self.layout.num_templates:
            raise ValueError(f"the layout declares {self.layout.num_templates} template(s), got {len(templates)}")
        return templates

    def stream_input(self, image: torch.Tensor, stream: int) -> torch.Tensor:
        if image.shape[1] != self.layout.in_chans:
            raise ValueError(f"the layout declares {self.layout.in_chans} input channels, got {image.shape[1]}")
        width = self.layout.in_chans // self.layout.streams
        return image[:, stream * width:(stream + 1) * width] if self.layout.streams > 1 else image

    def template_tokens(self, crop: torch.Tensor) -> torch.Tensor:
        """One template crop's patch tokens with position embeddings, (streams, B, L_t, C)."""
        pos_z = self.crop_position_embeddings()[0]
        streams = range(self.layout.streams)
        return torch.stack([self.patch_tokens(self.stream_input(crop, s), s) + pos_z for s in streams])

    def embed_templates(self, z: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """All template crops' tokens in order, (streams, B, num_templates * L_t, C), as `forward` starts from: a
        tracker computes them once per template (`template_tokens`) and passes them to `forward`."""
        return torch.cat([self.template_tokens(t) for t in self.templates_as_list(z)], dim=2)

    def embed(self, template_tokens: torch.Tensor, x: torch.Tensor, stream: int = 0) -> torch.Tensor:
        """One stream's sequence: its template tokens (B, num_templates * L_t, C) and the search crop's patch tokens
        with position embeddings in the layout's order, cls token first where prepended."""
        x_tokens = self.patch_tokens(self.stream_input(x, stream), stream) + self.crop_position_embeddings()[1]
        parts = [x_tokens, template_tokens] if self.layout.search_first else [template_tokens, x_tokens]
        if self.layout.cls_token == "prepended":
            parts.insert(0, (self.cls_token + self.cls_pos_embed).expand(x.shape[0], -1, -1))
        return self.pos_drop(torch.cat(parts, dim=1))

    def forward(self, z: torch.Tensor | Sequence[torch.Tensor] | None, x: torch.Tensor,
                template_mask: torch.Tensor | None = None, keep_ratio: float | None = None,
                extra_tokens: torch.Tensor | None = None, search_only: bool = False,
                template_tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """z: one template crop (B, C, H, W), a sequence of `num_templates` of them or their stack (N, B, C, H, W);
        x: the search crop (B, C, H, W).
        template_tokens: `embed_templates(z)` computed before (test time: each template's tokens once); z is then
        not read and may be None.
        template_mask: (B, num_templates * L_t) bool template tokens that score search tokens (None: all).
        keep_ratio: overrides the CE blocks' ratio (training warm-up).
        extra_tokens: (B, layout.extra_tokens, C) tokens carried from the previous frame, appended to the sequence.

        Returns the normalised tokens in layout order (B, [1 +] L_t * num_templates + L_s, C), eliminated search
        positions as in the official models, and {"removed_indexes_s": per CE block the (B, n) search-grid indices
        it removed (the first stream's)}, plus "extra_tokens" (their block output, before the final norm) when the
        layout carries tokens and "removed_indexes_streams" (per stream) with several streams.

        search_only (test time): return the search tokens alone, `search_tokens` of the above. Where the layout
        allows (`trims_last_block`), the last block then runs its queries, projection and MLP for those only, and
        after candidate elimination aux["search_cells"] gives the (B, k) grid cells of the surviving tokens (the
        others are zero).
        """
        if template_tokens is None:
            template_tokens = self.embed_templates(z)
        elif template_tokens.shape[2] != self.layout.num_templates * self.num_template_tokens:
            raise ValueError(f"template_tokens: expected {self.layout.num_templates} x {self.num_template_tokens} "
                             f"tokens, got {template_tokens.shape[2]}")
        streams = [self.embed(template_tokens[s], x, s) for s in range(self.layout.streams)]
        num_extra = self.layout.extra_tokens
        if num_extra:
            if extra_tokens is None or extra_tokens.shape[1] != num_extra:
                raise ValueError(f"the layout carries {num_extra} extra tokens; pass them as extra_tokens "
                                 f"(B, {num_extra}, C)")
            streams[0] = torch.cat([streams[0], extra_tokens], dim=1)
        elif extra_tokens is not None:
            raise ValueError("extra_tokens given, but the layout declares none")
        trim = search_only and self.trims_last_block(keep_ratio)
        streams, indexes, removed = self.run_blocks(streams, template_mask, keep_ratio, trim)
        aux = {"removed_indexes_s": removed[0]}
        if trim:
            search = self.final_norm()(streams[0])
            if not removed[0]:
                return search, aux
            aux["search_cells"] = indexes[0]
            return restore_search_tokens(search, indexes[0], self.num_search_tokens), aux
        if num_extra:
            aux["extra_tokens"] = streams[0][:, -num_extra:]
            streams[0] = streams[0][:, :-num_extra]
        if self.layout.streams > 1:
            aux["removed_indexes_streams"] = removed
            restored = [self.restore_search(t, i, r) for t, i, r in zip(streams, indexes, removed)]
            feat = self.final_norm()(self.merge_streams(restored))
        else:
            feat = self.restore_search(self.final_norm()(streams[0]), indexes[0], removed[0])
        return (self.search_tokens(feat) if search_only else feat), aux

    def trims_last_block(self, keep_ratio: float | None) -> bool:
        """Whether a search-only forward can run the last block for the search tokens alone: one stream, and a
        last block that is a plain CEBlock eliminating nothing (candidate elimination scores search tokens with the
        template queries)."""
        last = self.transformer_blocks()[-1]
        return (self.layout.streams == 1 and not self.layout.extra_tokens
                and self.num_prefix_tokens == 0 and type(last).forward is CEBlock.forward
                and type(last).forward_tail is CEBlock.forward_tail and last.active_keep_ratio(keep_ratio) >= 1)

    def run_blocks(self, streams: list[torch.Tensor], template_mask: torch.Tensor | None,
                   keep_ratio: float | None, trim_last: bool = False
                   ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[list]]:
        """All transformer blocks over every stream; returns the tokens, the kept search indices and the
        removed ones per stream. trim_last (see `trims_last_block`): the last block's output is the search
        tokens only."""
        num_template = self.layout.num_templates * self.num_template_tokens
        batch, device = streams[0].shape[0], streams[0].device
        indexes = [torch.arange(self.num_search_tokens, device=device).expand(batch, -1) for _ in streams]
        removed = [[] for _ in streams]
        blocks = self.transformer_blocks()
        for i, block in enumerate(blocks):
            if trim_last and i == len(blocks) - 1:
                start = self.search_start()  # search-first layouts have no candidate elimination: a fixed count
                stop = start + self.num_search_tokens if self.layout.search_first else None
                streams[0] = block.forward_tail(streams[0], start, stop)
                break
            for s in range(len(streams)):
                streams[s], indexes[s], gone = block(streams[s], num_template, indexes[s], template_mask,
                                                     keep_ratio, stream=s)
                if gone is not None:
                    removed[s].append(gone)
            if len(streams) > 1:
                streams = self.fuse_streams(i, streams)
        return streams, indexes, removed

    def restore_search(self, tokens: torch.Tensor, index: torch.Tensor, removed: list) -> torch.Tensor:
        """Scatter the surviving search tokens back to grid order (zeros at eliminated positions)."""
        if not removed:
            return tokens
        start = self.search_start()
        search = restore_search_tokens(tokens[:, start:], index, self.num_search_tokens)
        return torch.cat([tokens[:, :start], search], dim=1)


def check_candidate_elimination(ce_loc: Sequence[int], ce_keep_ratio: Sequence[float], depth: int,
                                layout: ViTLayout) -> None:
    if len(ce_loc) != len(ce_keep_ratio):
        raise ValueError(f"CE layers {list(ce_loc)} and keep ratios {list(ce_keep_ratio)} differ in length")
    bad = [i for i in ce_loc if not 0 <= i < depth]
    if bad:
        raise ValueError(f"CE layers {bad} outside the {depth} blocks")
    if any(not 0 < r <= 1 for r in ce_keep_ratio):
        raise ValueError(f"CE keep ratios must be in (0, 1], got {list(ce_keep_ratio)}")
    if ce_loc and not layout.supports_candidate_elimination:
        raise ValueError("candidate elimination needs template-first order, no prepended cls token and no extra "
                         f"tokens; the layout is {layout}")


def init_layer(module: nn.Module) -> None:
    """timm's ViT init for linear and LayerNorm layers."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
