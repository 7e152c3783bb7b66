"""DETR-style transformer encoder-decoder with positions added to queries and keys in every attention.

Follows the DETR design (Carion et al. 2020, facebookresearch/detr `models/transformer.py`) as used by the
DETR-based trackers: sequence-first tensors (L, B, C), `nn.MultiheadAttention` (packed `in_proj_*` keys),
post-norm by default, no final encoder norm in post-norm mode, a final decoder LayerNorm, decoder input = zeros
with the object queries as positions, and optional cosine ("divide norm") attention. Submodule names match those
checkpoints.

The decoder also serves autoregressive decoders (SeqTrack): `tgt_mask` masks its self-attention (`causal_mask`), and a
`DecoderCache` lets it decode a few positions at a time, each layer keeping the self-attention key and value inputs
of the positions already decoded, so earlier positions are not recomputed. Cached decoding is causal by
construction and gives the outputs of a full decoding under the causal mask.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "glu": F.glu}


def _activation(name: str):
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; valid: {', '.join(sorted(_ACTIVATIONS))}") from None


def _with_pos(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


def causal_mask(length: int, past: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    """(length, past + length) bool mask, True where query i (at position past + i) may not see key j > past + i."""
    keys = torch.arange(past + length, device=device)
    queries = torch.arange(past, past + length, device=device)
    return keys.unsqueeze(0) > queries.unsqueeze(1)


@dataclass
class LayerCache:
    """One decoder layer's self-attention key input (positions and cosine scaling applied) and value input,
    (L_decoded, B, C)."""
    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[0]


@dataclass
class DecoderCache:
    layers: list[LayerCache] = field(default_factory=list)

    def __len__(self) -> int:
        """Positions decoded so far."""
        return len(self.layers[0]) if self.layers else 0


def _attention(attn: nn.MultiheadAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               attn_mask: torch.Tensor | None, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
    """Attention output only: without the averaged weights, MultiheadAttention runs the fused
    scaled_dot_product_attention kernel instead of materialising softmax(QK^T) and averaging it over heads."""
    return attn(q, k, v, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]


class _CosineScale:
    """With divide_norm, queries and keys are L2-normalised and queries rescaled by sqrt(d_head), so attention
    logits are cosine similarities (bounded, which kept early training from producing NaNs)."""

    def __init__(self, d_model: int, nhead: int, enabled: bool):
        self.enabled = enabled
        self.scale = float(d_model // nhead) ** 0.5

    def __call__(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.enabled:
            return q, k
        return q / q.norm(dim=-1, keepdim=True) * self.scale, k / k.norm(dim=-1, keepdim=True)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", normalize_before: bool = False, divide_norm: bool = False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.normalize_before = normalize_before
        self.cosine = _CosineScale(d_model, nhead, divide_norm)

    def _attend(self, x: torch.Tensor, pos: torch.Tensor | None, key_padding_mask: torch.Tensor | None,
                attn_mask: torch.Tensor | None) -> torch.Tensor:
        with_pos = _with_pos(x, pos)
        q, k = self.cosine(with_pos, with_pos)
        return self.dropout1(_attention(self.self_attn, q, k, x, attn_mask, key_padding_mask))

    def _feedforward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None,
                src_key_padding_mask: torch.Tensor | None = None, pos: torch.Tensor | None = None) -> torch.Tensor:
        if self.normalize_before:
            src = src + self._attend(self.norm1(src), pos, src_key_padding_mask, src_mask)
            return src + self._feedforward(self.norm2(src))
        src = self.norm1(src + self._attend(src, pos, src_key_padding_mask, src_mask))
        return self.norm2(src + self._feedforward(src))


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", normalize_before: bool = False, divide_norm: bool = False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.normalize_before = normalize_before
        self.cosine = _CosineScale(d_model, nhead, divide_norm)

    def _self_attend(self, x: torch.Tensor, query_pos: torch.Tensor | None, attn_mask: torch.Tensor | None,
                     key_padding_mask: torch.Tensor | None, cache: LayerCache | None) -> torch.Tensor:
        with_pos = _with_pos(x, query_pos)
        q, k = self.cosine(with_pos, with_pos)
        v = x
        if cache is not None:
            if attn_mask is not None or key_padding_mask is not None:
                raise ValueError("cached decoding is causal by construction; pass no tgt_mask or padding mask")
            past = len(cache)
            if past:
                k, v = torch.cat([cache.keys, k]), torch.cat([cache.values, v])
            cache.keys, cache.values = k, v
            attn_mask = causal_mask(q.shape[0], past, q.device) if q.shape[0] > 1 else None
        return self.dropout1(_attention(self.self_attn, q, k, v, attn_mask, key_padding_mask))

    def _cross_attend(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor | None,
                      query_pos: torch.Tensor | None, attn_mask: torch.Tensor | None,
                      key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        q, k = self.cosine(_with_pos(x, query_pos), _with_pos(memory, pos))
        return self.dropout2(_attention(self.multihead_attn, q, k, memory, attn_mask, key_padding_mask))

    def _feedforward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, tgt_key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None, pos: torch.Tensor | None = None,
                query_pos: torch.Tensor | None = None, cache: LayerCache | None = None) -> torch.Tensor:
        """tgt, query_pos: (L, B, C) positions to decode (with a cache: the new ones after those it holds)."""
        if self.normalize_before:
            tgt = tgt + self._self_attend(self.norm1(tgt), query_pos, tgt_mask, tgt_key_padding_mask, cache)
            tgt = tgt + self._cross_attend(self.norm2(tgt), memory, pos, query_pos, memory_mask,
                                           memory_key_padding_mask)
            return tgt + self._feedforward(self.norm3(tgt))
        tgt = self.norm1(tgt + self._self_attend(tgt, query_pos, tgt_mask, tgt_key_padding_mask, cache))
        tgt = self.norm2(tgt + self._cross_attend(tgt, memory, pos, query_pos, memory_mask,
                                                  memory_key_padding_mask))
        return self.norm3(tgt + self._feedforward(tgt))


def _clones(module: nn.Module, n: int) -> nn.ModuleList:
    return nn.ModuleList(copy.deepcopy(module) for _ in range(n))


class TransformerEncoder(nn.Module):
    def __init__(self, encoder_layer: nn.Module, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None,
                src_key_padding_mask: torch.Tensor | None = None, pos: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, src_mask=mask, src_key_padding_mask=src_key_padding_mask, pos=pos)
        return src if self.norm is None else self.norm(src)


class TransformerDecoder(nn.Module):
    def __init__(self, decoder_layer: nn.Module, num_layers: int, norm: nn.Module):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def new_cache(self) -> DecoderCache:
        return DecoderCache([LayerCache() for _ in self.layers])

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, memory_key_padding_mask: torch.Tensor | None = None,
                pos: torch.Tensor | None = None, query_pos: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None, cache: DecoderCache | None = None) -> torch.Tensor:
        """tgt, query_pos (L, B, C); memory, pos (S, B, C). tgt_mask (L, L): self-attention mask (True or -inf
        where a query may not look; `causal_mask(L)` for autoregressive decoding). cache: decode only the given new
        positions after those already in the cache (from `new_cache()`), which it then holds too."""
        for i, layer in enumerate(self.layers):
            tgt = layer(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=memory_key_padding_mask, pos=pos,
                        query_pos=query_pos, cache=None if cache is None else cache.layers[i])
        return self.norm(tgt)


class Transformer(nn.Module):
    """Encoder over the concatenated feature tokens, then a decoder for the object queries.

    num_encoder_layers / num_decoder_layers may be 0: the encoder then passes features through, and the decoder
    output is the query embedding itself.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str = "relu",
                 normalize_before: bool = False, divide_norm: bool = False):
        super().__init__()
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, normalize_before, divide_norm)
        self.encoder = None
        if num_encoder_layers > 0:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args), num_encoder_layers,
                                              nn.LayerNorm(d_model) if normalize_before else None)
        self.decoder = None
        if num_decoder_layers > 0:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args), num_decoder_layers,
                                              nn.LayerNorm(d_model))
        self.d_model = d_model
        self.nhead = nhead
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, feat: torch.Tensor, mask: torch.Tensor | None, pos: torch.Tensor | None) -> torch.Tensor:
        """feat, pos (L, B, C); mask (B, L) True on padding -> memory (L, B, C)."""
        if self.encoder is None:
            return feat
        return self.encoder(feat, src_key_padding_mask=mask, pos=pos)

    def decode(self, memory: torch.Tensor, mask: torch.Tensor | None, query_embed: torch.Tensor,
               pos: torch.Tensor | None) -> torch.Tensor:
        """query_embed (N, C) or (N, B, C) -> decoder output (1, B, N, C)."""
        if query_embed.dim() == 2:
            query_embed = query_embed.unsqueeze(1).repeat(1, memory.shape[1], 1)
        if self.decoder is None:
            return query_embed.unsqueeze(0).transpose(1, 2)
        hs = self.decoder(torch.zeros_like(query_embed), memory, memory_key_padding_mask=mask, pos=pos,
                          query_pos=query_embed)
        return hs.unsqueeze(0).transpose(1, 2)

    def forward(self, feat: torch.Tensor, mask: torch.Tensor | None, query_embed: torch.Tensor,
                pos: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (decoder output (1, B, N, C), encoder memory (L, B, C))."""
        memory = self.encode(feat, mask, pos)
        return self.decode(memory, mask, query_embed, pos), memory
