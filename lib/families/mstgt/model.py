"""The MSTGT network (capf-2011/MSTGT): HiViT-B `backbone` with the multi-scale prompt (MSVC) and the
spatio-temporal guidance (STE + MSTG) modules, and the OSTrack center `box_head`.

Per search frame the main blocks see [multi-scale prompt (17); spatio-temporal prompt (16); template (64);
search (256)] = 353 tokens at 128/256. The spatio-temporal tokens (STT, the template grid) are carried between
frames by the CALLER: `forward` takes them (None: reset to the template tokens, the official first-frame rule) and
returns their new value as out["stt"], so the network holds no per-sequence state.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Mlp

from lib.config.node import CfgNode, ConfigError
from lib.models.backbones.hivit import HiViT, hivit_variant
from lib.models.backbones.layout import resize_grid_embedding
from lib.models.heads.center import CenterPredictor

PROMPT_SCALES = (18, 16, 14)  # patch sizes of the multi-scale template prompt, in the official token order
PROMPT_POOL = 3  # average pooling of each prompt scale's grid
STT_POOL = 2  # average pooling of the spatio-temporal tokens into the prompt
STE_DILATIONS = 2  # channel groups of the STE attention (the official dilation list [1, 2], whose values go unused)
STE_TRIPLET = 3  # the STE attention attends within triplets of tokens {j, j + N/3, j + 2N/3}


class ScalePatchEmbed(nn.Module):
    """Conv2d with kernel = stride = patch size (the official `PatchEmbed1`, whose norm is an identity)."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class TripletAttention(nn.Module):
    """The STE attention as the official `MultiDilateLocalAttention` computes it: channels split into
    STE_DILATIONS groups of heads; within each, tokens attend only inside triplets {j, j + N/3, j + 2N/3}, and the
    result is read back in the official (interleaving) memory order."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        if length % STE_TRIPLET:
            raise ValueError(f"the STE attention needs a token count divisible by {STE_TRIPLET}, got {length}")
        groups, group_dim = STE_DILATIONS, dim // STE_DILATIONS
        qkv = self.qkv(x).reshape(batch, length, 3, groups, group_dim).permute(3, 2, 0, 4, 1)
        heads = group_dim // self.head_dim
        split = (batch, heads, self.head_dim, STE_TRIPLET, length // STE_TRIPLET)
        outs = []
        for g in range(groups):
            q = qkv[g, 0].reshape(split).permute(0, 1, 4, 3, 2)
            k = qkv[g, 1].reshape(split).permute(0, 1, 4, 2, 3)
            v = qkv[g, 2].reshape(split).permute(0, 1, 4, 3, 2)
            attn = ((q @ k) * self.head_dim ** -0.5).softmax(dim=-1)
            outs.append((attn @ v).transpose(1, 2).reshape(batch, length, group_dim))
        return self.proj(torch.cat(outs, dim=-1))


class STEBlock(nn.Module):
    """Pre-norm residual block: triplet attention + MLP (the official `DilateBlock`, names kept)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, norm_layer):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = TripletAttention(dim, num_heads)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def forward_head(self, x: torch.Tensor, count: int) -> torch.Tensor:
        """forward(x)[:, :count] from the tokens it reads alone. Attention output token t comes from triplet t // 3
        (the interleaving read-back), so the first ceil(count / 3) triplets give it; taken in order they are the
        triplets of their own 3 x ceil(count / 3) sequence, with the same read-back."""
        if x.shape[1] % STE_TRIPLET:
            return self.forward(x)  # which names the token count it cannot split
        third, triplets = x.shape[1] // STE_TRIPLET, -(-count // STE_TRIPLET)
        rows = torch.cat([x[:, i * third:i * third + triplets] for i in range(STE_TRIPLET)], dim=1)
        x = x[:, :count] + self.attn(self.norm1(rows))[:, :count]
        return x + self.mlp(self.norm2(x))


