"""The SeqTrack network (Chen et al., CVPR 2023; microsoft/VideoX SeqTrack): a one-stream ViT `encoder` over
[search, template1, template2], a `bottleneck` to the decoder width, a causal DETR `decoder` that reads the box as
four tokens, and a `vocab_embed` MLP over the BINS + 2 word vocabulary. Top-level and submodule names are the
official ones, so released `SEQTRACK_ep0500.pth.tar` files load with strict=True.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from lib.config.node import CfgNode, ConfigError
from lib.models.backbones.layout import ViTLayout
from lib.models.backbones.pretrained import load_pretrained_vit, resolve_pretrained_file
from lib.models.backbones.vit import OneStreamViT, build_one_stream_vit
from lib.models.heads.mlp import MLP
from lib.models.transformers.detr import DecoderCache, TransformerDecoder, TransformerDecoderLayer, causal_mask
from lib.utils.profiling import ProfileStep

NUM_COORDINATES = 4
MAE_FILES = {"vit_base_patch16": "mae_pretrain_vit_base.pth", "vit_large_patch16": "mae_pretrain_vit_large.pth"}


def seqtrack_layout(num_templates: int) -> ViTLayout:
    """Search first, then the templates; one learnable table [search grid, template grid] shared by all templates,
    resized from the pre-training grid with align_corners=True; no cls token."""
    return ViTLayout(num_templates=num_templates, search_first=True, pos_embed="joint", pos_align_corners=True)


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """(1, length, dim) 1-D sinusoid positions: sin on even, cos on odd dimensions (the memory's initial code)."""
    position = np.arange(length)[:, None]
    angle = position / np.power(10000, 2 * (np.arange(dim) // 2) / dim)
    angle[:, 0::2], angle[:, 1::2] = np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])
    return torch.from_numpy(angle).float().unsqueeze(0)


class Encoder(nn.Module):
    """The official `encoder` wrapper: the ViT under `body`; returns [tokens] as the official encoder does."""

    def __init__(self, body: OneStreamViT):
        super().__init__()
        self.body = body
        self.num_channels = body.embed_dim

    def forward(self, images_list: list[torch.Tensor], search_only: bool = False,
                template_tokens: torch.Tensor | None = None) -> list[torch.Tensor]:
        """images_list: the templates, then the search crop (B, 3, H, W) each -> [(B, L_x + N_t * L_z, C)].
        search_only (test time, where the decoder reads the search tokens alone): [(B, L_x, C)], the last block
        computing no more. template_tokens: the templates' `body.embed_templates`, computed before; images_list
        then holds the search crop alone."""
        *templates, search = images_list
        return [self.body(templates or None, search, search_only=search_only, template_tokens=template_tokens)[0]]


class DecoderEmbeddings(nn.Module):
    """Word embeddings (LayerNorm, dropout) of the tokens; the learned position table is read by the decoder as
    its query positions, never added to the words."""

    def __init__(self, vocab_size: int, hidden_dim: int, max_positions: int, dropout: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_dim)
        self.position_embeddings = nn.Embedding(max_positions, hidden_dim)
        self.LayerNorm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.LayerNorm(self.word_embeddings(seq)))


class SeqTrackDecoder(nn.Module):
    def __init__(self, d_model: int, nhead: int, num_layers: int, dim_feedforward: int, dropout: float,
                 normalize_before: bool, bins: int, num_frames: int = 1):
        super().__init__()
        self.bins = bins
        self.embedding = DecoderEmbeddings(bins + 2, d_model, (NUM_COORDINATES + 1) * num_frames, dropout)
        layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, "relu", normalize_before)
        self.body = TransformerDecoder(layer, num_layers, nn.LayerNorm(d_model))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def query_positions(self, start: int, length: int, batch: int) -> torch.Tensor:
        # repeat, not expand: a view of a parameter made under no_grad still claims to require grad, which
        # torch's FLOP counter trips over when it reaches a submodule
        return self.embedding.position_embeddings.weight[start:start + length].unsqueeze(1).repeat(1, batch, 1)

    def forward(self, memory: torch.Tensor, pos: torch.Tensor, seq: torch.Tensor,
                cache: DecoderCache | None = None) -> torch.Tensor:
        """memory, pos (S, B, C); seq (B, L) tokens -> (1, B, L', C): every position under the causal mask, or
        with a cache (`body.new_cache()`) only the L' positions after those it holds, which it then holds too."""
        past = 0 if cache is None else len(cache)
        tgt = self.embedding(seq[:, past:]).permute(1, 0, 2)
        mask = None if cache is not None else causal_mask(len(tgt), device=tgt.device)
        hs = self.body(tgt, memory, pos=pos, query_pos=self.query_positions(past, len(tgt), seq.shape[0]),
                       tgt_mask=mask, cache=cache)
        return hs.unsqueeze(0).transpose(1, 2)


