"""OSTrack training objective: 2 * GIoU + 5 * L1 + 1 * focal loss on the Gaussian centre map.

GIoU and L1 compare the predicted box (read at the predicted score-map peak) with the last search frame's box,
both as normalised xyxy, the ground truth clamped to [0, 1]. Candidate elimination is warmed up by epoch.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from lib.config.node import CfgNode
from lib.models.layers.candidate_elimination import template_token_mask
from lib.train.actors.base import BaseActor
from lib.train.losses import focal_loss_heatmap, giou_loss, l1_loss
from lib.utils.box_ops import box_cxcywh_to_xyxy, box_xywh_to_xyxy

# The Gaussian centre label of each search crop, (N_s, B, n, n): the processing writes it (heatmap_stride).
LABEL_KEY = "search_label"


def ce_keep_rate(epoch: int, start_epoch: int, warm_epochs: int, final_rate: float) -> float:
    """Keep all search tokens before `start_epoch`, then follow a cosine from 1 down to `final_rate` over
    `warm_epochs` epochs, then stay there (the schedule is evaluated per epoch, not per iteration)."""
    if epoch < start_epoch:
        return 1.0
    if epoch >= start_epoch + warm_epochs:
        return final_rate
    progress = (epoch - start_epoch) / warm_epochs
    return final_rate + (1 - final_rate) * (math.cos(progress * math.pi) + 1) / 2


class OSTrackActor(BaseActor):
    def __init__(self, net: nn.Module, cfg: CfgNode):
        super().__init__(net, {"giou": cfg.TRAIN.GIOU_WEIGHT, "l1": cfg.TRAIN.L1_WEIGHT, "focal": 1.0})
        self.cfg = cfg

    def __call__(self, data: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """data: template_images / search_images (1, B, 3, H, W), template_anno / search_anno (1, B, 4)
        normalised xywh in their crops, the search label (1, B, n, n) and the current epoch."""
        if len(data["template_images"]) != 1 or len(data["search_images"]) != 1:
            raise ValueError("OSTrack trains with exactly one template and one search crop per sample "
                             "(DATA.TEMPLATE.NUMBER = DATA.SEARCH.NUMBER = 1)")
        out = self.forward_pass(data)
        return self.compute_losses(out, data)

    def forward_pass(self, data: dict, **net_kwargs) -> dict:
        """The network on the batch's crops; net_kwargs go to the network (a subclass's extra options)."""
        template, search = data["template_images"][0], data["search_images"][0]
        backbone = self.cfg.MODEL.BACKBONE
        mask, keep_rate = None, None
        if backbone.CE_LOC:
            mask = template_token_mask(backbone.CE_TEMPLATE_RANGE, self.cfg.DATA.TEMPLATE.SIZE, backbone.STRIDE,
                                       template.shape[0], template.device, data["template_anno"][0])
            keep_rate = ce_keep_rate(int(data["epoch"]), self.cfg.TRAIN.CE_START_EPOCH,
                                     self.cfg.TRAIN.CE_WARM_EPOCH, backbone.CE_KEEP_RATIO[0])
        return self.net(template, search, ce_template_mask=mask, ce_keep_rate=keep_rate, **net_kwargs)

    def compute_losses(self, out: dict, data: dict) -> tuple[torch.Tensor, dict[str, float]]:
        pred = out["pred_boxes"]
        if torch.isnan(pred).any():
            raise FloatingPointError("the network predicted NaN boxes; stopping training")
        gt_box = data["search_anno"][-1]
        label = data[LABEL_KEY][-1].unsqueeze(1).to(out["score_map"].dtype)
        pred_xyxy = box_cxcywh_to_xyxy(pred).view(-1, 4)
        gt_xyxy = box_xywh_to_xyxy(gt_box).clamp(0.0, 1.0)
        giou, iou = giou_loss(pred_xyxy, gt_xyxy)
        l1 = l1_loss(pred_xyxy, gt_xyxy)
        focal = focal_loss_heatmap(out["score_map"], label)
        w = self.loss_weight
        loss = w["giou"] * giou + w["l1"] * l1 + w["focal"] * focal
        stats = {"Loss/total": loss.item(), "Loss/giou": giou.item(), "Loss/l1": l1.item(),
                 "Loss/location": focal.item(), "IoU": iou.detach().mean().item()}
        return loss, stats

