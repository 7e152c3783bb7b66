"""Inference-only linear layers whose weights oneDNN has pre-packed (CPU, float32).

A plain nn.Linear multiplies through MKL's sgemm, which repacks the weight matrix on every call; oneDNN's
inner product with a weight packed once at build time skips that and picks its blocked kernels for the expected
number of rows (10-25 % faster on the transformer and ViT shapes at one thread). The results differ from
MKL's only by float rounding (another summation order, about 1e-6 relative).

`pack_linears(net)` swaps every nn.Linear inside `net` for a PackedLinear in place. The state_dict names and
tensors stay those of nn.Linear (the packed copy is a plain attribute, not state), and any call the packed kernel
cannot take (another device or dtype, autocast, autograd) runs the ordinary F.linear on the same weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS_HINT = 512  # rows (tokens) the packing is tuned for; other row counts run correctly on the same packing


def packing_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


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

    def _packed_applies(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.device.type == "cpu"
                and not torch.is_autocast_enabled("cpu") and not (torch.is_grad_enabled() and (
                    x.requires_grad or self.weight.requires_grad)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._packed_applies(x):
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, "none", [], "")


def pack_linears(module: nn.Module) -> int:
    """Replace every nn.Linear inside `module` (on the CPU, float32) by a PackedLinear in place; returns how many.
    Does nothing where oneDNN is not available."""
    if not packing_available():
        return 0
    count = 0
    for name, child in list(module.named_children()):
        if (type(child) is nn.Linear and child.weight.device.type == "cpu"  # noqa: E721  (subclasses keep theirs)
                and child.weight.dtype == torch.float32):
            setattr(module, name, PackedLinear.from_linear(child))
            count += 1
        else:
            count += pack_linears(child)
    return count
