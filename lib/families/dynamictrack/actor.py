"""DynamicTrack training actor (chenxlin222/DynamicTrack lib/train/actors/stark_s.py, both halves).

The template goes through the light backbone only (as the step-1 actor and the tracker do); the search crop goes
through both backbones; each branch's transformer and head read [light template tokens; its search tokens].
Step 1: loss = light box loss + heavy box loss (each GIOU_WEIGHT * GIoU + L1_WEIGHT * L1).
Step 2 (router only): per sample, d = loss1 - loss2 is recorded; the tracked gap m is the median of all recorded d
for the first 10,000 samples, then refreshed every 1,000; loss = s (loss1 - m/2) + (1 - s)(loss2 + m/2), s the
router score, so s -> 1 (light) where the light branch is good relative to its usual gap. The official actor ran
batch 1; here each sample of a batch counts as one official iteration, and only training batches are recorded.
In step 2 the frozen branches run in eval mode (see `DynamicTrackActor.train`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lib.config.node import CfgNode
from lib.families.dynamictrack.config import check_step, is_router_step
from lib.families.dynamictrack.model import BRANCHES
from lib.families.stark.actor import STARKActor
from lib.families.stark.model import merge_tokens

MEDIAN_WARMUP = 10_000  # samples during which the gap is re-estimated at every sample
MEDIAN_EVERY = 1_000  # then every this many samples


class GapTracker:
    """The running median of loss1 - loss2, refreshed on the official schedule."""

    def __init__(self):
        self.diffs: list[float] = []
        self.value = 0.0

    def add(self, diff: float) -> float:
        self.diffs.append(diff)
        count = len(self.diffs)
        if count < MEDIAN_WARMUP or count % MEDIAN_EVERY == 0:
            self.value = float(np.median(self.diffs))
        return self.value


class DynamicTrackActor(STARKActor):
    def __init__(self, net: torch.nn.Module, loss_weight: dict[str, float], num_templates: int, router_step: bool):
        super().__init__(net, loss_weight, num_templates, objective="box")
        self.router_step = router_step
        self.gap = GapTracker()

    def train(self, mode: bool = True) -> None:
        """In step 2 the frozen branches run as at test time (no dropout, batch-norm statistics kept; the official
        step 2 left them in training mode, so its head statistics drifted): the router learns to choose between
        the step-1 branches exactly as the tracker runs them, and only router weights change."""
        super().train(mode)
        if self.router_step and mode:
            net = getattr(self.net, "module", self.net)  # DDP-wrapped or not
            for name, child in net.named_children():
                if name != "router":
                    child.eval()

    def __call__(self, data: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.forward_pass(data)
        gt = data["search_anno"][0]
        if self.router_step:
            return self.router_loss(out, gt)
        (loss1, stats1), (loss2, stats2) = (self.box_losses(out[i], gt) for i in BRANCHES)
        loss = loss1 + loss2
        return loss, {"Loss/total": loss.item(), "Loss/loss1": loss1.item(), "Loss/loss2": loss2.item(),
                      "IoU1": stats1["IoU"], "IoU2": stats2["IoU"]}

    def forward_pass(self, data: dict[str, Any]) -> dict[Any, torch.Tensor]:
        """-> {1: light boxes, 2: heavy boxes (B, N, 4)} and, in step 2, 'score': router scores (B,)."""
        tokens = self.template_tokens(data, mode="backbone1")
        search, search_mask = data["search_images"].flatten(0, 1), data["search_att"].flatten(0, 1)
        searches = {i: self.net(img=search, mask=search_mask, mode=f"backbone{i}") for i in BRANCHES}
        out: dict[Any, torch.Tensor] = {i: self.net(seq_dict=merge_tokens(tokens + [searches[i]]),
                                                    mode=f"transformer{i}") for i in BRANCHES}
        if self.router_step:
            out["score"] = self.net(seq_dict=searches[1], mode="router")
        return out

    def router_loss(self, out: dict[Any, torch.Tensor], gt: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        terms, shifted, ious = [], {1: [], 2: []}, {1: [], 2: []}
        for k in range(gt.shape[0]):
            losses = {}
            for i in BRANCHES:
                losses[i], stats = self.box_losses(out[i][k:k + 1], gt[k:k + 1])
                ious[i].append(stats["IoU"])
            gap = self.gap.add((losses[1] - losses[2]).item()) if self.net.training else self.gap.value
            loss1, loss2 = losses[1] - gap / 2, losses[2] + gap / 2
            score = out["score"][k]
            terms.append(score * loss1 + (1 - score) * loss2)
            shifted[1].append(loss1.item())
            shifted[2].append(loss2.item())
        loss = torch.stack(terms).mean()
        return loss, {"Loss/total": loss.item(), "Loss/loss1": float(np.mean(shifted[1])),
                      "Loss/loss2": float(np.mean(shifted[2])), "IoU1": float(np.mean(ious[1])),
                      "IoU2": float(np.mean(ious[2])), "Router/score": out["score"].mean().item(),
                      "Router/median_gap": self.gap.value}


def build_actor(net: torch.nn.Module, cfg: CfgNode, script: str) -> DynamicTrackActor:
    check_step(cfg)
    weights = {"giou": cfg.TRAIN.GIOU_WEIGHT, "l1": cfg.TRAIN.L1_WEIGHT}
    return DynamicTrackActor(net, weights, cfg.DATA.TEMPLATE.NUMBER, is_router_step(cfg))
