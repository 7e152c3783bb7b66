"""The shared DETR decoder as an autoregressive decoder: the causal self-attention mask and incremental decoding
with a key/value cache, which must give the outputs of the full masked decoding."""
import pytest
import torch
import torch.nn as nn

from lib.models.transformers.detr import TransformerDecoder, TransformerDecoderLayer, causal_mask

D_MODEL, HEADS, STEPS, BATCH, MEMORY = 32, 4, 5, 2, 7


def decoder(normalize_before: bool, divide_norm: bool) -> TransformerDecoder:
    torch.manual_seed(0)
    layer = TransformerDecoderLayer(D_MODEL, HEADS, dim_feedforward=64, dropout=0.1,
                                    normalize_before=normalize_before, divide_norm=divide_norm)
    return TransformerDecoder(layer, 2, nn.LayerNorm(D_MODEL)).eval()


def inputs():
    g = torch.Generator().manual_seed(1)
    tgt = torch.randn(STEPS, BATCH, D_MODEL, generator=g)
    query_pos = torch.randn(STEPS, BATCH, D_MODEL, generator=g)
    memory = torch.randn(MEMORY, BATCH, D_MODEL, generator=g)
    pos = torch.randn(MEMORY, BATCH, D_MODEL, generator=g)
    return tgt, query_pos, memory, pos


def test_causal_mask():
    assert causal_mask(3).tolist() == [[False, True, True], [False, False, True], [False, False, False]]
    # Two new queries at positions 2 and 3 after two cached positions.
    assert causal_mask(2, past=2).tolist() == [[False, False, False, True], [False, False, False, False]]


@pytest.mark.parametrize("normalize_before, divide_norm", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("chunks", [[1, 1, 1, 1, 1], [2, 3], [1, 3, 1]])
def test_cached_decoding_equals_full_masked_decoding(normalize_before, divide_norm, chunks):
    net = decoder(normalize_before, divide_norm)
    tgt, query_pos, memory, pos = inputs()
    with torch.no_grad():
        full = net(tgt, memory, pos=pos, query_pos=query_pos, tgt_mask=causal_mask(STEPS))
        cache, outputs, start = net.new_cache(), [], 0
        for size in chunks:
            part = slice(start, start + size)
            outputs.append(net(tgt[part], memory, pos=pos, query_pos=query_pos[part], cache=cache))
            start += size
            assert len(cache) == start
    torch.testing.assert_close(torch.cat(outputs), full, rtol=0, atol=1e-5)


def test_the_mask_makes_outputs_independent_of_later_positions():
    net = decoder(False, False)
    tgt, query_pos, memory, pos = inputs()
    changed = tgt.clone()
    changed[3:] += 1.0
    with torch.no_grad():
        masked = [net(t, memory, pos=pos, query_pos=query_pos, tgt_mask=causal_mask(STEPS)) for t in (tgt, changed)]
        unmasked = [net(t, memory, pos=pos, query_pos=query_pos) for t in (tgt, changed)]
    torch.testing.assert_close(masked[0][:3], masked[1][:3], rtol=0, atol=1e-6)
    assert not torch.allclose(unmasked[0][:3], unmasked[1][:3], atol=1e-4)


def test_float_and_bool_masks_agree():
    net = decoder(False, False)
    tgt, query_pos, memory, pos = inputs()
    additive = torch.zeros(STEPS, STEPS).masked_fill(causal_mask(STEPS), float("-inf"))
    with torch.no_grad():
        a = net(tgt, memory, pos=pos, query_pos=query_pos, tgt_mask=causal_mask(STEPS))
        b = net(tgt, memory, pos=pos, query_pos=query_pos, tgt_mask=additive)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_a_cache_refuses_an_extra_mask():
    net = decoder(False, False)
    tgt, query_pos, memory, pos = inputs()
    with pytest.raises(ValueError, match="causal by construction"):
        net(tgt, memory, pos=pos, query_pos=query_pos, tgt_mask=causal_mask(STEPS), cache=net.new_cache())
