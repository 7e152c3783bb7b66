"""SeqTrack training objective (the official actor): the search box becomes four coordinate tokens; the decoder
reads [START, c1..c4] teacher-forced and is trained with cross-entropy to emit [c1..c4, END].

Tokenisation: normalised xywh -> xyxy -> clamp to [0, 1] -> (cx, cy, w, h) unless DATA.SEQ_FORMAT is 'corner'
(-> (w, h, cx, cy) for 'whxy') -> `int(v * (BINS - 1))`. END = BINS, START = BINS + 1; the special tokens weigh
0.01 in the loss.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import CfgNode
from lib.train.actors.base import BaseActor
from lib.utils.box_ops import box_cxcywh_to_xyxy, box_iou, box_xywh_to_xyxy, box_xyxy_to_cxcywh

SPECIAL_TOKEN_WEIGHT = 0.01


def box_tokens(xywh: torch.Tensor, bins: int, seq_format: str) -> torch.Tensor:
    """(N, 4) normalised xywh boxes -> (N, 4) int64 coordinate tokens in the order of `seq_format`."""
    box = box_xywh_to_xyxy(xywh).clamp(0.0, 1.0)
    if seq_format != "corner":
        box = box_xyxy_to_cxcywh(box)
    tokens = (box * (bins - 1)).int().long()
    return tokens[:, [2, 3, 0, 1]] if seq_format == "whxy" else tokens


def tokens_to_cxcywh(tokens: torch.Tensor, bins: int, seq_format: str) -> torch.Tensor:
    """(N, 4) coordinate tokens -> (N, 4) normalised (cx, cy, w, h)."""
    box = tokens.float()
    if seq_format == "whxy":
        box = box[:, [2, 3, 0, 1]]
    box = box / (bins - 1)
    return box_xyxy_to_cxcywh(box) if seq_format == "corner" else box


def vocabulary_weights(bins: int) -> torch.Tensor:
    weight = torch.ones(bins + 2)
    weight[bins:] = SPECIAL_TOKEN_WEIGHT
    return weight


class SeqTrackActor(BaseActor):
    def __init__(self, net: nn.Module, cfg: CfgNode):
        super().__init__(net, {"ce": cfg.TRAIN.CE_WEIGHT})
        self.bins = cfg.MODEL.BINS
        self.seq_format = cfg.DATA.SEQ_FORMAT
        self.objective = nn.CrossEntropyLoss(weight=vocabulary_weights(self.bins))

    def __call__(self, data: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """data: template_images (N_t, B, 3, H, W), search_images (1, B, 3, H, W), search_anno (1, B, 4)
        normalised xywh in the search crop."""
        logits, targets = self.forward_pass(data)
        return self.compute_losses(logits, targets)

    def forward_pass(self, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
        templates, searches = list(data["template_images"].unbind(0)), list(data["search_images"].unbind(0))
        xz = self.net(images_list=templates + searches, mode="encoder")
        tokens = box_tokens(data["search_anno"].permute(1, 0, 2).reshape(-1, 4), self.bins, self.seq_format)
        start = torch.full_like(tokens[:, :1], self.bins + 1)
        end = torch.full_like(tokens[:, :1], self.bins)
        logits = self.net(xz=xz, seq=torch.cat([start, tokens], dim=1), mode="decoder")
        return logits[-1].reshape(-1, self.bins + 2), torch.cat([tokens, end], dim=1).flatten()

    def compute_losses(self, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        ce = self.objective.to(logits.device)(logits, targets)
        loss = self.loss_weight["ce"] * ce
        with torch.no_grad():
            # Logged IoU: the argmax coordinate tokens against the target tokens.
            predicted = logits[:, :self.bins].argmax(-1).reshape(-1, 5)[:, :4]
            boxes = [box_cxcywh_to_xyxy(tokens_to_cxcywh(t, self.bins, self.seq_format))
                     for t in (predicted, targets.reshape(-1, 5)[:, :4])]
            iou, _ = box_iou(*boxes)
        return loss, {"Loss/total": loss.item(), "Loss/ce": ce.item(), "IoU": iou.mean().item()}
