"""scaled_dot_product_attention with the CPU kernel's query blocking taken into account.

PyTorch's CPU flash-attention kernel cuts the queries into blocks of 256 rows when there are at least 768 of
them and into blocks of 64 otherwise; the larger blocks make its matrix products faster per row (4 % on a quiet
machine, 15-20 % under load). Each query row attends on its own, so adding rows changes nothing for the others: a
query of 704-767 rows is padded to 768 for the larger blocks (OSTrack-384's 720 tokens: 11.0 -> 10.6 ms per layer
at two threads, quiet) and the padding's outputs are dropped.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CPU_LARGE_QUERY_BLOCKS = 768  # query rows from which the CPU kernel takes 256-row blocks
CPU_PAD_FROM = 704  # below this, padding can cost more than the larger blocks save


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0) -> torch.Tensor:
    """F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p) for (B, heads, L, head_dim) inputs and a mask
    that broadcasts over the query rows; on the CPU at inference, queries of CPU_PAD_FROM to
    CPU_LARGE_QUERY_BLOCKS rows are padded first (see above)."""
    rows = q.shape[-2]
    if not (CPU_PAD_FROM <= rows < CPU_LARGE_QUERY_BLOCKS and q.device.type == "cpu" and q.dtype == torch.float32
            and dropout_p == 0.0 and not (torch.is_grad_enabled() and q.requires_grad)):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
    padded = q.new_empty(*q.shape[:-2], CPU_LARGE_QUERY_BLOCKS, q.shape[-1])
    padded[..., :rows, :] = q
    padded[..., rows:, :] = 0.0  # any finite rows would do: their outputs are dropped
    return F.scaled_dot_product_attention(padded, k, v, attn_mask=attn_mask)[..., :rows, :]
