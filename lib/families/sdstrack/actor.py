"""SDSTrack training objective (official `lib/train/actors/sdstrack.py`): OSTrack's loss on the fine (unmasked)
path and on the complementary-masked path, plus the MSE between their fusion-stage features:
total = 0.6 * L_fine + 0.2 * L_masked + 0.1 * MSE. Neither path is detached (self-distillation)."""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.config.node import CfgNode
from lib.families.ostrack.actor import OSTrackActor

PATH_WEIGHTS = {"fine": 0.6, "masked": 0.2}
DISTILL_WEIGHT = 0.1


def freeze_batchnorm(module: nn.Module) -> None:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.eval()


class SDSTrackActor(OSTrackActor):
    def __init__(self, net: nn.Module, cfg: CfgNode):
        super().__init__(net, cfg)
        self.mse = nn.MSELoss()

    def train(self, mode: bool = True) -> None:
        """TRAIN.FIX_BN keeps the box head's BatchNorm statistics frozen while training."""
        super().train(mode)
        if mode and self.cfg.TRAIN.FIX_BN:
            net = self.net.module if isinstance(self.net, nn.parallel.DistributedDataParallel) else self.net
            net.box_head.apply(freeze_batchnorm)

    def __call__(self, data: dict) -> tuple[torch.Tensor, dict[str, float]]:
        fine = self.forward_pass(data)
        masked = self.forward_pass(data, masked=True)
        loss_f, stats_f = self.compute_losses(fine, data)
        loss_m, stats_m = self.compute_losses(masked, data)
        pairs = list(zip(fine["distill_features"], masked["distill_features"]))
        mse = sum(self.mse(f, m) for f, m in pairs) / len(pairs)
        loss = PATH_WEIGHTS["fine"] * loss_f + PATH_WEIGHTS["masked"] * loss_m + DISTILL_WEIGHT * mse
        stats = {"Loss/total": loss.item(), "Loss/total_f": loss_f.item(), "Loss/total_m": loss_m.item(),
                 "Loss/mse_m": mse.item(), "IoU_f": stats_f["IoU"], "IoU_m": stats_m["IoU"]}
        return loss, stats
