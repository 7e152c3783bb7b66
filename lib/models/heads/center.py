"""Center head: a target-centre score map plus size and sub-cell offset maps on the search token grid.

Three conv towers (`ctr`, `offset`, `size`), each conv1..conv4 (3x3 conv + BN + ReLU, channels C, C/2, C/4, C/8)
and a 1x1 `conv5`. Score and size maps go through a sigmoid clamped to [1e-4, 1 - 1e-4]; offsets stay raw. With
`size_branch=False` the offset tower predicts 4 channels, (offset_x, offset_y, w, h), and there is no `size`
tower (the variant with keys `conv*_ctr` and `conv*_offset` only).

Initialisation is the official one (Xavier-uniform weights, PyTorch's default biases), which starts every score
near 0.5. `score_prior` > 0 instead starts them at that probability (RetinaNet's focal-loss prior, Lin et al. 2017):
with a random backbone the near-0.5 start makes the focal loss swamp the box losses for the first epochs.

Box decoding (`cal_bbox`): take the arg-max cell (x, y) of the score map; the box is
(cx, cy, w, h) = ((x + off_x) / n, (y + off_y) / n, w, h), normalised to the search crop (n = grid side).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


def conv_bn_relu(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size=3, padding=1, bias=True),
                         nn.BatchNorm2d(out_planes), nn.ReLU(inplace=True))


def _clamped_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # In float32 even under fp16/bf16 autocast: 1 - 1e-4 rounds to 1 there, and the focal loss takes log(1 - p).
    return x.float().sigmoid().clamp(min=1e-4, max=1 - 1e-4)


class CenterPredictor(nn.Module):
    """inplanes: token channels; channel: width of conv1 (halved per layer); feat_sz: search grid side;
    score_prior: initial score of every cell (0: the official initialisation)."""

    def __init__(self, inplanes: int = 64, channel: int = 256, feat_sz: int = 20, stride: int = 16,
                 size_branch: bool = True, score_prior: float = 0.0):
        super().__init__()
        if not 0 <= score_prior < 1:
            raise ValueError(f"score_prior must be in [0, 1), got {score_prior}")
        self.feat_sz = feat_sz
        self.stride = stride
        self.size_branch = size_branch
        widths = [inplanes, channel, channel // 2, channel // 4, channel // 8]
        towers = {"ctr": 1, "offset": 2 if size_branch else 4}
        if size_branch:
            towers["size"] = 2
        for name, out_channels in towers.items():
            for i in range(4):
                self.add_module(f"conv{i + 1}_{name}", conv_bn_relu(widths[i], widths[i + 1]))
            self.add_module(f"conv5_{name}", nn.Conv2d(widths[4], out_channels, kernel_size=1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if score_prior:
            nn.init.constant_(self.conv5_ctr.bias, math.log(score_prior / (1 - score_prior)))

    def _tower(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{name}")(x)
        return x

    def get_score_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, C, n, n) -> score (B, 1, n, n), size (B, 2, n, n), offset (B, 2, n, n)."""
        score = _clamped_sigmoid(self._tower("ctr", x))
        offset = self._tower("offset", x)
        if self.size_branch:
            size = self._tower("size", x)
        else:
            offset, size = offset[:, :2], offset[:, 2:]
        return score, _clamped_sigmoid(size), offset

    def forward(self, x: torch.Tensor, gt_score_map: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (score_map, bbox (B, 4) cxcywh, size_map, offset_map); the box is read at the arg-max of
        `gt_score_map` (B, n, n) when given, else of the predicted score map."""
        score, size, offset = self.get_score_map(x)
        bbox = self.cal_bbox(score if gt_score_map is None else gt_score_map.unsqueeze(1), size, offset)
        return score, bbox, size, offset

    def cal_bbox(self, score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor,
                 return_score: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Decode the (B, 4) normalised cxcywh box at the score map's arg-max (and the max score if asked)."""
        max_score, idx = torch.max(score_map.flatten(1), dim=1, keepdim=True)
        idx_y = torch.div(idx, self.feat_sz, rounding_mode="floor")
        idx_x = idx % self.feat_sz
        gather_idx = idx.unsqueeze(1).expand(-1, 2, 1)
        size = size_map.flatten(2).gather(2, gather_idx).squeeze(-1)
        offset = offset_map.flatten(2).gather(2, gather_idx).squeeze(-1)
        bbox = torch.cat([(idx_x.to(offset.dtype) + offset[:, :1]) / self.feat_sz,
                          (idx_y.to(offset.dtype) + offset[:, 1:]) / self.feat_sz, size], dim=1)
        return (bbox, max_score) if return_score else bbox

