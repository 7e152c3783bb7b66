"""STARK training actors: box losses (STARK-S, STARK-ST stage 1) and the score-head loss (STARK-ST stage 2).

Batch layout (frames first): template_images (Nt, B, 3, h, w), template_att (Nt, B, h, w) True on padding,
search_images (1, B, 3, H, W), search_att (1, B, H, W), search_anno (1, B, 4) normalised (x, y, w, h) in the
search crop, label (1, B) for stage 2 (1 = the search region contains the target).
"""
from __future__ import annotations

from typing import Any

import torch

from lib.config.node import CfgNode
from lib.families.stark.config import check_stage
from lib.families.stark.model import TokenDict, merge_tokens
from lib.train.actors.base import BaseActor
from lib.train.losses import bce_with_logits, giou_loss, l1_loss
from lib.utils.box_ops import box_cxcywh_to_xyxy, box_xywh_to_xyxy


class STARKActor(BaseActor):
    """Runs the backbone once per template and once on the search crop, then the transformer and the heads.

    objective 'box': weights['giou'] * GIoU loss + weights['l1'] * L1, on the corner-head boxes.
    objective 'cls': weights['cls'] * BCE-with-logits of the score head against `label`.
    """

    def __init__(self, net: torch.nn.Module, loss_weight: dict[str, float], num_templates: int,
                 objective: str = "box"):
        if objective not in ("box", "cls"):
            raise ValueError(f"objective must be 'box' or 'cls', got '{objective}'")
        super().__init__(net, loss_weight)
        self.num_templates = num_templates
        self.objective = objective

    def __call__(self, data: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        box = self.objective == "box"
        out = self.forward_pass(data, run_box_head=box, run_cls_head=not box)
        if box:
            return self.box_losses(out["pred_boxes"], data["search_anno"][0])
        return self.cls_loss(out["pred_logits"], data["label"])

    def template_tokens(self, data: dict[str, Any], mode: str = "backbone") -> list[TokenDict]:
        """Backbone tokens of each template of the batch (the network's `mode` that encodes a crop)."""
        templates, template_masks = data["template_images"], data["template_att"]
        if templates.shape[0] != self.num_templates:
            raise ValueError(f"batch has {templates.shape[0]} templates per sample, the config says "
                             f"{self.num_templates} (DATA.TEMPLATE.NUMBER)")
        return [self.net(img=templates[i], mask=template_masks[i], mode=mode) for i in range(self.num_templates)]

    def forward_pass(self, data: dict[str, Any], run_box_head: bool, run_cls_head: bool) -> dict[str, torch.Tensor]:
        tokens = self.template_tokens(data)
        search = data["search_images"].flatten(0, 1)
        search_mask = data["search_att"].flatten(0, 1)
        out, _, _ = self.net(img=search, mask=search_mask, seq_dict=merge_tokens(tokens), mode="track",
                             run_box_head=run_box_head, run_cls_head=run_cls_head)
        return out

    def box_losses(self, pred_boxes: torch.Tensor, gt_xywh: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """pred_boxes (B, N, 4) normalised (cx, cy, w, h); gt_xywh (B, 4) normalised (x, y, w, h)."""
        if torch.isnan(pred_boxes).any():
            raise ValueError("Network outputs is NAN! Stop Training")
        num_queries = pred_boxes.shape[1]
        pred = box_cxcywh_to_xyxy(pred_boxes).reshape(-1, 4)
        gt = box_xywh_to_xyxy(gt_xywh)[:, None, :].expand(-1, num_queries, -1).reshape(-1, 4).clamp(0.0, 1.0)
        giou, iou = _giou_or_zero(pred, gt)
        l1 = l1_loss(pred, gt)
        loss = self.loss_weight["giou"] * giou + self.loss_weight["l1"] * l1
        return loss, {"Loss/total": loss.item(), "Loss/giou": giou.item(), "Loss/l1": l1.item(),
                      "IoU": iou.item()}

    def cls_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.loss_weight["cls"] * bce_with_logits(logits.reshape(-1), labels.reshape(-1))
        return loss, {"cls_loss": loss.item()}


def _giou_or_zero(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean GIoU loss and IoU; both 0 for the whole batch when a predicted box is inverted (x2 < x1 or y2 < y1).

    The two corners come from independent soft-argmaxes and can cross early in training; the official actor then
    drops the GIoU term for that batch (its GIoU asserts well-formed boxes) and keeps the L1 term.
    """
    if not (pred[:, 2:] >= pred[:, :2]).all():
        zero = pred.new_zeros(())
        return zero, zero
    return giou_loss(pred, gt)


def build_actor(net: torch.nn.Module, cfg: CfgNode, script: str) -> STARKActor:
    """stark_s / stark_st1: box losses with TRAIN.GIOU_WEIGHT / TRAIN.L1_WEIGHT; stark_st2: score-head BCE (weight
    1, as in the official recipe)."""
    check_stage(cfg, script)
    if script == "stark_st2":
        return STARKActor(net, {"cls": 1.0}, cfg.DATA.TEMPLATE.NUMBER, objective="cls")
    weights = {"giou": cfg.TRAIN.GIOU_WEIGHT, "l1": cfg.TRAIN.L1_WEIGHT}
    return STARKActor(net, weights, cfg.DATA.TEMPLATE.NUMBER, objective="box")
