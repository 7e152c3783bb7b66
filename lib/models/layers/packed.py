"""Inference-only linear and convolution layers whose weights oneDNN has pre-packed (CPU, float32).

A plain nn.Linear multiplies through MKL's sgemm, which repacks the weight matrix on every call; oneDNN's
inner product with a weight packed once skips that (10-25 % faster on the transformer and ViT shapes at one
thread). Likewise a convolution with its weight already in oneDNN's blocked layout for the input shape skips the
per-call weight reorder and takes oneDNN even for the 1x1 convolutions that eager PyTorch sends to its own GEMM
path at one thread. The results differ from the plain layers' only by float rounding (another summation order,
about 1e-6 relative).

`pack_layers(net)` swaps every nn.Linear and nn.Conv2d inside `net` for its packed twin in place. The state_dict
names and tensors stay the plain layers' (the packed copies are plain attributes, not state), and any call the
packed kernels cannot take (another device or dtype, autocast, autograd) runs the ordinary layer on the same
weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS_HINT = 512  # rows (tokens) the linear packing is tuned for; other row counts run as fast on it
MAX_CONV_SHAPES = 4  # input shapes a convolution keeps a packing for (template, search, batched: a few)


def packing_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _inference_call(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the packed kernel can serve this call: float32 on the CPU, no autocast, no autograd."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.device.type == "cpu"
            and weight.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)))


class PackedLinear(nn.Linear):
    """nn.Linear with a oneDNN-packed copy of its weight for float32 CPU inference."""

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "PackedLinear":
        packed = cls.__new__(cls)
        packed.__dict__.update(linear.__dict__)  # same parameters, hooks and flags: nothing is copied
        packed.repack()
        return packed

    @torch.no_grad()
    def repack(self) -> None:
        """Pack the current weight (call again after changing it in place)."""
        self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), ROWS_HINT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _inference_call(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, "none", [], "")


class PackedConv2d(nn.Conv2d):
    """nn.Conv2d that runs oneDNN's convolution on a weight packed for the input shape, packed on the first call
    with that shape (the best blocked layout depends on it: a packing for another shape can be several times
    slower). Outputs are channels-last."""

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "PackedConv2d":
        packed = cls.__new__(cls)
        packed.__dict__.update(conv.__dict__)
        packed.repack()
        return packed

    def repack(self) -> None:
        """Drop the packings (call after changing the weight in place)."""
        self._packed: dict[tuple[int, ...], torch.Tensor] = {}

    def _conv_args(self) -> tuple:
        return list(self.padding), list(self.stride), list(self.dilation), self.groups

    def _packing(self, shape: tuple[int, ...]) -> torch.Tensor | None:
        if shape not in self._packed and len(self._packed) < MAX_CONV_SHAPES:
            with torch.no_grad():
                self._packed[shape] = torch.ops.mkldnn._reorder_convolution_weight(
                    self.weight.detach(), *self._conv_args(), list(shape))
        return self._packed.get(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self._packing(tuple(x.shape)) if _inference_call(x, self.weight) and x.dim() == 4 else None
        if packed is None:
            return super().forward(x)
        x = x.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise(x, packed, self.bias, *self._conv_args(), "none", [], "")


def _packed_twin(layer: nn.Module) -> nn.Module | None:
    """The packed replacement of a plain float32 CPU layer, or None (subclasses of the plain layers keep theirs:
    nn.MultiheadAttention's out_proj, for one, is used through its weight and never called)."""
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.device.type != "cpu" or weight.dtype != torch.float32:
        return None
    if type(layer) is nn.Linear:  # noqa: E721
        return PackedLinear.from_linear(layer)
    if type(layer) is nn.Conv2d and layer.padding_mode == "zeros" and not isinstance(layer.padding, str):  # noqa: E721
        return PackedConv2d.from_conv(layer)
    return None


def pack_layers(module: nn.Module) -> int:
    """Replace every plain nn.Linear and nn.Conv2d inside `module` (on the CPU, float32) by its packed twin in
    place; returns how many. Does nothing where oneDNN is not available."""
    if not packing_available():
        return 0
    count = 0
    for name, child in list(module.named_children()):
        twin = _packed_twin(child)
        if twin is not None:
            setattr(module, name, twin)
            count += 1
        else:
            count += pack_layers(child)
    return count