def select_coordinate(probs: torch.Tensor, step: int, bins: int, window: torch.Tensor | None,
                      center_steps: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy choice of one coordinate token: (B, 1) token, (B, 1) its probability (windowed on centre steps).
    Only the BINS coordinate tokens compete (END/START are dropped after the softmax over the whole vocabulary)."""
    probs = probs[:, :bins]
    if window is not None and step in center_steps:
        probs = probs * window
    confidence, token = probs.topk(dim=-1, k=1)
    return token, confidence


class SEQTRACK(nn.Module):
    def __init__(self, encoder: Encoder, decoder: SeqTrackDecoder, hidden_dim: int, bins: int,
                 num_frames: int = 1):
        super().__init__()
        self.encoder = encoder
        self.num_patch_x = encoder.body.num_search_tokens
        self.hidden_dim = hidden_dim
        self.bins = bins
        self.bottleneck = nn.Linear(encoder.num_channels, hidden_dim)
        self.decoder = decoder
        self.vocab_embed = MLP(hidden_dim, hidden_dim, bins + 2, 3)
        self.num_frames = num_frames
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patch_x * num_frames, hidden_dim))
        with torch.no_grad():  # (a copy, so the table follows a device context such as meta)
            self.pos_embed.copy_(sinusoid_table(self.num_patch_x * num_frames, hidden_dim))

    def forward(self, images_list: list[torch.Tensor] | None = None, xz: list[torch.Tensor] | None = None,
                seq: torch.Tensor | None = None, mode: str = "encoder"):
        """The official entry: mode 'encoder' (images_list: templates then search) or 'decoder' (xz, seq)."""
        if mode == "encoder":
            return self.forward_encoder(images_list)
        if mode == "decoder":
            return self.forward_decoder(xz, seq)
        raise ValueError(f"mode must be 'encoder' or 'decoder', got {mode!r}")

    def forward_encoder(self, images_list: list[torch.Tensor], search_only: bool = False,
                        template_tokens: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.encoder(images_list, search_only, template_tokens)

    def memory(self, xz: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder memory (S, B, C): the search tokens through the bottleneck; and its positions (S, B, C)."""
        mem = xz[-1][:, :self.num_patch_x * self.num_frames]
        if mem.shape[-1] != self.hidden_dim:
            mem = self.bottleneck(mem)
        mem = mem.permute(1, 0, 2)
        return mem, self.pos_embed[:, :len(mem)].permute(1, 0, 2).repeat(1, mem.shape[1], 1)  # (see query_positions)

    def forward_decoder(self, xz: list[torch.Tensor], seq: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (1, B, L, BINS + 2) of every position of `seq` (B, L)."""
        memory, pos = self.memory(xz)
        return self.vocab_embed(self.decoder(memory, pos, seq))

    def inference_decoder(self, xz: list[torch.Tensor], sequence: torch.Tensor, window: torch.Tensor | None = None,
                          seq_format: str = "xywh", use_cache: bool = True) -> dict[str, torch.Tensor]:
        """Four greedy steps from `sequence` ([START], (B, 1)): pred_boxes (B, 4) tokens, confidence (B, 4).

        use_cache keeps each decoder layer's self-attention keys and values, so a step decodes only the new token;
        False re-runs the whole prefix every step as the official code does (same tokens and probabilities).
        """
        memory, pos = self.memory(xz)
        center_steps = (2, 3) if seq_format == "whxy" else (0, 1)
        cache = self.decoder.body.new_cache() if use_cache else None
        seq, confidences = sequence, []
        for step in range(NUM_COORDINATES):
            hs = self.decoder(memory, pos, seq, cache)
            probs = self.vocab_embed(hs[0, :, -1]).softmax(-1)
            token, confidence = select_coordinate(probs, step, self.bins, window, center_steps)
            seq = torch.cat([seq, token], dim=-1)
            confidences.append(confidence)
        return {"pred_boxes": seq[:, -NUM_COORDINATES:], "confidence": torch.cat(confidences, dim=-1)}


def hann_window(bins: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, bins) float64 `np.hanning(bins)`, as the official tracker multiplies the centre probabilities by it."""
    return torch.tensor(np.hanning(bins), device=device).unsqueeze(0)


def _check_supported(cfg: CfgNode) -> None:
    model = cfg.MODEL
    fixed = {"MODEL.FEATURE_TYPE": (model.FEATURE_TYPE, "x"), "DATA.SEARCH.NUMBER": (cfg.DATA.SEARCH.NUMBER, 1),
             "MODEL.ENCODER.USE_CHECKPOINT": (model.ENCODER.USE_CHECKPOINT, False)}
    for key, (value, supported) in fixed.items():
        if value != supported:
            raise ConfigError(f"{key} = {value!r} is not supported (only {supported!r}, as in the released models)")
    if model.ENCODER.PRETRAIN_TYPE not in ("mae", "scratch"):
        raise ConfigError(f"MODEL.ENCODER.PRETRAIN_TYPE = {model.ENCODER.PRETRAIN_TYPE!r} is not supported; "
                          f"valid: 'mae', 'scratch'")
    if cfg.DATA.SEQ_FORMAT not in ("xywh", "corner", "whxy"):
        raise ConfigError(f"DATA.SEQ_FORMAT = {cfg.DATA.SEQ_FORMAT!r}; valid: 'xywh', 'corner', 'whxy'")


def pretrained_file(cfg: CfgNode) -> str | None:
    """The MAE file the official builder downloads for MODEL.ENCODER.TYPE, or None (scratch / no MAE file)."""
    encoder = cfg.MODEL.ENCODER
    if encoder.PRETRAIN_TYPE != "mae":
        return None
    if encoder.TYPE not in MAE_FILES:
        raise ConfigError(f"MODEL.ENCODER.PRETRAIN_TYPE 'mae' has no pre-trained file for MODEL.ENCODER.TYPE "
                          f"{encoder.TYPE!r} (known: {', '.join(MAE_FILES)}); set PRETRAIN_TYPE 'scratch'")
    return MAE_FILES[encoder.TYPE]


def freeze_encoder(body: OneStreamViT, cfg: CfgNode) -> None:
    """The official rule: unless the encoder trains (ENCODER_MULTIPLIER > 0 and not FREEZE_ENCODER), freeze it
    except TRAIN.ENCODER_OPEN: its first two entries are exact parameter names, the rest parts of names."""
    train = cfg.TRAIN
    if train.ENCODER_MULTIPLIER > 0 and not train.FREEZE_ENCODER:
        return
    names, parts = list(train.ENCODER_OPEN[:2]), list(train.ENCODER_OPEN[2:])
    for name, parameter in body.named_parameters():
        if name not in names and not any(part in name for part in parts):
            parameter.requires_grad_(False)


def build_seqtrack(cfg: CfgNode, training: bool, pretrained_folder: str | None = None) -> SEQTRACK:
    """Build from the config; when training with MAE pre-training, load it from `pretrained_folder` (default: the
    `pretrained_networks` path of the environment)."""
    _check_supported(cfg)
    model = cfg.MODEL
    body = build_one_stream_vit(model.ENCODER.TYPE, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE,
                                drop_path_rate=model.ENCODER.DROP_PATH,
                                layout=seqtrack_layout(cfg.DATA.TEMPLATE.NUMBER))
    if model.ENCODER.STRIDE != body.patch_size:
        raise ConfigError(f"MODEL.ENCODER.STRIDE = {model.ENCODER.STRIDE} differs from the patch size "
                          f"{body.patch_size} of '{model.ENCODER.TYPE}'")
    name = pretrained_file(cfg)
    if training and name:
        if pretrained_folder is None:
            from lib.utils.env import env_settings

            pretrained_folder = env_settings().pretrained_networks
        load_pretrained_vit(body, resolve_pretrained_file(name, pretrained_folder,
                                                          switch_off="MODEL.ENCODER.PRETRAIN_TYPE 'scratch'"))
    freeze_encoder(body, cfg)
    decoder = SeqTrackDecoder(model.HIDDEN_DIM, model.DECODER.NHEADS, model.DECODER.DEC_LAYERS,
                              model.DECODER.DIM_FEEDFORWARD, model.DECODER.DROPOUT, model.DECODER.PRE_NORM,
                              model.BINS, cfg.DATA.SEARCH.NUMBER)
    return SEQTRACK(Encoder(body), decoder, model.HIDDEN_DIM, model.BINS, cfg.DATA.SEARCH.NUMBER)


def dummy_inputs(cfg: CfgNode, device: torch.device | str):
    """One tracking step as the official profile counts it: the encoder on [z, z, x] at the TEST sizes, then one
    decoder pass on [START] (tracking runs four such passes)."""
    from lib.utils.profiling import count_multihead_attention

    def steps(model: SEQTRACK) -> list[ProfileStep]:
        template = torch.randn(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, device=device)
        search = torch.randn(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, device=device)
        images = [template] * cfg.DATA.TEMPLATE.NUMBER + [search]
        with torch.no_grad():
            xz = model.forward_encoder(images)
        start = torch.full((1, 1), model.bins + 1, dtype=torch.long, device=device)
        rules = {nn.MultiheadAttention: count_multihead_attention}
        return [ProfileStep("encoder", model, kwargs={"images_list": images, "mode": "encoder"}, thop_rules=rules),
                ProfileStep("decoder", model, kwargs={"xz": xz, "seq": start, "mode": "decoder"}, thop_rules=rules)]

    return steps
