"""torchvision ResNets truncated after a stage, with a padding mask and an optional position encoding.

State-dict names are torchvision's under `body.` (`body.conv1.weight`, `body.layer3.5.bn2.running_var`, ...), so
the DETR-lineage checkpoints (`backbone.0.body.*`) and the torchvision ImageNet files both load unchanged.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

from lib.models.layers.frozen_bn import FrozenBatchNorm2d

STAGES = ("layer1", "layer2", "layer3", "layer4")
STEM = ("conv1", "bn1")

# name -> (torchvision constructor, torchvision weights enum, file names the ImageNet weights are known by; the
# first is the name the DETR-lineage code downloaded, the second torchvision's current name).
_RESNETS: dict[str, tuple[Callable[..., tvm.ResNet], tvm.WeightsEnum, tuple[str, ...]]] = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1, ("resnet18-5c106cde.pth", "resnet18-f37072fd.pth")),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1, ("resnet34-333f7ec4.pth", "resnet34-b627a593.pth")),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1, ("resnet50-19c8e357.pth", "resnet50-0676ba61.pth")),
    "resnet101": (tvm.resnet101, tvm.ResNet101_Weights.IMAGENET1K_V1,
                  ("resnet101-5d3b4d8f.pth", "resnet101-63fe2227.pth")),
}


# Variants built from BasicBlocks (expansion 1, no dilation support in torchvision); the others use Bottlenecks.
_BASIC_BLOCK = frozenset({"resnet18", "resnet34"})


def resnet_names() -> list[str]:
    return sorted(_RESNETS)


def _lookup(name: str) -> tuple[Callable[..., tvm.ResNet], tvm.WeightsEnum, tuple[str, ...]]:
    try:
        return _RESNETS[name]
    except KeyError:
        raise ValueError(f"unknown ResNet '{name}'; valid names: {', '.join(resnet_names())}") from None


def imagenet_state_dict(name: str, search_dir: str | None = None) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights of `name`: a known file name in `search_dir` if present, else torchvision's
    download (cached under $TORCH_HOME)."""
    _, weights, file_names = _lookup(name)
    for file_name in file_names if search_dir else ():
        path = os.path.join(search_dir, file_name)
        if os.path.isfile(path):
            return torch.load(path, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=True)
    except Exception as e:  # typically no network: say where a local copy would be found
        raise FileNotFoundError(f"ImageNet weights of {name}: none of {', '.join(file_names)} in {search_dir}, and "
                                f"the download failed ({type(e).__name__}: {e})") from e


def stage_channels(name: str, stage: str) -> int:
    """Output channels of `stage` (torchvision widths: 64 * 2^i per stage, x4 for bottleneck blocks)."""
    _lookup(name)
    expansion = 1 if name in _BASIC_BLOCK else 4
    return 64 * 2 ** STAGES.index(stage) * expansion


def _load_imagenet(resnet: tvm.ResNet, state_dict: dict[str, torch.Tensor]) -> None:
    """Strict load, except that BatchNorm step counters may be missing (older torchvision files lack them)."""
    missing, unexpected = resnet.load_state_dict(state_dict, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"ImageNet weights do not fit the ResNet: missing {missing}, unexpected {unexpected}")


def stage_stride(stage: str, dilation: bool = False) -> int:
    """Output stride of `stage` (4 after layer1, doubling per stage); dilating that stage halves it."""
    return 4 * 2 ** STAGES.index(stage) // (2 if dilation else 1)


class ResNetBackbone(nn.Module):
    """A torchvision ResNet up to `last_layer`; returns the feature map and the padding mask resized to it.

    name: resnet18 / resnet34 / resnet50 / resnet101.
    last_layer: the last stage kept (later stages, pooling and fc are dropped).
    dilation: replace the stride of `last_layer` by dilation (stride 16 -> 8 for layer3).
    frozen_bn: FrozenBatchNorm2d instead of BatchNorm2d.
    trainable: top-level module names (conv1, bn1, layer1, ...) whose parameters train; all others are frozen.
    pretrained: torchvision ImageNet weights to load (a state dict), or None.
    """

    def __init__(self, name: str, last_layer: str = "layer3", dilation: bool = False, frozen_bn: bool = True,
                 trainable: Sequence[str] = ("layer2", "layer3"),
                 pretrained: dict[str, torch.Tensor] | None = None):
        super().__init__()
        constructor, _, _ = _lookup(name)
        if last_layer not in STAGES:
            raise ValueError(f"last_layer must be one of {', '.join(STAGES)}, got '{last_layer}'")
        if dilation and last_layer == "layer1":
            raise ValueError("layer1 has no stride to replace by dilation")
        if dilation and name in _BASIC_BLOCK:
            raise ValueError(f"dilation needs bottleneck blocks (resnet50/101); {name} has basic blocks")
        dilate = [dilation and stage == last_layer for stage in STAGES[1:]]
        resnet = constructor(weights=None, norm_layer=FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d,
                             replace_stride_with_dilation=dilate)
        if pretrained is not None:
            _load_imagenet(resnet, pretrained)
        keep = STEM + ("relu", "maxpool") + STAGES[:STAGES.index(last_layer) + 1]
        self.body = nn.Sequential(OrderedDict((n, m) for n, m in resnet.named_children() if n in keep))
        self.num_channels = stage_channels(name, last_layer)
        self.stride = stage_stride(last_layer, dilation)
        self._set_trainable(trainable)

    def _set_trainable(self, trainable: Sequence[str]) -> None:
        unknown = sorted(set(trainable) - set(dict(self.body.named_children())))
        if unknown:
            raise ValueError(f"trainable module(s) {unknown} not in the backbone "
                             f"(modules: {', '.join(n for n, _ in self.body.named_children())})")
        for module_name, module in self.body.named_children():
            module.requires_grad_(module_name in trainable)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, H, W), mask (B, H, W) bool (True = padding) -> features (B, C, h, w), mask (B, h, w)."""
        feat = self.body(images)
        small_mask = F.interpolate(mask[None].float(), size=feat.shape[-2:]).to(torch.bool)[0]
        return feat, small_mask


class BackboneWithPosition(nn.Sequential):
    """[backbone, position encoding] as an nn.Sequential, so the backbone's keys sit under `0.` (DETR's Joiner)."""

    def __init__(self, backbone: nn.Module, position_encoding: nn.Module):
        super().__init__(backbone, position_encoding)
        self.num_channels = backbone.num_channels

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> features (B, C, h, w), mask (B, h, w), position encoding (B, D, h, w) in the features' dtype."""
        feat, small_mask = self[0](images, mask)
        return feat, small_mask, self[1](small_mask).to(feat.dtype)
