"""STARK-S / STARK-ST networks: thin wrappers over the shared blocks with the official top-level names
(`backbone`, `transformer`, `box_head`, `query_embed`, `bottleneck`, and `cls_head` for ST)."""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import CfgNode, ConfigError
from lib.models.backbones.resnet import STAGES, STEM, BackboneWithPosition, ResNetBackbone, imagenet_state_dict
from lib.models.heads.corner import CornerPredictor, query_weighted_features
from lib.models.heads.mlp import MLP
from lib.models.layers.position_encoding import PositionEmbeddingSine
from lib.models.transformers.detr import Transformer
from lib.utils.box_ops import box_xyxy_to_cxcywh

TokenDict = dict[str, torch.Tensor]


def merge_tokens(token_dicts: list[TokenDict]) -> TokenDict:
    """Concatenate per-crop token dicts along the token axis; the search region must come last."""
    return {"feat": torch.cat([d["feat"] for d in token_dicts], dim=0),
            "mask": torch.cat([d["mask"] for d in token_dicts], dim=1),
            "pos": torch.cat([d["pos"] for d in token_dicts], dim=0)}


class STARKS(nn.Module):
    """Backbone per crop -> concatenated tokens (templates first, search last) -> encoder-decoder -> corner head.

    Outputs: `pred_boxes` (B, N, 4) as normalised (cx, cy, w, h) in the search crop.
    """

    def __init__(self, backbone: BackboneWithPosition, transformer: Transformer, box_head: CornerPredictor,
                 num_queries: int):
        super().__init__()
        self.backbone = backbone
        self.transformer = transformer
        self.box_head = box_head
        self.num_queries = num_queries
        hidden_dim = transformer.d_model
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.bottleneck = nn.Conv2d(backbone.num_channels, hidden_dim, kernel_size=1)
        self.feat_sz_s = box_head.feat_sz
        self.feat_len_s = box_head.feat_sz ** 2

    def forward(self, img: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                seq_dict: TokenDict | None = None, mode: str = "backbone", run_box_head: bool = True,
                run_cls_head: bool = False):
        """mode 'backbone': tokens of one crop (img, mask); 'transformer': heads on merged tokens `seq_dict`;
        'track': one tracking step, the search crop (img, mask) after the pre-encoded templates `seq_dict`."""
        if mode == "backbone":
            return self.forward_backbone(img, mask)
        if mode == "transformer":
            return self.forward_transformer(seq_dict, run_box_head, run_cls_head)
        if mode == "track":
            return self.forward_transformer(merge_tokens([seq_dict, self.forward_backbone(img, mask)]),
                                            run_box_head, run_cls_head)
        raise ValueError(f"unknown mode '{mode}'; valid: backbone, transformer, track")

    def forward_backbone(self, img: torch.Tensor, mask: torch.Tensor) -> TokenDict:
        """img (B, 3, H, W), mask (B, H, W) True on padding -> tokens {feat, pos: (hw, B, C), mask: (B, hw)}."""
        feat, small_mask, pos = self.backbone(img, mask)
        feat = self.bottleneck(feat)
        return {"feat": feat.flatten(2).permute(2, 0, 1), "mask": small_mask.flatten(1),
                "pos": pos.flatten(2).permute(2, 0, 1)}

    def forward_transformer(self, seq_dict: TokenDict, run_box_head: bool = True, run_cls_head: bool = False):
        """-> (outputs dict, boxes (B, N, 4) or None, decoder output (1, B, N, C))."""
        hs, memory = self.transformer(seq_dict["feat"], seq_dict["mask"], self.query_embed.weight, seq_dict["pos"])
        out: dict[str, torch.Tensor] = {}
        if run_cls_head:
            out["pred_logits"] = self.score_logits(hs)
        boxes = None
        if run_box_head:
            boxes = self.forward_box_head(hs, memory)
            out["pred_boxes"] = boxes
        return out, boxes, hs

    def forward_box_head(self, hs: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        fused = query_weighted_features(memory[-self.feat_len_s:], hs, self.feat_sz_s)
        return box_xyxy_to_cxcywh(self.box_head(fused)).view(hs.shape[1], hs.shape[2], 4)

    def score_logits(self, hs: torch.Tensor) -> torch.Tensor:
        raise ValueError(f"{type(self).__name__} has no score head (run_cls_head needs STARK-ST)")


class STARKST(STARKS):
    """STARK-S plus a score head on the decoder output: `pred_logits` (B, N, 1), the logit that the search region
    contains the target (decides the dynamic-template update at test time)."""

    def __init__(self, backbone: BackboneWithPosition, transformer: Transformer, box_head: CornerPredictor,
                 num_queries: int, cls_head: MLP):
        super().__init__(backbone, transformer, box_head, num_queries)
        self.cls_head = cls_head

    def score_logits(self, hs: torch.Tensor) -> torch.Tensor:
        return self.cls_head(hs)[-1]


def _choice(value: str, valid: tuple[str, ...], key: str) -> None:
    if value not in valid:
        raise ConfigError(f"{key} = {value!r} is not supported; valid: {', '.join(valid)}")


def _backbone_trainable(cfg: CfgNode, kept: tuple[str, ...]) -> tuple[str, ...]:
    """Backbone modules that train: none when BACKBONE_MULTIPLIER <= 0, else all but TRAIN.FREEZE_LAYERS."""
    frozen = set(cfg.TRAIN.FREEZE_LAYERS)
    unknown = sorted(frozen - set(kept))
    if unknown:
        raise ConfigError(f"TRAIN.FREEZE_LAYERS: {unknown} not in the backbone (modules: {', '.join(kept)})")
    if cfg.TRAIN.BACKBONE_MULTIPLIER <= 0:
        return ()
    if "conv1" in frozen:
        frozen.add("bn1")
    return tuple(name for name in kept if name not in frozen)


def check_supported(cfg: CfgNode) -> None:
    model = cfg.MODEL
    _choice(model.HEAD_TYPE, ("CORNER",), "MODEL.HEAD_TYPE")
    _choice(model.POSITION_EMBEDDING, ("sine",), "MODEL.POSITION_EMBEDDING")
    if model.PREDICT_MASK:
        raise ConfigError("MODEL.PREDICT_MASK: true is not supported (no mask head)")
    if cfg.TRAIN.DEEP_SUPERVISION:
        raise ConfigError("TRAIN.DEEP_SUPERVISION: true is not supported (the official model rejects it too)")
    if len(model.BACKBONE.OUTPUT_LAYERS) != 1:
        raise ConfigError(f"MODEL.BACKBONE.OUTPUT_LAYERS must name one stage, got {model.BACKBONE.OUTPUT_LAYERS}")
    _choice(model.BACKBONE.OUTPUT_LAYERS[0], STAGES[:3], "MODEL.BACKBONE.OUTPUT_LAYERS[0]")


def build_backbone(cfg: CfgNode, training: bool, backbone_type: str | None = None) -> BackboneWithPosition:
    """The ResNet of MODEL.BACKBONE (`backbone_type` overrides MODEL.BACKBONE.TYPE) with the sine encoding."""
    from lib.utils.env import env_settings

    model = cfg.MODEL
    backbone_type = backbone_type or model.BACKBONE.TYPE
    last_layer = model.BACKBONE.OUTPUT_LAYERS[0]
    kept = STEM + STAGES[:STAGES.index(last_layer) + 1]
    pretrained = None
    if training and model.BACKBONE.PRETRAINED:
        pretrained = imagenet_state_dict(backbone_type, env_settings().pretrained_networks)
    try:
        resnet = ResNetBackbone(backbone_type, last_layer=last_layer, dilation=model.BACKBONE.DILATION,
                                frozen_bn=cfg.TRAIN.FREEZE_BACKBONE_BN, trainable=_backbone_trainable(cfg, kept),
                                pretrained=pretrained)
    except ValueError as e:
        raise ConfigError(f"MODEL.BACKBONE: {e}") from None
    if "STRIDE" in model.BACKBONE and model.BACKBONE.STRIDE != resnet.stride:
        raise ConfigError(f"MODEL.BACKBONE.STRIDE = {model.BACKBONE.STRIDE}, but the backbone "
                          f"({backbone_type} up to {last_layer}, dilation {model.BACKBONE.DILATION}) "
                          f"has stride {resnet.stride}")
    return BackboneWithPosition(resnet, PositionEmbeddingSine(model.HIDDEN_DIM // 2, normalize=True))


def build_transformer(cfg: CfgNode) -> Transformer:
    """The DETR encoder-decoder of MODEL.TRANSFORMER at width MODEL.HIDDEN_DIM."""
    model = cfg.MODEL
    return Transformer(d_model=model.HIDDEN_DIM, nhead=model.TRANSFORMER.NHEADS,
                       num_encoder_layers=model.TRANSFORMER.ENC_LAYERS,
                       num_decoder_layers=model.TRANSFORMER.DEC_LAYERS,
                       dim_feedforward=model.TRANSFORMER.DIM_FEEDFORWARD,
                       dropout=model.TRANSFORMER.DROPOUT, normalize_before=model.TRANSFORMER.PRE_NORM,
                       divide_norm=model.TRANSFORMER.DIVIDE_NORM)


def build_box_head(cfg: CfgNode, stride: int) -> CornerPredictor:
    """The corner head over the search-region grid (DATA.SEARCH.SIZE / `stride`)."""
    if cfg.DATA.SEARCH.SIZE % stride:
        raise ConfigError(f"DATA.SEARCH.SIZE = {cfg.DATA.SEARCH.SIZE} is not a multiple of the backbone stride "
                          f"{stride}")
    return CornerPredictor(inplanes=cfg.MODEL.HIDDEN_DIM, channel=cfg.MODEL.HEAD_DIM,
                           feat_sz=cfg.DATA.SEARCH.SIZE // stride, stride=stride)


def build_model(cfg: CfgNode, training: bool) -> STARKS:
    """STARKS for stark_s configs, STARKST when the config has a score head (MODEL.NLAYER_HEAD)."""
    check_supported(cfg)
    model = cfg.MODEL
    backbone = build_backbone(cfg, training)
    transformer = build_transformer(cfg)  # built before the head: the same random initialisation as before
    box_head = build_box_head(cfg, backbone[0].stride)
    if "NLAYER_HEAD" not in model:
        return STARKS(backbone, transformer, box_head, model.NUM_OBJECT_QUERIES)
    cls_head = MLP(model.HIDDEN_DIM, model.HIDDEN_DIM, 1, model.NLAYER_HEAD)
    return STARKST(backbone, transformer, box_head, model.NUM_OBJECT_QUERIES, cls_head)


def attention_macs(module: nn.MultiheadAttention, inputs: tuple, output: object) -> None:
    """thop rule of the official STARK profile_model: Q projection (Lq), K and V projections (Lk each) and the two
    attention products (2 * Lq * Lk * d, not multiplied by the batch); the output projection is not counted."""
    query, key = inputs[0], inputs[1]
    len_q, batch, dim_in = query.shape
    len_k = key.shape[0]
    dim = module.embed_dim
    macs = dim_in * dim * len_q * batch + 2 * dim_in * dim * len_k * batch + 2 * len_q * len_k * dim
    module.total_ops += torch.tensor([float(macs)], dtype=torch.float64)


def dummy_inputs(cfg: CfgNode, device: str | torch.device):
    """One tracking step at test sizes, batch 1, as the official profile_model measures it: the templates
    (DATA.TEMPLATE.NUMBER of them) are encoded beforehand; the step is the backbone on the search crop, then the
    transformer and heads on the merged tokens."""
    from lib.utils.profiling import ProfileStep

    def crop(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.randn(1, 3, size, size, device=device),
                torch.zeros(1, size, size, dtype=torch.bool, device=device))

    def steps(model: STARKS) -> list:
        templates = [model.forward_backbone(*crop(cfg.TEST.TEMPLATE_SIZE)) for _ in range(cfg.DATA.TEMPLATE.NUMBER)]
        search, search_mask = crop(cfg.TEST.SEARCH_SIZE)
        seq_dict = merge_tokens(templates + [model.forward_backbone(search, search_mask)])
        heads = (True, isinstance(model, STARKST))  # run_box_head, run_cls_head
        return [ProfileStep("backbone (search)", model, args=(search, search_mask, None, "backbone")),
                ProfileStep("transformer + heads", model, args=(None, None, seq_dict, "transformer", *heads),
                            thop_rules={nn.MultiheadAttention: attention_macs})]

    return steps
