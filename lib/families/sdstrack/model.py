"""The SDSTrack network (Hou et al., CVPR 2024): OSTrack-256-CE shared by an RGB and an auxiliary stream.

Names follow the official `lib/models/sdstrack/vit_ce.py` and `attn_blocks.py`, so released checkpoints load
strictly. Per block the frozen ViT block runs on the RGB stream (no adapters), then on the auxiliary stream (its
adapters), and at the fusion blocks a third time on [rgb ; aux] with each token attending only to the other
modality (fusion adapters). The streams are un-pruned, averaged and normalised before the OSTrack head.
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from lib.config.node import CfgNode
from lib.families.ostrack.model import OSTrack, _check_supported
from lib.models.backbones.layout import ViTLayout
from lib.models.backbones.pretrained import resolve_pretrained_file
from lib.models.backbones.vit import OneStreamViT, vit_variant
from lib.models.heads.center import CenterPredictor
from lib.models.layers.candidate_elimination import CEBlock, eliminate_candidates
from lib.train.staging import load_init_weights

SDSTRACK_LAYOUT = ViTLayout(cls_token="stored", in_chans=6, streams=2)
# 0-based blocks after which the streams are fused (the official `interact`).
FUSION_BLOCKS = (3, 6, 9, 11)
ADAPTER_RATIO = 0.25
# Weight of the MLP adapter next to the MLP (the official `scale`).
MLP_ADAPTER_SCALE = 0.5
RGB, AUX = 0, 1


class Adapter(nn.Module):
    """Linear -> GELU -> Linear bottleneck; with `skip` the input is added back."""

    def __init__(self, dim: int, skip: bool, ratio: float = ADAPTER_RATIO):
        super().__init__()
        self.skip = skip
        self.D_fc1 = nn.Linear(dim, int(dim * ratio))
        self.act = nn.GELU()
        self.D_fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.D_fc2(self.act(self.D_fc1(x)))
        return x + out if self.skip else out


class SymmetricAdapterBlock(CEBlock):
    """A CE ViT block with the auxiliary-stream adapters and the fusion adapters (official attribute order)."""

    def __init__(self, dim: int, num_heads: int, keep_ratio: float = 1.0, **block_kwargs):
        super().__init__(dim, num_heads, keep_ratio, **block_kwargs)
        self.MLP_X_DTE_Adapter = Adapter(dim, skip=False)
        self.Space_X_DTE_Adapter = Adapter(dim, skip=True)
        self.MLP_X_X_DTE_Adapter = Adapter(dim, skip=False)
        self.Space_X_X_DTE_Adapter = Adapter(dim, skip=True)

    def forward(self, x: torch.Tensor, num_template: int, global_index: torch.Tensor,
                template_mask: torch.Tensor | None = None, keep_ratio: float | None = None, stream: int = RGB
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One stream's pass, with candidate elimination in each stream on its own attention (in the test-time
        build, for the kept tokens alone: see CEBlock.kept_attention)."""
        ratio = self.active_keep_ratio(keep_ratio)
        removed = None
        kept_only = ratio < 1 and self.test_time_build()
        if kept_only:
            x, attn_out, global_index, removed = self.kept_attention(x, num_template, global_index, template_mask,
                                                                     ratio)
        elif ratio < 1:
            attn_out, scores = self.attention_with_scores(self.norm1(x), num_template, template_mask)
        else:
            attn_out = self.attend(self.norm1(x))
        if stream == AUX:
            attn_out = self.Space_X_DTE_Adapter(attn_out)
        x = x + self.drop_path1(attn_out)
        if ratio < 1 and not kept_only:
            x, global_index, removed = eliminate_candidates(x, scores, num_template, ratio, global_index)
        return self.mlp_residual(x, self.MLP_X_DTE_Adapter if stream == AUX else None), global_index, removed

    def fuse(self, rgb: torch.Tensor, aux: torch.Tensor, skip: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The fusion pass over [rgb ; aux]: every token attends only to the other modality's tokens.
        skip (test-time build): the first `skip` tokens of each modality come back as given instead of passed
        through, for a last pass whose template rows nobody reads; the other rows are the full pass's."""
        x = torch.cat([rgb, aux], dim=1)
        if self.test_time_build():
            attn_out = self.attend_across(self.norm1(x), rgb.shape[1], skip)
            if skip:
                x = torch.cat([rgb[:, skip:], aux[:, skip:]], dim=1)
        else:
            if skip:
                raise ValueError("fuse(skip=...) is a test-time-build path (eval mode, skip_eliminated_tokens)")
            modality = torch.cat([rgb.new_zeros(rgb.shape[1], dtype=torch.bool),
                                  aux.new_ones(aux.shape[1], dtype=torch.bool)])
            attn_out = self.attend(self.norm1(x), modality[:, None] != modality[None, :])
        x = x + self.drop_path1(self.Space_X_X_DTE_Adapter(attn_out))
        x = self.mlp_residual(x, self.MLP_X_X_DTE_Adapter)
        updated = rgb.shape[1] - skip
        if not skip:
            return x[:, :updated], x[:, updated:]
        return torch.cat([rgb[:, :skip], x[:, :updated]], dim=1), torch.cat([aux[:, :skip], x[:, updated:]], dim=1)

    def mlp_residual(self, x: torch.Tensor, adapter: Adapter | None) -> torch.Tensor:
        """The RGB stream adds the MLP without drop path (as the official block does); adapted passes add the
        MLP and the scaled parallel adapter under drop path."""
        normed = self.norm2(x)
        if adapter is None:
            return x + self.mlp(normed)
        return x + self.drop_path2(self.mlp(normed) + MLP_ADAPTER_SCALE * adapter(normed))

    def attend_across(self, x: torch.Tensor, split: int, skip: int = 0) -> torch.Tensor:
        """attend(x, mask) for the fusion mask, tokens before `split` attending only to those after it and the
        reverse, as two unmasked attentions: half the work of the masked one (the test-time build). skip: leave
        out the queries of the first `skip` tokens of each side (their rows are absent from the result)."""
        q, k, v = self._heads(x)
        first, second = slice(None, split), slice(split, None)
        return self._project_heads(torch.cat([
            F.scaled_dot_product_attention(q[:, :, skip:split], k[:, :, second], v[:, :, second]),
            F.scaled_dot_product_attention(q[:, :, split + skip:], k[:, :, first], v[:, :, first])], dim=2))

    def attend(self, x: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """timm's attention with an optional (L, L) bool mask of the key positions each query may attend."""
        q, k, v = self._heads(x)
        return self._project_heads(F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.attn.attn_drop.p if self.training else 0.0))


class SDSTrackViT(OneStreamViT):
    """The two-stream ViT: fusion passes at FUSION_BLOCKS, optional token dropping for the masked path, and the
    fusion outputs returned as `distill_features`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, layout=SDSTRACK_LAYOUT, block_layer=SymmetricAdapterBlock, **kwargs)
        # Present in the official state_dict but never used by its forward.
        self.pos_embed_z_z_dte = nn.Parameter(torch.zeros(1, 2 * self.num_template_tokens, self.embed_dim))
        self.pos_embed_x_x_dte = nn.Parameter(torch.zeros(1, 2 * self.num_search_tokens, self.embed_dim))
        self._token_keep: dict | None = None
        self._search_only = False
        self._fused: list[torch.Tensor] = []

    def forward(self, z, x, template_mask=None, keep_ratio=None, token_keep: dict | None = None,
                search_only: bool = False, template_tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """As OneStreamBackbone.forward; token_keep maps (stream, "z" | "x") to a (B, L, 1) 0/1 mask multiplied
        onto that crop's patch embeddings before the position embedding (the masked distillation path).
        Adds "distill_features": the [rgb ; aux] output of each fusion pass. In the test-time build a search_only
        forward passes only the search tokens through the last fusion pass (its template rows are its inputs)."""
        self._token_keep, self._fused, self._search_only = token_keep, [], search_only
        try:
            feat, aux = super().forward(z, x, template_mask, keep_ratio, search_only=search_only,
                                        template_tokens=template_tokens)
        finally:
            self._token_keep, self._search_only = None, False
        aux["distill_features"], self._fused = self._fused, []
        return feat, aux

    def patch_tokens(self, image: torch.Tensor, stream: int = RGB) -> torch.Tensor:
        tokens = super().patch_tokens(image, stream)
        if self._token_keep is None:
            return tokens
        crop = "x" if tokens.shape[1] == self.num_search_tokens else "z"
        return tokens * self._token_keep[(stream, crop)]

    def fuse_streams(self, index: int, streams: list[torch.Tensor]) -> list[torch.Tensor]:
        if index not in FUSION_BLOCKS:
            return streams
        block = self.blocks[index]
        last = self._search_only and index == len(self.blocks) - 1 and block.test_time_build()
        skip = self.layout.num_templates * self.num_template_tokens if last else 0
        rgb, aux = block.fuse(streams[RGB], streams[AUX], skip)
        self._fused.append(torch.cat([rgb, aux], dim=1))
        return [rgb, aux]


def complementary_keep_masks(batch: int, lengths: dict[str, int], device: torch.device, p_rgb: float = 0.3,
                             p_aux: float = 0.3) -> dict:
    """Official `apply_mask`: RGB tokens dropped with p_rgb, auxiliary tokens with p_aux only where the RGB token
    was kept, so no position is dropped in both modalities. Returns token_keep for SDSTrackViT.forward."""
    keep = {}
    for crop, length in lengths.items():
        drop_rgb = torch.rand(batch, length, 1, device=device) < p_rgb
        drop_aux = ~drop_rgb & (torch.rand(batch, length, 1, device=device) < p_aux)
        keep[(RGB, crop)], keep[(AUX, crop)] = (~drop_rgb).float(), (~drop_aux).float()
    return keep


class SDSTrack(OSTrack):
    """OSTrack's head on the averaged streams. masked=True runs the complementary-masked path used for
    self-distillation (training); the default is the inference (fine) path."""

    def forward(self, template: torch.Tensor | None, search: torch.Tensor, ce_template_mask: torch.Tensor | None = None,
                ce_keep_rate: float | None = None, masked: bool = False, score_only: bool = False,
                template_tokens: torch.Tensor | None = None) -> dict:
        backbone: SDSTrackViT = self.backbone
        keep = None
        if masked:
            lengths = {"z": backbone.num_template_tokens, "x": backbone.num_search_tokens}
            keep = complementary_keep_masks(search.shape[0], lengths, search.device)
        feat, aux = backbone(template, search, template_mask=ce_template_mask, keep_ratio=ce_keep_rate,
                             token_keep=keep, search_only=score_only, template_tokens=template_tokens)
        return self.outputs(feat, aux, score_only)


def build_sdstrack(cfg: CfgNode, training: bool, pretrained_folder: str | None = None) -> SDSTrack:
    """Build from the config; when training with MODEL.PRETRAIN_FILE set, start from that OSTrack checkpoint
    (`load_ostrack_initialisation`). TRAIN.INIT_FROM, when also set, is loaded afterwards and wins."""
    _check_supported(cfg)
    backbone_cfg = cfg.MODEL.BACKBONE
    spec = vit_variant(backbone_cfg.TYPE)
    backbone = SDSTrackViT(cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE, patch_size=spec.patch_size,
                           embed_dim=spec.embed_dim, depth=spec.depth, num_heads=spec.num_heads,
                           mlp_ratio=spec.mlp_ratio, drop_path_rate=cfg.TRAIN.DROP_PATH_RATE,
                           ce_loc=backbone_cfg.CE_LOC, ce_keep_ratio=backbone_cfg.CE_KEEP_RATIO)
    head = CenterPredictor(inplanes=backbone.embed_dim, channel=cfg.MODEL.HEAD.NUM_CHANNELS,
                           feat_sz=cfg.DATA.SEARCH.SIZE // backbone_cfg.STRIDE, stride=backbone_cfg.STRIDE,
                           score_prior=cfg.MODEL.HEAD.SCORE_PRIOR)
    net = SDSTrack(backbone, head)
    if training and cfg.MODEL.PRETRAIN_FILE:
        load_ostrack_initialisation(net, cfg, pretrained_folder)
    return net


# The official MODEL.PRETRAIN_FILE names a path under the official repository's `./pretrained/` folder; ours is the
# environment's pretrained_networks folder.
_OFFICIAL_FOLDER = "pretrained"


def load_ostrack_initialisation(net: SDSTrack, cfg: CfgNode, folder: str | None = None) -> None:
    """The official initialisation: the whole OSTrack checkpoint MODEL.PRETRAIN_FILE (its 'net' entry) loaded
    non-strictly, so everything but the adapters and the auxiliary patch embedding starts from OSTrack. The file
    is looked up as the official code does, relative to the pre-training folder: './pretrained/a/b.pth.tar' is
    `<folder>/a/b.pth.tar` (folder default: the environment's pretrained_networks); a missing file is one error
    naming the expected path."""
    if folder is None:
        from lib.utils.env import env_settings

        folder = env_settings().pretrained_networks
    name = os.path.normpath(cfg.MODEL.PRETRAIN_FILE)
    if name.startswith(_OFFICIAL_FOLDER + os.sep):
        name = name[len(_OFFICIAL_FOLDER) + 1:]
    path = resolve_pretrained_file(name, folder, switch_off="MODEL.PRETRAIN_FILE '' (then only TRAIN.INIT_FROM "
                                                            "initialises, or nothing)")
    load_init_weights(net, path, cfg.TRAIN.INIT_MIN_MATCH, setting="MODEL.PRETRAIN_FILE")
