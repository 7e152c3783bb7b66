"""The CPU attention's query padding (lib/models/layers/attention.py): same outputs, the kernel sees 768 rows."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lib.models.layers import attention
from lib.models.layers.attention import CPU_LARGE_QUERY_BLOCKS, scaled_dot_product_attention


@pytest.fixture
def kernel_rows(monkeypatch) -> list[int]:
    """The query rows each call of F.scaled_dot_product_attention received."""
    rows: list[int] = []
    kernel = F.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        rows.append(q.shape[-2])
        return kernel(q, k, v, *args, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", spy)
    return rows


def heads(rows: int, keys: int = 300, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(rows)
    return torch.randn(batch, 2, rows, 16), torch.randn(batch, 2, keys, 16), torch.randn(batch, 2, keys, 16)


@pytest.mark.parametrize("with_mask", [False, True])
def test_queries_just_short_of_the_large_blocks_are_padded_with_the_same_outputs(kernel_rows, with_mask):
    q, k, v = heads(720, batch=2)
    mask = (torch.rand(2, 1, 1, 300) < 0.2).logical_not() if with_mask else None
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    kernel_rows.clear()
    with torch.inference_mode():
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert kernel_rows == [CPU_LARGE_QUERY_BLOCKS]
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) <= 1e-6


@pytest.mark.parametrize("rows", [650, CPU_LARGE_QUERY_BLOCKS, 900])
def test_other_query_lengths_go_to_the_kernel_as_they_are(kernel_rows, rows):
    q, k, v = heads(rows)
    with torch.inference_mode():
        scaled_dot_product_attention(q, k, v)
    assert kernel_rows == [rows]


def test_training_calls_are_not_padded(kernel_rows):
    q, k, v = heads(720)
    q.requires_grad_(True)
    scaled_dot_product_attention(q, k, v).sum().backward()
    scaled_dot_product_attention(q.detach(), k, v, dropout_p=0.1)
    assert kernel_rows == [720, 720]
    assert q.grad is not None
