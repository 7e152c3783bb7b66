"""Inference-only folding of fixed BatchNorm into the convolution that feeds it.

y = BN(conv(x)) with fixed statistics is one affine map per output channel, so the convolution can absorb it:
W' = W * s, b' = b * s + t with s = weight / sqrt(running_var + eps), t = bias - running_mean * s. The BN module
is then replaced by an identity. Pairs are found from the data flow (torch.fx), not from names: a BN is folded
only when its sole input is a Conv2d output that nothing else reads. Modules that fx cannot trace (data-dependent
Python) are searched child by child.

Apply it to a network in eval mode, after its weights are loaded: the folded network's state_dict no longer has
the BN entries, and BN in training mode (batch statistics) cannot be folded.
"""
from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

from lib.models.layers.frozen_bn import FrozenBatchNorm2d

FOLDABLE = (FrozenBatchNorm2d, nn.BatchNorm2d)


class _Tracer(fx.Tracer):
    """Keeps FrozenBatchNorm2d as one call (fx would otherwise inline its arithmetic)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, FrozenBatchNorm2d) or super().is_leaf_module(m, qualname)


def bn_affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) of a BN with fixed statistics: bn(x) = x * scale + shift per channel."""
    weight = bn.weight if bn.weight is not None else torch.ones_like(bn.running_var)
    bias = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    scale = weight * (bn.running_var + bn.eps).rsqrt()
    return scale, bias - bn.running_mean * scale


@torch.no_grad()
def fold_into_conv(conv: nn.Conv2d, bn: nn.Module) -> None:
    scale, shift = bn_affine(bn)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1).to(conv.weight.dtype))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
    conv.bias = nn.Parameter((bias * scale + shift).to(conv.weight.dtype), requires_grad=False)


def _foldable_pairs(module: nn.Module) -> list[tuple[str, str]] | None:
    """(conv name, bn name) pairs inside `module` from its traced graph; None when it cannot be traced."""
    try:
        graph = _Tracer().trace(module)
    except Exception:  # any Python fx cannot follow; the children are tried instead
        return None
    modules = dict(module.named_modules())
    pairs, seen = [], set()
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), FOLDABLE):
            continue
        source = node.args[0] if node.args else None
        if (isinstance(source, fx.Node) and source.op == "call_module"
                and isinstance(modules.get(source.target), nn.Conv2d) and len(source.users) == 1
                and source.target not in seen and node.target not in seen):
            pairs.append((source.target, node.target))
            seen.update((source.target, node.target))
    # A module called twice would show up once per call: fold only modules used once in the graph.
    calls = [n.target for n in graph.nodes if n.op == "call_module"]
    return [(c, b) for c, b in pairs if calls.count(c) == 1 and calls.count(b) == 1]


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every fixed BN that directly follows a Conv2d inside `module` (in place); returns how many."""
    if module.training:
        raise ValueError("fold_batchnorm needs eval mode: BN in training mode uses batch statistics")
    pairs = _foldable_pairs(module)
    if pairs is None:
        return sum(fold_batchnorm(child) for child in module.children())
    for conv_name, bn_name in pairs:
        fold_into_conv(module.get_submodule(conv_name), module.get_submodule(bn_name))
        _set_submodule(module, bn_name, nn.Identity())
    return len(pairs)
