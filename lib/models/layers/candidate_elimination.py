"""Candidate elimination (CE) for one-stream trackers: drop search tokens that the template ignores.

After the attention of a CE block, every search token gets a score, the mean attention it receives from the
selected template tokens (averaged over heads); only the ceil(keep_ratio * L_s) best-scored search tokens go on.
Template tokens are always kept. `global_index` tracks where each surviving search token came from, so after the
last block `restore_search_tokens` puts them back in grid order, with zeros at the eliminated positions.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import Block

TEMPLATE_RANGES = ("ALL", "CTR_POINT", "CTR_REC", "GT_BOX")


def template_token_mask(mode: str, template_size: int, stride: int, batch: int, device: torch.device,
                        template_boxes: torch.Tensor | None = None) -> torch.Tensor | None:
    """Which template tokens score the search tokens, as a (batch, L_t) bool mask; None means all of them.

    CTR_POINT: the central token ((n - 1) // 2 on an n x n grid: 3 for 8 x 8, 5 for 12 x 12).
    CTR_REC: the central 2 x 2 tokens (1 x 1 on odd grids).
    GT_BOX: tokens touched by the template box (normalised xywh), rasterised at pixel level, then bilinearly
    resampled to the token grid: a token counts if any sampled pixel is inside the box.
    """
    n = template_size // stride
    if mode == "ALL":
        return None
    if mode in ("CTR_POINT", "CTR_REC"):
        start = (n - 1) // 2
        end = start + 1 if mode == "CTR_POINT" else n // 2 + 1
        mask = torch.zeros(batch, n, n, dtype=torch.bool, device=device)
        mask[:, start:end, start:end] = True
        return mask.flatten(1)
    if mode == "GT_BOX":
        if template_boxes is None:
            raise ValueError("template range GT_BOX needs the template boxes")
        return _box_token_mask(template_boxes, template_size, stride)
    raise ValueError(f"unknown CE template range '{mode}'; valid: {', '.join(TEMPLATE_RANGES)}")


def _box_token_mask(boxes: torch.Tensor, template_size: int, stride: int) -> torch.Tensor:
    pixels = torch.zeros(boxes.shape[0], 1, template_size, template_size, device=boxes.device)
    for i, (x, y, w, h) in enumerate((boxes * template_size).tolist()):
        # Truncation and the exclusive "- 1" end follow the reference rasteriser.
        pixels[i, 0, int(y):int(y + h - 1), int(x):int(x + w - 1)] = 1
    grid = F.interpolate(pixels, scale_factor=1.0 / stride, mode="bilinear", align_corners=False)
    return grid.flatten(1).to(torch.bool)


def search_token_scores(q: torch.Tensor, k: torch.Tensor, num_template: int, template_mask: torch.Tensor | None,
                        scale: float) -> torch.Tensor:
    """Mean post-softmax attention from the selected template queries to each search key: (B, L_s).

    q, k: (B, heads, L, head_dim). Only the template rows that some sample selects are computed, so the cost is
    small next to the block's attention itself.
    """
    rows = q[:, :, :num_template]
    weights = None
    if template_mask is not None:
        used = template_mask.any(dim=0)
        rows = rows[:, :, used]
        weights = template_mask[:, used].to(q.dtype)
    attn = ((rows * scale) @ k.transpose(-2, -1)).softmax(dim=-1)[..., num_template:]
    attn = attn.mean(dim=1)
    if weights is None:
        return attn.mean(dim=1)
    return (attn * weights.unsqueeze(-1)).sum(dim=1) / weights.sum(dim=1, keepdim=True)


def eliminate_candidates(tokens: torch.Tensor, scores: torch.Tensor, num_template: int, keep_ratio: float,
                         global_index: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Keep the template tokens and the best-scored search tokens (in descending score order).

    Returns the new token sequence, the original grid indices of the kept search tokens and of the removed ones
    (None when nothing is removed).
    """
    split = candidate_split(scores, keep_ratio)
    if split is None:
        return tokens, global_index, None
    keep, drop = split
    return kept_tokens(tokens, keep, num_template), global_index.gather(1, keep), global_index.gather(1, drop)


def candidate_split(scores: torch.Tensor, keep_ratio: float) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(kept, removed) search-token positions (B, n) for `scores` (B, L_s), the kept ones in descending score
    order; None when the ratio keeps every token."""
    num_search = scores.shape[1]
    num_keep = math.ceil(keep_ratio * num_search)
    if num_keep >= num_search:
        return None
    # A full sort, as the reference does (topk was slow on GPU); the kept tokens follow in score order.
    order = torch.sort(scores, dim=1, descending=True).indices
    return order[:, :num_keep], order[:, num_keep:]


def kept_tokens(tokens: torch.Tensor, keep: torch.Tensor, num_template: int, dim: int = 1) -> torch.Tensor:
    """The template tokens, then the search tokens at positions `keep` (B, n), along the token axis `dim` of
    `tokens` (batch first)."""
    search = tokens.narrow(dim, num_template, tokens.shape[dim] - num_template)
    batch = torch.arange(keep.shape[0], device=keep.device)[:, None]
    # Advanced indexing copies whole rows (about 3x faster here than gather with an expanded index); with
    # slices between the two indices, the picked axis comes first after the batch axis.
    picked = search[(batch,) + (slice(None),) * (dim - 1) + (keep,)].movedim(1, dim)
    return torch.cat([tokens.narrow(dim, 0, num_template), picked], dim=dim)


def restore_search_tokens(search: torch.Tensor, global_index: torch.Tensor, num_search: int) -> torch.Tensor:
    """Scatter surviving search tokens back to their grid positions; eliminated positions stay zero."""
    index = global_index.unsqueeze(-1).expand(-1, -1, search.shape[-1])
    full = search.new_zeros(search.shape[0], num_search, search.shape[-1])
    return full.scatter(1, index, search)


class CEBlock(Block):
    """A timm ViT block (same parameter names) that can eliminate search candidates between attention and MLP.

    keep_ratio: this block's own keep ratio; 1.0 makes it a plain block. A ratio passed to `forward` (the
    training warm-up) replaces it, but only in blocks whose own ratio is below 1, and a passed 1.0 disables CE.
    """

    skip_eliminated = False  # set by `skip_eliminated_tokens` (the test-time build): see `_forward_kept`

    def __init__(self, dim: int, num_heads: int, keep_ratio: float = 1.0, **block_kwargs):
        super().__init__(dim, num_heads, **block_kwargs)
        self.keep_ratio = keep_ratio

    def active_keep_ratio(self, keep_ratio: float | None) -> float:
        if self.keep_ratio >= 1 or (keep_ratio is not None and keep_ratio >= 1):
            return 1.0
        return self.keep_ratio if keep_ratio is None else keep_ratio

    def forward(self, x: torch.Tensor, num_template: int, global_index: torch.Tensor,
                template_mask: torch.Tensor | None = None, keep_ratio: float | None = None, stream: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """x: (B, L_t + L_s, C) template tokens first. stream: the input stream the tokens come from (this block
        treats all alike; a subclass may apply per-stream adapters). Returns (x, global_index, removed or None)."""
        ratio = self.active_keep_ratio(keep_ratio)
        if ratio >= 1:
            return super().forward(x), global_index, None
        if self.test_time_build():
            return self._forward_kept(x, num_template, global_index, template_mask, ratio)
        attn_out, scores = self.attention_with_scores(self.norm1(x), num_template, template_mask)
        x = x + self.drop_path1(self.ls1(attn_out))
        x, global_index, removed = eliminate_candidates(x, scores, num_template, ratio, global_index)
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x, global_index, removed

    def test_time_build(self) -> bool:
        """Whether to take the test-time paths: set by `skip_eliminated_tokens`, and in eval mode."""
        return self.skip_eliminated and not self.training

    def attention_with_scores(self, x: torch.Tensor, num_template: int, template_mask: torch.Tensor | None
                              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The timm attention forward, plus the search-token scores from the same q and k."""
        q, k, v = self._heads(x)
        return self._attend(q, k, v), search_token_scores(q, k, num_template, template_mask, self.attn.scale)

    def _forward_kept(self, x: torch.Tensor, num_template: int, global_index: torch.Tensor,
                      template_mask: torch.Tensor | None, ratio: float
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The eliminating forward (eval mode: no dropout) with attention outputs and the projection computed for
        the tokens that stay only: the others' results would be dropped right after. Same outputs, fewer FLOPs
        than the official model's (so only the test-time build takes it, not the profiled model)."""
        x, attn_out, global_index, removed = self.kept_attention(x, num_template, global_index, template_mask, ratio)
        x = x + self.drop_path1(self.ls1(attn_out))
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x, global_index, removed

    def kept_attention(self, x: torch.Tensor, num_template: int, global_index: torch.Tensor,
                       template_mask: torch.Tensor | None, ratio: float
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The eliminating attention for the kept tokens alone: (kept tokens of x, their attention outputs after
        the projection, their global index, the removed indices or None)."""
        q, k, v = self._heads(self.norm1(x))
        split = candidate_split(search_token_scores(q, k, num_template, template_mask, self.attn.scale), ratio)
        removed = None
        if split is not None:
            keep, drop = split
            q, x = kept_tokens(q, keep, num_template, dim=2), kept_tokens(x, keep, num_template)
            global_index, removed = global_index.gather(1, keep), global_index.gather(1, drop)
        return x, self._attend(q, k, v), global_index, removed

    def forward_tail(self, x: torch.Tensor, start: int, stop: int | None = None) -> torch.Tensor:
        """The plain block's output for the tokens x[:, start:stop] only (every token still gives keys and
        values): the last block of a tracker whose head reads the search tokens alone needs no more."""
        q, k, v = self._heads(self.norm1(x))
        x = x[:, start:stop] + self.drop_path1(self.ls1(self._attend(q[:, :, start:stop], k, v)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """timm's attention up to the heads: normalised q, k and v, each (B, heads, L, head_dim)."""
        attn: nn.Module = self.attn
        batch, length, _ = x.shape
        qkv = attn.qkv(x).reshape(batch, length, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        return attn.q_norm(q), attn.k_norm(k), v

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """timm's attention from the heads on: attention of q over k / v, merged heads, output projection."""
        attn: nn.Module = self.attn
        return self._project_heads(F.scaled_dot_product_attention(
            q, k, v, dropout_p=attn.attn_drop.p if self.training else 0.0))

    def _project_heads(self, out: torch.Tensor) -> torch.Tensor:
        """timm's attention after the attention itself: heads (B, heads, L, head_dim) merged and projected."""
        attn: nn.Module = self.attn
        out = out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)
        return attn.proj_drop(attn.proj(attn.norm(out)))


def skip_eliminated_tokens(module: nn.Module) -> int:
    """Let every CEBlock inside `module` skip, in eval mode, the attention outputs and projection of the tokens
    it eliminates (test-time build); returns how many blocks."""
    blocks = [m for m in module.modules() if isinstance(m, CEBlock)]
    for block in blocks:
        block.skip_eliminated = True
    return len(blocks)
