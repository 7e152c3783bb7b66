"""Losses shared by the actors. Boxes are xyxy in normalised crop coordinates unless stated."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lib.utils.box_ops import generalized_box_iou


def giou_loss(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (1 - GIoU) over paired boxes, and the mean IoU for logging."""
    giou, iou = generalized_box_iou(pred_xyxy, gt_xyxy)
    return (1 - giou).mean(), iou.mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred, target)


def focal_loss_heatmap(pred: torch.Tensor, gt: torch.Tensor, alpha: float = 2.0, beta: float = 4.0,
                       eps: float = 1e-12) -> torch.Tensor:
    """CenterNet penalty-reduced focal loss on probability heat maps of equal shape.

    Positives are cells whose target is exactly 1; negatives are down-weighted by (1 - gt)^beta; the sum is divided
    by the number of positives (or taken as is when there are none).
    """
    pred = pred.clamp(eps, 1 - eps)
    pos = gt.eq(1).float()
    neg = 1 - pos
    pos_loss = (torch.log(pred) * (1 - pred) ** alpha * pos).sum()
    neg_loss = (torch.log(1 - pred) * pred ** alpha * (1 - gt) ** beta * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def bce_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, **kwargs) -> torch.Tensor:
    return F.cross_entropy(logits, labels, **kwargs)
