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
A tracker reads the size and offset maps at that one cell only: `box_at_peak` runs the size and offset towers on
the cell's receptive field alone (9 x 9 cells of the input, where the full maps take n x n) and gives the same box.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from lib.models.layers.packed import linear_on, pack_linear_weight, taken_activation

TOWER_DEPTH = 4  # 3x3 convolutions per tower: a cell's output reads the input within this many cells of it


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
            for i in range(TOWER_DEPTH):
                self.add_module(f"conv{i + 1}_{name}", conv_bn_relu(widths[i], widths[i + 1]))
            self.add_module(f"conv5_{name}", nn.Conv2d(widths[TOWER_DEPTH], out_channels, kernel_size=1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if score_prior:
            nn.init.constant_(self.conv5_ctr.bias, math.log(score_prior / (1 - score_prior)))

    def _tower(self, name: str, x: torch.Tensor, start: int = 1) -> torch.Tensor:
        for i in range(start, TOWER_DEPTH + 2):
            x = getattr(self, f"conv{i}_{name}")(x)
        return x

    def _box_towers(self, x: torch.Tensor, tower: Callable[[str, torch.Tensor], torch.Tensor]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(size, offset) from the offset and size towers run by `tower(name, x)`, sigmoid applied to size."""
        offset = tower("offset", x)
        if self.size_branch:
            size = tower("size", x)
        else:
            offset, size = offset[:, :2], offset[:, 2:]
        return _clamped_sigmoid(size), offset

    def score_map(self, x: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, C, n, n) -> score (B, 1, n, n). cells (test time): (B, k) row-major cells outside which x is zero
        (the search tokens that candidate elimination kept); the first convolution then reads those alone."""
        if cells is None:
            return _clamped_sigmoid(self._tower("ctr", x))
        return _clamped_sigmoid(self._tower("ctr", self._first_layer_from_cells("ctr", x, cells), start=2))

    def _first_layer_from_cells(self, name: str, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """conv1_<name>(x) for x zero outside `cells`: one matrix product gives every kept cell's nine kernel
        products, each summed into the output cell it reaches (a third of the cells after three 0.7 eliminations,
        so about a third of the convolution's work)."""
        layer = getattr(self, f"conv1_{name}")
        conv = layer[0]
        batch, _, height, width = x.shape
        index = torch.arange(batch, device=x.device)[:, None]
        tokens = x.flatten(2).transpose(1, 2)[index, cells]  # (B, k, C)
        weight, packed = self._kernel_rows(conv)
        packed = packed if getattr(conv, "packed_kernels", False) else None  # as the layer itself runs
        products = linear_on(tokens, weight, packed).reshape(-1, conv.out_channels)  # rows (b, cell, a, c)
        # Through kernel cell (a, c) cell (i, j) reaches output cell (i + 1 - a, j + 1 - c): on the output grid
        # padded by one on each side, (i + 2 - a, j + 2 - c).
        kernel = torch.arange(3, device=x.device)
        rows = (cells // width + 2)[:, :, None, None] - kernel[:, None]
        cols = (cells % width + 2)[:, :, None, None] - kernel[None, :]
        padded = (height + 2, width + 2)
        target = (index[:, :, None, None] * padded[0] + rows) * padded[1] + cols
        out = products.new_zeros(batch * padded[0] * padded[1], conv.out_channels)
        out.index_add_(0, target.flatten(), products)
        out = out.view(batch, *padded, -1)[:, 1:-1, 1:-1]
        if conv.bias is not None:
            out = out + conv.bias
        out = out.permute(0, 3, 1, 2)  # channels-last memory, as the packed convolutions keep it
        return layer[1:](taken_activation(conv, out))

    def _kernel_rows(self, conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor | None]:
        """conv's 3 x 3 kernel as a (9 * O, C) matrix, rows ordered (kernel row, kernel column, output channel),
        and its packed copy; kept until the weight changes (BatchNorm folding, a device move)."""
        key = (conv.weight.data_ptr(), conv.weight._version)
        cache = self.__dict__.setdefault("_kernel_rows_cache", {})
        if cache.get(id(conv), (None,))[0] != key:
            with torch.no_grad():
                weight = conv.weight.permute(2, 3, 0, 1).reshape(-1, conv.in_channels).contiguous()
            cache[id(conv)] = (key, weight, pack_linear_weight(weight))
        return cache[id(conv)][1:]

    def get_score_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, C, n, n) -> score (B, 1, n, n), size (B, 2, n, n), offset (B, 2, n, n)."""
        return (self.score_map(x), *self._box_towers(x, self._tower))

    def size_offset_at(self, x: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The size and offset maps of `x` (B, C, n, n) at one cell per sample, `index` (B, 1) row-major, each
        (B, 2, 1): the towers run on the (2 * TOWER_DEPTH + 1)^2 cells around it (zeros beyond the map, as the
        convolutions' padding), and after each 3x3 convolution keep the cells whose inputs were all there."""
        window, inside = receptive_field(x, index, TOWER_DEPTH)

        def local_tower(name: str, y: torch.Tensor) -> torch.Tensor:
            for i in range(1, TOWER_DEPTH + 1):
                y = getattr(self, f"conv{i}_{name}")(y)[:, :, 1:-1, 1:-1] * inside[:, :, i:-i, i:-i]
            return getattr(self, f"conv5_{name}")(y).flatten(2)

        return self._box_towers(window, local_tower)

    def forward(self, x: torch.Tensor, gt_score_map: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (score_map, bbox (B, 4) cxcywh, size_map, offset_map); the box is read at the arg-max of
        `gt_score_map` (B, n, n) when given, else of the predicted score map."""
        score, size, offset = self.get_score_map(x)
        bbox = self.cal_bbox(score if gt_score_map is None else gt_score_map.unsqueeze(1), size, offset)
        return score, bbox, size, offset

    def predict(self, x: torch.Tensor, gt_score_map: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """`forward` as the official models return it: pred_boxes (B, 1, 4) normalised cxcywh, score_map
        (B, 1, n, n), size_map and offset_map (B, 2, n, n)."""
        score_map, bbox, size_map, offset_map = self(x, gt_score_map)
        return {"pred_boxes": bbox.view(-1, 1, 4), "score_map": score_map, "size_map": size_map,
                "offset_map": offset_map}

    def cal_bbox(self, score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor,
                 return_score: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Decode the (B, 4) normalised cxcywh box at the score map's arg-max (and the max score if asked)."""
        max_score, idx = torch.max(score_map.flatten(1), dim=1, keepdim=True)
        gather_idx = idx.unsqueeze(1).expand(-1, 2, 1)
        bbox = self._box(idx, size_map.flatten(2).gather(2, gather_idx), offset_map.flatten(2).gather(2, gather_idx))
        return (bbox, max_score) if return_score else bbox

    def box_at_peak(self, response: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cal_bbox(response, size_map, offset_map, return_score=True) for the maps of head input `x`, without
        computing those maps: the size and offset come from `size_offset_at` the peak of `response` (B, 1, n, n),
        e.g. the score map times a window."""
        max_score, idx = torch.max(response.flatten(1), dim=1, keepdim=True)
        return self._box(idx, *self.size_offset_at(x, idx)), max_score

    def _box(self, idx: torch.Tensor, size: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """Normalised (B, 4) cxcywh from the peak cell `idx` (B, 1) and its size and offset (B, 2, 1)."""
        size, offset = size.squeeze(-1), offset.squeeze(-1)
        idx_y = torch.div(idx, self.feat_sz, rounding_mode="floor")
        idx_x = idx % self.feat_sz
        return torch.cat([(idx_x.to(offset.dtype) + offset[:, :1]) / self.feat_sz,
                          (idx_y.to(offset.dtype) + offset[:, 1:]) / self.feat_sz, size], dim=1)


def receptive_field(x: torch.Tensor, index: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (B, C, 2r + 1, 2r + 1) window of `x` (B, C, n, m) centred on each sample's cell `index` (B, 1)
    (row-major; zeros beyond the map) and a (B, 1, 2r + 1, 2r + 1) mask of the window cells inside the map.
    Tensor indexing only (no host sync), so a CUDA graph can capture it."""
    height, width = x.shape[-2:]
    offsets = torch.arange(2 * radius + 1, device=x.device)
    rows = torch.div(index, width, rounding_mode="floor") + offsets  # (B, 2r + 1), in the padded map
    cols = index % width + offsets
    window = F.pad(x, (radius,) * 4)[torch.arange(x.shape[0], device=x.device)[:, None, None], :,
                                     rows[:, :, None], cols[:, None, :]]  # (B, 2r + 1, 2r + 1, C)
    inside = ((rows >= radius) & (rows < height + radius))[:, :, None] \
        & ((cols >= radius) & (cols < width + radius))[:, None, :]
    return window.permute(0, 3, 1, 2), inside.unsqueeze(1).to(x.dtype)

