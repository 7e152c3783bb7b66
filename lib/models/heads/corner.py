"""Corner head: two conv towers score every cell as the top-left / bottom-right corner; a soft-argmax over each
score map gives sub-cell corner coordinates. Submodule names (`conv{1..5}_{tl,br}`) are those of the released
corner-head checkpoints of the transformer trackers."""
from __future__ import annotations

import torch
import torch.nn as nn

from lib.models.layers.frozen_bn import FrozenBatchNorm2d


def conv_bn_relu(in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1, padding: int = 1,
                 dilation: int = 1, freeze_bn: bool = False) -> nn.Sequential:
    """Conv (with bias) -> BatchNorm (frozen or not) -> ReLU; keys `0.*`, `1.*`."""
    norm = FrozenBatchNorm2d(out_planes) if freeze_bn else nn.BatchNorm2d(out_planes)
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride, padding=padding,
                  dilation=dilation, bias=True),
        norm,
        nn.ReLU(inplace=True))


def query_weighted_features(search_memory: torch.Tensor, decoder_out: torch.Tensor, feat_sz: int) -> torch.Tensor:
    """Weight the encoder's search-region tokens by their similarity to each decoder query.

    search_memory: (HW, B, C) encoder output of the search region; decoder_out: (1, B, N, C).
    Returns (B * N, C, feat_sz, feat_sz): token_c * <token, query_n> for every query n, as a feature map.
    """
    tokens = search_memory.transpose(0, 1)  # (B, HW, C)
    queries = decoder_out.squeeze(0).transpose(1, 2)  # (B, C, N)
    similarity = torch.matmul(tokens, queries)  # (B, HW, N)
    fused = (tokens.unsqueeze(-1) * similarity.unsqueeze(-2)).permute(0, 3, 2, 1).contiguous()  # (B, N, C, HW)
    batch, num_queries, channels, _ = fused.shape
    return fused.view(batch * num_queries, channels, feat_sz, feat_sz)


class CornerPredictor(nn.Module):
    """Input (B, inplanes, feat_sz, feat_sz) -> boxes (B, 4) as (x1, y1, x2, y2) normalised by feat_sz * stride.

    Cell (row, col) stands for the point ((col + offset) * stride, (row + offset) * stride) of the input image;
    `offset` 0 is what the released corner-head checkpoints were trained with (cell corners); 0.5 uses cell centres.
    """

    def __init__(self, inplanes: int = 64, channel: int = 256, feat_sz: int = 20, stride: int = 16,
                 freeze_bn: bool = False, offset: float = 0.0):
        super().__init__()
        self.feat_sz = feat_sz
        self.stride = stride
        self.img_sz = feat_sz * stride
        widths = [inplanes, channel, channel // 2, channel // 4, channel // 8]
        for corner in ("tl", "br"):
            for i in range(4):
                setattr(self, f"conv{i + 1}_{corner}",
                        conv_bn_relu(widths[i], widths[i + 1], freeze_bn=freeze_bn))
            setattr(self, f"conv5_{corner}", nn.Conv2d(widths[4], 1, kernel_size=1))
        # Not persistent: derived from the constructor arguments, absent from checkpoints, but follows .to(device).
        cells = (torch.arange(feat_sz, dtype=torch.float32) + offset) * stride
        self.register_buffer("coord_x", cells.repeat(feat_sz), persistent=False)
        self.register_buffer("coord_y", cells.repeat_interleave(feat_sz), persistent=False)

    def _tower(self, x: torch.Tensor, corner: str) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{corner}")(x)
        return x

    def get_score_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._tower(x, "tl"), self._tower(x, "br")

    def soft_argmax(self, score_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expected (x, y) in input pixels under the softmax over all cells of each map (B, 1, H, W)."""
        prob = torch.softmax(score_map.reshape(-1, self.feat_sz * self.feat_sz), dim=1)
        return (prob * self.coord_x).sum(dim=1), (prob * self.coord_y).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score_tl, score_br = self.get_score_map(x)
        x1, y1 = self.soft_argmax(score_tl)
        x2, y2 = self.soft_argmax(score_br)
        return torch.stack((x1, y1, x2, y2), dim=1) / self.img_sz
