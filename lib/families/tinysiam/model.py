"""TinySiam: a small Siamese tracker built to learn in minutes on a CPU (the quickstart's tracker).

A shared stride-8 conv `backbone` embeds the template and the search crop; the centre `kernel` x `kernel` cells of
the template features are correlated channel by channel with the search features (SiamRPN++'s depth-wise
cross-correlation, Li et al. 2019), by default as a correlation coefficient per channel, optionally with the
kernel's cells weighted by a Hann window so that the background in its corners counts little; OSTrack's centre head
(`box_head`) reads the score, size and offset maps from the correlation alone. Matching by correlation is
translation-equivariant by construction, which a one-stream ViT has to learn from data; normalising it keeps a
bright or busy patch from outscoring the target. With a few minutes of training on generated data that is what lets
the tracker follow real objects it has never seen (measured in experiments/tinysiam/quickstart.yaml).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lib.config.node import CfgNode, ConfigError
from lib.models.heads.center import CenterPredictor


def conv_bn_relu(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_planes), nn.ReLU(inplace=True))


class ConvBackbone(nn.Module):
    """3x3 conv + BN + ReLU layers; every layer whose width differs from the previous one halves the resolution."""

    def __init__(self, widths: list[int], in_channels: int = 3):
        super().__init__()
        layers, previous = [], in_channels
        for width in widths:
            layers.append(conv_bn_relu(previous, width, 2 if width != previous else 1))
            previous = width
        self.layers = nn.Sequential(*layers)
        self.stride = 2 ** sum(1 for layer in layers if layer[0].stride == (2, 2))
        self.out_channels = previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def depthwise_xcorr(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate each channel of search (B, C, H, W) with the same channel of kernel (B, C, k, k), odd k, padded
    so that the output has the search grid and cell (i, j) scores the kernel centred on search cell (i, j)."""
    b, c, h, w = search.shape
    out = F.conv2d(search.reshape(1, b * c, h, w), kernel.reshape(b * c, 1, *kernel.shape[2:]), groups=b * c,
                   padding=kernel.shape[-1] // 2)
    return out.view(b, c, h, w)


def window_sums(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Each cell's sum over the k x k window centred on it (zero padded), weighted by the outer product of the
    1-D `window` (k,) with itself: k + k shifted adds (faster than average pooling, forward and backward)."""
    k, (h, w) = len(window), x.shape[-2:]
    padded = F.pad(x, (k // 2,) * 4)
    rows = sum(weight * padded[:, :, i:i + h] for i, weight in enumerate(window))
    return sum(weight * rows[..., j:j + w] for j, weight in enumerate(window))


def normalized_xcorr(search: torch.Tensor, kernel: torch.Tensor, window: torch.Tensor | None = None,
                     eps: float = 1e-5) -> torch.Tensor:
    """Per channel, the correlation coefficient between the kernel and each kernel-sized search window (what
    OpenCV's TM_CCOEFF_NORMED computes on pixels), in [-1, 1]: a bright or busy window cannot outscore the
    target the way it does in a raw correlation. With a 1-D `window` (k,) every term is weighted by its outer
    product (the weighted correlation coefficient), so that the kernel's centre counts more than its corners."""
    k = kernel.shape[-1]
    window = kernel.new_ones(k) if window is None else window
    weights = window[:, None] * window[None, :]
    total = weights.sum()
    centred = kernel - (kernel * weights).sum(dim=(2, 3), keepdim=True) / total
    numerator = depthwise_xcorr(search, centred * weights)
    window_sum, window_sq = window_sums(search, window), window_sums(search * search, window)
    window_var = (window_sq - window_sum * window_sum / total).clamp(min=0)
    kernel_norm = (centred * centred * weights).sum(dim=(2, 3), keepdim=True).sqrt()
    return numerator / (kernel_norm * window_var.sqrt() + eps)


def box_sums(x: torch.Tensor, kh: int, kw: int) -> torch.Tensor:
    """Each cell's sum over the kh x kw window (odd sides) centred on it, zero padded, from an integral image: for
    the unweighted windows of pixel kernels, tens of cells a side, where `window_sums`' shifted adds cost 5x more."""
    h, w = x.shape[-2:]
    c = F.pad(x, (kw // 2 + 1, kw // 2, kh // 2 + 1, kh // 2)).cumsum(-1).cumsum(-2)
    return c[..., kh:kh + h, kw:kw + w] - c[..., :h, kw:kw + w] - c[..., kh:kh + h, :w] + c[..., :h, :w]


def match_template(search: torch.Tensor, kernel: torch.Tensor, min_std: float = 1e-3, eps: float = 1e-5
                   ) -> torch.Tensor:
    """OpenCV's TM_CCOEFF_NORMED over all channels at once: the correlation coefficient of kernel (1, C, kh, kw),
    odd sides, with the window centred on each cell of search (B, C, H, W), zero padded; (B, 1, H, W). For
    kernels of pixels (tens of cells a side) the correlation runs by FFT and the window sums from integral
    images (float64, so that a flat window's variance stays zero): for three 144-pixel crops and a 37-pixel
    kernel 7 ms against 128 ms as a direct convolution (one thread).
    Where the window or the kernel is flatter than `min_std` (standard deviation per value; a grey level is 0.017
    in a normalised crop) the score is 0, as in OpenCV: rounding divided by a near-zero spread would be noise."""
    (kh, kw), (c, h, w) = kernel.shape[-2:], search.shape[-3:]
    centred = kernel - kernel.mean(dim=(2, 3), keepdim=True)
    size = (h + kh - 1, w + kw - 1)
    spectrum = torch.fft.rfft2(search, s=size) * torch.fft.rfft2(centred.flip(-2, -1), s=size)
    numerator = torch.fft.irfft2(spectrum.sum(dim=1, keepdim=True), s=size)[..., kh // 2:kh // 2 + h,
                                                                                 kw // 2:kw // 2 + w]
    wide = search.double()
    window_sum, window_sq = box_sums(wide, kh, kw), box_sums(wide * wide, kh, kw)
    window_var = (window_sq - window_sum * window_sum / (kh * kw)).sum(dim=1, keepdim=True).clamp(min=0)
    kernel_sq, flat = centred.square().sum(), min_std ** 2 * kh * kw * c
    score = numerator / (kernel_sq.sqrt() * window_var.sqrt().to(search.dtype) + eps)
    return score.masked_fill((window_var <= flat) | (kernel_sq <= flat), 0.0)


class TinySiam(nn.Module):
    def __init__(self, backbone: ConvBackbone, box_head: CenterPredictor, kernel: int, normalized: bool = True,
                 kernel_window: str = "uniform"):
        super().__init__()
        self.backbone = backbone
        self.box_head = box_head
        self.kernel = kernel
        self.normalized = normalized
        # "hann": hann(kernel + 2) without its zero ends, so every cell counts and the corners, where a box and its
        # target part, count least (kernel 5: 0.25 0.75 1 0.75 0.25 along each axis). Not a parameter: the
        # state_dict stays the same.
        window = torch.hann_window(kernel + 2, periodic=False)[1:-1] if kernel_window == "hann" else None
        self.register_buffer("window", window, persistent=False)
        self.corr_norm = nn.BatchNorm2d(backbone.out_channels)

    def correlate(self, search_feat: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        if not self.normalized:
            return depthwise_xcorr(search_feat, kernel)
        return normalized_xcorr(search_feat, kernel, self.window)

    def template_kernel(self, template: torch.Tensor) -> torch.Tensor:
        """The centre kernel x kernel cells of the template features (the target at the crop's centre)."""
        feat = self.backbone(template)
        start = (feat.shape[-1] - self.kernel) // 2
        return feat[..., start:start + self.kernel, start:start + self.kernel]

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> dict:
        """template, search: (B, 3, H, W) normalised crops. Returns pred_boxes (B, 1, 4) normalised cxcywh,
        score_map (B, 1, n, n), size_map and offset_map (B, 2, n, n) on the search grid."""
        return self.track(self.template_kernel(template), search)

    def track(self, kernel: torch.Tensor, search: torch.Tensor) -> dict:
        """The search step with the template's kernel computed once (`template_kernel`)."""
        corr = self.corr_norm(self.correlate(self.backbone(search), kernel))
        return self.box_head.predict(corr)


def build_tinysiam(cfg: CfgNode, training: bool, pretrained_folder: str | None = None) -> TinySiam:
    backbone = ConvBackbone(list(cfg.MODEL.BACKBONE.WIDTHS))
    stride, kernel = backbone.stride, cfg.MODEL.KERNEL
    for key in ("TEMPLATE", "SEARCH"):
        if cfg.DATA[key].SIZE % stride:
            raise ConfigError(f"DATA.{key}.SIZE = {cfg.DATA[key].SIZE} is not a multiple of the backbone stride "
                              f"{stride} (MODEL.BACKBONE.WIDTHS)")
    if not kernel % 2 or kernel > cfg.DATA.TEMPLATE.SIZE // stride:
        raise ConfigError(f"MODEL.KERNEL = {kernel} must be odd and at most the template grid side "
                          f"{cfg.DATA.TEMPLATE.SIZE // stride}")
    if cfg.MODEL.BACKBONE.STRIDE != stride:
        raise ConfigError(f"MODEL.BACKBONE.STRIDE = {cfg.MODEL.BACKBONE.STRIDE} differs from the stride {stride} of "
                          f"MODEL.BACKBONE.WIDTHS {list(cfg.MODEL.BACKBONE.WIDTHS)}")
    head = CenterPredictor(inplanes=backbone.out_channels, channel=cfg.MODEL.HEAD.NUM_CHANNELS,
                           feat_sz=cfg.DATA.SEARCH.SIZE // stride, stride=stride,
                           score_prior=cfg.MODEL.HEAD.SCORE_PRIOR)
    return TinySiam(backbone, head, kernel, normalized=cfg.MODEL.CORRELATION == "normalized",
                    kernel_window=cfg.MODEL.KERNEL_WINDOW)
