"""Inference-only linear and convolution layers whose weights oneDNN has pre-packed (CPU, float32).

A plain nn.Linear multiplies through MKL's sgemm, which repacks the weight matrix on every call; oneDNN's
inner product with a weight packed once skips that (10-25 % faster on the transformer and ViT shapes at one
thread). Likewise a convolution with its weight already in oneDNN's blocked layout for the input shape skips the
per-call weight reorder and takes oneDNN even for the 1x1 convolutions that eager PyTorch sends to its own GEMM
path at one thread. The results differ from the plain layers' only by float rounding (another summation order,
about 1e-6 relative).

`pack_layers(net)` swaps every nn.Linear, nn.Conv2d and nn.MultiheadAttention inside `net` for its packed twin
in place, then lets the packed kernels apply the ReLU / GELU that directly follows them where the structure is
known (`fuse_activations`), which saves a pass over the activations. The state_dict names and tensors stay the
plain layers' (the packed copies are plain attributes, not state), and any call the packed kernels cannot take
(another device or dtype, autocast, autograd) runs the ordinary layer on the same weights.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Mlp
from torchvision.models.resnet import Bottleneck

ROWS_HINT = 512  # rows (tokens) the linear packing is tuned for; other row counts run as fast on it
MAX_CONV_SHAPES = 4  # input shapes a convolution keeps a packing for (template, search, batched: a few)
# Cross-attention leaves keys and values unprojected when FEW_QUERIES * queries * heads <= width: then it costs at
# most a quarter of the multiply-adds of projecting them (see PackedMultiheadAttention._attend_unprojected).
FEW_QUERIES = 4


def packing_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


# Activations a packed kernel can apply itself, as (oneDNN post-op, its algorithm, the same function in torch).
_RELU = ("relu", "", F.relu)
_GELU = ("gelu", "none", F.gelu)  # the exact (erf) GELU, as nn.GELU() and F.gelu by default


def _fusable(activation: object) -> tuple[str, str, Callable] | None:
    if isinstance(activation, nn.ReLU) or activation in (F.relu, torch.relu):
        return _RELU
    if (isinstance(activation, nn.GELU) and activation.approximate == "none") or activation is F.gelu:
        return _GELU
    return None


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _inference_call(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the packed kernel can serve this call: float32 on the CPU, no autocast, no autograd."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.device.type == "cpu"
            and weight.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)))


def pack_linear_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """`weight` (out, in) packed for `linear_on`, or None where packed kernels are unavailable (other device)."""
    if not packing_available() or weight.device.type != "cpu" or weight.dtype != torch.float32:
        return None
    with torch.no_grad():
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), ROWS_HINT)


def linear_on(x: torch.Tensor, weight: torch.Tensor, packed: torch.Tensor | None) -> torch.Tensor:
    """F.linear(x, weight) without bias, through the packed copy (`pack_linear_weight`) where the call allows."""
    if packed is not None and _inference_call(x, weight):
        return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
    return F.linear(x, weight)


def taken_activation(layer: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """`y`, an output of `layer` computed another way, with the activation `layer` took over from the module after
    it (`fuse_activations`) applied; unchanged for any other layer."""
    return layer._activate(y) if isinstance(layer, _FusedActivation) else y


class _PackedLayer:
    """What the packed layers share: built from the plain layer by `wrap`, and `packed_kernels` (False: the
    ordinary path, see `use_packed_kernels`)."""

    packed_kernels: bool = True

    @classmethod
    def wrap(cls, layer: nn.Module):
        """The packed twin of `layer`, on the same parameters, buffers, hooks and flags (nothing is copied)."""
        packed = cls.__new__(cls)
        packed.__dict__.update(layer.__dict__)
        packed.repack()
        return packed

    def repack(self) -> None:
        raise NotImplementedError

    def _packed_call(self, x: torch.Tensor, weight: torch.Tensor) -> bool:
        return self.packed_kernels and _inference_call(x, weight)


class _FusedActivation(_PackedLayer):
    """The activation a packed layer applies to its own output (none until `fuse_activations` sets one)."""

    activation: tuple[str, str, Callable] | None = None

    def _activate(self, y: torch.Tensor) -> torch.Tensor:  # the ordinary path's equivalent of the fused post-op
        return y if self.activation is None else self.activation[2](y)

    def _post_op(self) -> tuple[str, str]:
        return ("none", "") if self.activation is None else self.activation[:2]


class PackedLinear(_FusedActivation, nn.Linear):
    """nn.Linear with a oneDNN-packed copy of its weight for float32 CPU inference."""

    @torch.no_grad()
    def repack(self) -> None:
        """Pack the current weight (call again after changing it in place)."""
        self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), ROWS_HINT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._packed_call(x, self.weight):
            return self._activate(F.linear(x, self.weight, self.bias))
        attr, algorithm = self._post_op()
        return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, attr, [], algorithm)


class PackedConv2d(_FusedActivation, nn.Conv2d):
    """nn.Conv2d that runs oneDNN's convolution on a weight packed for the input shape, packed on the first call
    with that shape (the best blocked layout depends on it: a packing for another shape can be several times
    slower). Outputs are channels-last."""

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
        packed = self._packing(tuple(x.shape)) if self._packed_call(x, self.weight) and x.dim() == 4 else None
        if packed is None:
            return self._activate(super().forward(x))
        x = x.contiguous(memory_format=torch.channels_last)
        attr, algorithm = self._post_op()
        return torch.ops.mkldnn._convolution_pointwise(x, packed, self.bias, *self._conv_args(), attr, [], algorithm)


def _pack_rows(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), ROWS_HINT)


class PackedMultiheadAttention(_PackedLayer, nn.MultiheadAttention):
    """nn.MultiheadAttention (sequence-first, one embedding width, no added key/value biases) whose projections
    run on packed weights when only the attention output is asked for: the same projections, key-padding mask and
    scaled_dot_product_attention as F.multi_head_attention_forward, without its per-call argument handling; a
    single sequence's padding keys are left out instead of masked (`_drop_padding_keys`), and a few queries over
    many keys attend without projecting the keys and values (`_attend_unprojected`)."""

    @torch.no_grad()
    def repack(self) -> None:
        rows = {part: self._rows(part) for part in ("q", "k", "v", "qk")}
        self._packed = {part: _pack_rows(self.in_proj_weight[r]) for part, r in rows.items()}
        self._packed["out"] = _pack_rows(self.out_proj.weight)

    def _rows(self, part: str) -> slice:
        """Rows of in_proj_weight / in_proj_bias that project to `part` (qk: queries and keys in one product)."""
        width = self.embed_dim
        start = {"q": 0, "k": width, "v": 2 * width, "qk": 0}[part]
        return slice(start, start + (2 * width if part == "qk" else width))

    def _project(self, x: torch.Tensor, part: str) -> torch.Tensor:
        bias = None if self.in_proj_bias is None else self.in_proj_bias[self._rows(part)]
        return torch.ops.mkldnn._linear_pointwise(x, self._packed[part], bias, "none", [], "")

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True, is_causal: bool = False):
        if (need_weights or attn_mask is not None or is_causal or self.batch_first or query.dim() != 3
                or (self.training and self.dropout > 0)
                or (key_padding_mask is not None and key_padding_mask.dtype != torch.bool)
                or not all(self._packed_call(x, self.in_proj_weight) for x in (query, key, value))):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                                   is_causal=is_causal)
        length, batch, _ = query.shape
        if key_padding_mask is not None and batch == 1:
            key, value, key_padding_mask = _drop_padding_keys(key, value, key_padding_mask)
        mask = None
        if key_padding_mask is not None:  # True = padding, as a float mask the way the module builds it
            mask = torch.zeros(key_padding_mask.shape, dtype=query.dtype).masked_fill_(key_padding_mask,
                                                                                       float("-inf"))
            mask = mask.view(batch, 1, 1, -1)
        if query is not key and FEW_QUERIES * length * self.num_heads <= self.embed_dim:
            out = self._attend_unprojected(self._project(query, "q"), key, value, mask)
        else:
            out = self._attend_projected(query, key, value, mask)
        return torch.ops.mkldnn._linear_pointwise(out, self._packed["out"], self.out_proj.bias, "none", [], ""), None

    def _attend_projected(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          mask: torch.Tensor | None) -> torch.Tensor:
        """The module's attention: project queries, keys and values, then scaled_dot_product_attention."""
        if query is key:
            q, k = self._project(query, "qk").chunk(2, dim=-1)
        else:
            q, k = self._project(query, "q"), self._project(key, "k")
        v = self._project(value, "v")
        length, batch, _ = query.shape

        def split(x: torch.Tensor) -> torch.Tensor:  # (L, B, E) -> (B, heads, L, E / heads)
            return x.reshape(x.shape[0], batch, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        return out.permute(2, 0, 1, 3).reshape(length, batch, self.embed_dim)

    def _attend_unprojected(self, q: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            mask: torch.Tensor | None) -> torch.Tensor:
        """The same attention for projected queries q (Lq, B, E) over keys and values left unprojected. Per head
        h, q_h . (W_k,h k + b_k,h) = (W_k,h^T q_h) . k plus a term equal for every key, which the softmax drops;
        and the weighted sum of W_v,h v + b_v,h is W_v,h (the weighted sum of v) + b_v,h, as the weights sum to
        1. For a few queries over many keys (a DETR decoder's cross-attention) that costs 2 Lq H E multiply-adds
        per key instead of the 2 E^2 of projecting it; equal up to float rounding."""
        length, batch, width = q.shape
        heads, dim = self.num_heads, self.head_dim
        w_k = self.in_proj_weight[self._rows("k")].view(heads, dim, width)
        w_v = self.in_proj_weight[self._rows("v")].view(heads, dim, width)
        q = q.reshape(length, batch, heads, dim) * dim ** -0.5
        scores = torch.bmm(torch.einsum("lbhd,hde->bhle", q, w_k).reshape(batch, heads * length, width),
                           key.permute(1, 2, 0))  # (B, H Lq, Lk)
        if mask is not None:
            scores = scores + mask.view(batch, 1, -1)
        pooled = torch.bmm(scores.softmax(dim=-1), value.transpose(0, 1)).view(batch, heads, length, width)
        out = torch.einsum("bhle,hde->lbhd", pooled, w_v)
        if self.in_proj_bias is not None:
            out = out + self.in_proj_bias[self._rows("v")].view(heads, dim)
        return out.reshape(length, batch, width)


def _drop_padding_keys(key: torch.Tensor, value: torch.Tensor, key_padding_mask: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One sequence's keys and values without the ones its key-padding mask hides, and no mask: hidden keys get
    softmax weight exactly 0, so the attention is the same (to float rounding) with fewer keys (1.05x on a
    ResNet-101 + DETR tracking step whose search crop is half padding). Unchanged when every key is hidden (the
    module gives NaN then)."""
    kept = (~key_padding_mask[0]).nonzero().squeeze(1)
    if kept.numel() == key.shape[0]:
        return key, value, None
    if kept.numel() == 0:
        return key, value, key_padding_mask
    return key.index_select(0, kept), value.index_select(0, kept), None


def _packed_twin(layer: nn.Module) -> nn.Module | None:
    """The packed replacement of a plain float32 CPU layer, or None (subclasses of the plain layers keep theirs:
    nn.MultiheadAttention's out_proj, for one, is used through its weight and never called)."""
    weight = getattr(layer, "weight", getattr(layer, "in_proj_weight", None))
    if not isinstance(weight, torch.Tensor) or weight.device.type != "cpu" or weight.dtype != torch.float32:
        return None
    if type(layer) is nn.Linear:  # noqa: E721
        return PackedLinear.wrap(layer)
    if type(layer) is nn.MultiheadAttention and layer._qkv_same_embed_dim and layer.bias_k is None:  # noqa: E721
        return PackedMultiheadAttention.wrap(layer)
    if type(layer) is nn.Conv2d and layer.padding_mode == "zeros" and not isinstance(layer.padding, str):  # noqa: E721
        return PackedConv2d.wrap(layer)
    return None


def pack_layers(module: nn.Module) -> int:
    """Replace every plain nn.Linear, nn.Conv2d and nn.MultiheadAttention inside `module` (on the CPU, float32)
    by its packed twin in place and fuse the activations that follow them; returns how many layers were packed.
    Does nothing where oneDNN is not available."""
    if not packing_available():
        return 0
    count = _swap_twins(module)
    fuse_activations(module)
    return count


def _swap_twins(module: nn.Module) -> int:
    count = 0
    for name, child in list(module.named_children()):
        twin = _packed_twin(child)
        if twin is not None:
            setattr(module, name, twin)
            count += 1
        else:
            count += _swap_twins(child)
    return count


class _FusedBottleneck(Bottleneck):
    """torchvision's Bottleneck after BatchNorm folding, its first two ReLUs applied by conv1 and conv2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn3(self.conv3(self.conv2(self.conv1(x))))
        out += identity  # in place, as torchvision's
        return self.relu(out)


def _fuse(layer: nn.Module, activation: object) -> bool:
    """Let a packed, not yet fused `layer` apply `activation`; False when it cannot."""
    fused = _fusable(activation)
    if not isinstance(layer, _FusedActivation) or layer.activation is not None or fused is None:
        return False
    layer.activation = fused
    return True


def fuse_activations(module: nn.Module) -> int:
    """Move the ReLU / GELU that directly follows a packed layer into it, in the structures where that is known
    (in place; returns how many): nn.Sequential runs (layer, identities, activation), timm's Mlp (fc1 -> act),
    DETR-style transformer layers (linear1 -> activation function) and torchvision's Bottleneck with folded BN."""
    count = 0
    for child in module.modules():
        if isinstance(child, nn.Sequential):
            layers = list(child.named_children())
            for i, (_, layer) in enumerate(layers):
                j = i + 1
                while j < len(layers) and isinstance(layers[j][1], nn.Identity):
                    j += 1
                if j < len(layers) and _fuse(layer, layers[j][1]):
                    setattr(child, layers[j][0], nn.Identity())
                    count += 1
        elif isinstance(child, Mlp) and _fuse(child.fc1, child.act):
            child.act = nn.Identity()
            count += 1
        elif isinstance(getattr(child, "linear1", None), nn.Linear) and _fuse(child.linear1,
                                                                              getattr(child, "activation", None)):
            child.activation = _identity
            count += 1
        elif (type(child) is Bottleneck and isinstance(child.bn1, nn.Identity)  # noqa: E721
              and isinstance(child.bn2, nn.Identity) and _fuse(child.conv1, child.relu)):
            _fuse(child.conv2, child.relu)
            child.__class__ = _FusedBottleneck
            count += 1
    return count


def use_packed_kernels(module: nn.Module, enabled: bool) -> int:
    """Switch the packed layers inside `module` between their packed kernels and the ordinary path (same weights,
    fused activations kept), e.g. off before torch.compile, which packs weights itself and cannot trace the
    per-shape packing; returns how many layers were switched."""
    layers = [m for m in module.modules() if isinstance(m, _PackedLayer)]
    for layer in layers:
        layer.packed_kernels = enabled
    return len(layers)