class MSTGTBackbone(HiViT):
    def __init__(self, variant: str, template_size: int, search_size: int, dynamic_size: int,
                 drop_path_rate: float = 0.0):
        spec = hivit_variant(variant)
        dim = spec.embed_dim
        norm_layer = _norm_layer()
        extra = {f"patch_embed{p}": ScalePatchEmbed(3, dim, p) for p in sorted(PROMPT_SCALES)}
        extra.update(STE_norm=norm_layer(dim), STE=STEBlock(dim, spec.num_heads, spec.mlp_ratio, norm_layer),
                     MSVC=nn.Linear(dim, dim, bias=False), MSTG=nn.Linear(dim, dim, bias=False))
        super().__init__(template_size, search_size, embed_dim=dim, depths=spec.depths, num_heads=spec.num_heads,
                         stem_mlp_ratio=spec.stem_mlp_ratio, mlp_ratio=spec.mlp_ratio, patch_size=spec.patch_size,
                         drop_path_rate=drop_path_rate, extra_modules=extra)
        # The official DATA.DYNAMIC crop's table: built and stored (checkpoints hold it), never used.
        self.dynamic_grid = (dynamic_size // spec.patch_size,) * 2
        self.pos_embed_d = nn.Parameter(resize_grid_embedding(self.absolute_pos_embed.detach(), self.dynamic_grid))

    def position_parameter_names(self) -> list[str]:
        return super().position_parameter_names() + ["pos_embed_d"]

    def position_embeddings_from(self, table: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().position_embeddings_from(table)
        if hasattr(self, "dynamic_grid"):
            out["pos_embed_d"] = resize_grid_embedding(out["absolute_pos_embed"].float(),
                                                       self.dynamic_grid).to(table.dtype)
        return out

    def multi_scale_prompt(self, z: torch.Tensor) -> torch.Tensor:
        tokens = [F.avg_pool2d(getattr(self, f"patch_embed{p}")(z), PROMPT_POOL).flatten(2).transpose(1, 2)
                  for p in PROMPT_SCALES]
        return self.MSVC(torch.cat(tokens, dim=1))

    def spatio_temporal_prompt(self, stt: torch.Tensor) -> torch.Tensor:
        grid = stt.transpose(1, 2).reshape(stt.shape[0], stt.shape[2], *self.template_grid)
        return self.MSTG(F.avg_pool2d(grid, STT_POOL).flatten(2).transpose(1, 2))

    def encode_template(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All the network takes from the template crop (B, 3, H, W): the multi-scale prompt (B, 17, C) and the
        template tokens (B, L_t, C). A tracker computes them once per template."""
        return self.multi_scale_prompt(z), self.patch_tokens(z) + self.pos_embed_z

    def forward(self, z: torch.Tensor, searches: list[torch.Tensor], stt: torch.Tensor | None = None
                ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """z: template crop (B, 3, H, W); searches: search crops, each (B, 3, H, W), in the order the STT chain
        runs; stt: (B, L_t, C) carried tokens, None to start from the template tokens.

        Returns per search crop the normalised tokens (B, 17 + 16 + L_t + L_s, C) and the new STT."""
        template = self.encode_template(z)
        x_all = self.patch_tokens(torch.cat(searches)) + self.pos_embed_x
        feats = []
        for x in x_all.chunk(len(searches)):
            feat, stt = self.search_step(template, x, stt)
            feats.append(feat)
        return feats, stt

    def search_step(self, template: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor, stt: torch.Tensor | None,
                    search_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame: `template` from `encode_template`, x the search tokens (B, L_s, C) with their positions,
        stt as in `forward`. Returns the normalised tokens and the new STT.

        search_only (test time): return the search tokens alone (B, L_s, C), computing only what they and the new
        STT need: the STE for its first L_t outputs, the last block's queries, projection and MLP for the search
        tokens."""
        prompt_ms, z_tokens = template
        if stt is None:
            stt = z_tokens
        prompt = torch.cat([prompt_ms, self.spatio_temporal_prompt(stt), z_tokens], dim=1)
        guide_input = self.STE_norm(self.pos_drop(torch.cat([z_tokens, x, stt], dim=1)))
        num_template = self.num_template_tokens
        new_stt = self.STE.forward_head(guide_input, num_template) if search_only \
            else self.STE(guide_input)[:, :num_template]
        tokens = self.pos_drop(torch.cat([prompt, x], dim=1))
        blocks = self.transformer_blocks()
        for block in blocks[:-1] if search_only else blocks:
            tokens = block(tokens, 0, None)[0]
        if search_only:
            tokens = blocks[-1].forward_tail(tokens, prompt.shape[1])
        return self.norm_(tokens), new_stt


def _norm_layer():
    return lambda dim: nn.LayerNorm(dim, eps=1e-6)


class MSTGT(nn.Module):
    def __init__(self, backbone: MSTGTBackbone, box_head: CenterPredictor):
        super().__init__()
        self.backbone = backbone
        self.box_head = box_head
        self.feat_sz_s = box_head.feat_sz
        self.feat_len_s = box_head.feat_sz ** 2

    def forward(self, template: torch.Tensor, search: torch.Tensor | list[torch.Tensor],
                stt: torch.Tensor | None = None) -> dict:
        """template (B, 3, H, W); search: one crop (B, 3, H, W) or a list (training: the STT chain runs over
        them in order); stt: carried spatio-temporal tokens or None (first frame).

        Returns pred_boxes (N*B, 1, 4) normalised cxcywh, score_map (N*B, 1, n, n), size_map, offset_map (crops
        concatenated frame-major, as the official model) and stt, the tokens to carry into the next frame."""
        searches = search if isinstance(search, (list, tuple)) else [search]
        feats, stt = self.backbone(template, list(searches), stt)
        fmap = self.search_map(torch.cat(feats)[:, -self.feat_len_s:])
        return {**self.box_head.predict(fmap), "stt": stt}

    def track(self, template: tuple[torch.Tensor, torch.Tensor], search: torch.Tensor, stt: torch.Tensor | None
              ) -> dict:
        """The tracking step, what a tracker reads of `forward` computed alone: template from
        `backbone.encode_template`, search (B, 3, H, W), stt as in `forward`. Returns score_map, head_input (the
        search feature map for `box_head.box_at_peak`) and stt."""
        backbone = self.backbone
        x = backbone.patch_tokens(search) + backbone.pos_embed_x
        search_tokens, stt = backbone.search_step(template, x, stt, search_only=True)
        fmap = self.search_map(search_tokens)
        return {"score_map": self.box_head.score_map(fmap), "head_input": fmap, "stt": stt}

    def search_map(self, search_tokens: torch.Tensor) -> torch.Tensor:
        """The head input (B, C, n, n) from the search tokens (B, n * n, C)."""
        return search_tokens.transpose(1, 2).reshape(search_tokens.shape[0], -1, self.feat_sz_s, self.feat_sz_s)


def build_mstgt(cfg: CfgNode, training: bool, pretrained_folder: str | None = None) -> MSTGT:
    """Build from the config; when training with MODEL.PRETRAIN_FILE set, load the MAE HiViT pre-training from
    `pretrained_folder` (default: the `pretrained_networks` path of the environment)."""
    from lib.models.backbones.pretrained import load_named_pretraining

    if cfg.MODEL.HEAD.TYPE != "CENTER":
        raise ConfigError(f"MODEL.HEAD.TYPE = {cfg.MODEL.HEAD.TYPE!r} is not supported (only 'CENTER')")
    backbone_cfg = cfg.MODEL.BACKBONE
    try:
        backbone = MSTGTBackbone(backbone_cfg.TYPE, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE,
                                 cfg.DATA.DYNAMIC.SIZE, drop_path_rate=cfg.TRAIN.DROP_PATH_RATE)
    except KeyError as err:
        raise ConfigError(f"MODEL.BACKBONE.TYPE: {err.args[0]}") from None
    if backbone_cfg.STRIDE != backbone.patch_size:
        raise ConfigError(f"MODEL.BACKBONE.STRIDE = {backbone_cfg.STRIDE} differs from the patch size "
                          f"{backbone.patch_size} of '{backbone_cfg.TYPE}'")
    if training and cfg.MODEL.PRETRAIN_FILE:
        load_named_pretraining(backbone, cfg.MODEL.PRETRAIN_FILE, pretrained_folder)
    head = CenterPredictor(inplanes=backbone.embed_dim, channel=cfg.MODEL.HEAD.NUM_CHANNELS,
                           feat_sz=cfg.DATA.SEARCH.SIZE // backbone_cfg.STRIDE, stride=backbone_cfg.STRIDE,
                           size_branch=False)
    return MSTGT(backbone, head)
