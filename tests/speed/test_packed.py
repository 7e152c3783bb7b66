"""oneDNN-packed layers of the test-time build: same outputs, same state_dict, the ordinary path elsewhere."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from lib.models.layers.packed import (MAX_CONV_SHAPES, PackedConv2d, PackedLinear, PackedMultiheadAttention,
                                     fuse_activations, pack_layers, packing_available, use_packed_kernels)

pytestmark = pytest.mark.skipif(not packing_available(), reason="this torch has no oneDNN")


def mlp() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Sequential(nn.Linear(64, 16, bias=False)))
    net.attn = nn.MultiheadAttention(16, 2)  # packed as a whole; its out_proj (never called) stays as it is
    return net.eval()


def run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net[2](net[1](net[0](x)))


def convnet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 7, stride=2, padding=3), nn.ReLU(), nn.Conv2d(8, 16, 1),
                         nn.Conv2d(16, 16, 3, padding=2, dilation=2, bias=False), nn.Conv2d(16, 4, 3, groups=4),
                         nn.Conv2d(4, 4, 3, padding="same")).eval()


def assert_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert float((out - ref).abs().max()) <= 1e-5 * float(ref.abs().max())


def test_packed_layers_keep_outputs_and_state_dict():
    net = mlp()
    x = torch.randn(3, 50, 32)
    with torch.no_grad():
        ref = run(net, x)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    assert pack_layers(net) == 3
    assert isinstance(net[0], PackedLinear) and isinstance(net[2][0], PackedLinear)
    assert isinstance(net.attn, PackedMultiheadAttention) and type(net.attn.out_proj) is not PackedLinear
    with torch.inference_mode():
        assert_close(run(net, x), ref)
    assert list(net.state_dict()) == list(state)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


def test_packed_convolutions_keep_outputs_for_each_input_shape():
    net = convnet()
    inputs = [torch.randn(1, 3, 40, 40), torch.randn(2, 3, 64, 48)]
    with torch.no_grad():
        refs = [net(x) for x in inputs]
    assert pack_layers(net) == 4  # the 'same'-padded convolution keeps the ordinary path
    assert type(net[5]) is nn.Conv2d  # noqa: E721
    with torch.inference_mode():
        for x, ref in zip(inputs + inputs, refs + refs):
            out = net(x)
            assert out.is_contiguous(memory_format=torch.channels_last)
            assert_close(out, ref)
    assert all(len(net[i]._packed) == 2 for i in (0, 2, 3, 4))  # one packing per input shape, reused


def test_convolution_packings_are_bounded():
    conv = PackedConv2d.wrap(nn.Conv2d(2, 2, 3).eval())
    with torch.inference_mode():
        for size in range(8, 8 + MAX_CONV_SHAPES + 2):
            x = torch.randn(1, 2, size, size)
            assert_close(conv(x), nn.functional.conv2d(x, conv.weight, conv.bias))
    assert len(conv._packed) == MAX_CONV_SHAPES


def test_packed_kernel_is_what_runs_in_inference():
    layer = PackedLinear.wrap(nn.Linear(8, 4))
    layer.weight.data.zero_()  # changed behind the packing's back: only the packed copy still has the weights
    with torch.inference_mode():
        assert float(layer(torch.ones(1, 8)).abs().sum()) > 0
    layer.repack()
    with torch.inference_mode():
        assert torch.equal(layer(torch.ones(1, 8)), layer.bias.expand(1, 4))


def test_gradients_and_other_dtypes_take_the_ordinary_path():
    net = mlp()
    pack_layers(net)
    x = torch.randn(2, 32, requires_grad=True)
    run(net, x).sum().backward()
    assert x.grad is not None and net[0].weight.grad is not None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert run(net, torch.randn(2, 32)).dtype == torch.bfloat16
    with torch.no_grad():
        assert run(net.double(), torch.randn(2, 32, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("padding", [False, True])
def test_packed_attention_equals_the_module(padding):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(32, 4).eval()
    nn.init.normal_(mha.in_proj_bias)
    x, memory = torch.randn(30, 2, 32), torch.randn(50, 2, 32)
    mask = torch.rand(2, 50) < 0.3 if padding else None
    self_mask = mask[:, :30] if padding else None
    with torch.no_grad():
        refs = [mha(x, x, memory[:30], key_padding_mask=self_mask, need_weights=False)[0],  # queries are keys
                mha(x[:1], memory, memory, key_padding_mask=mask, need_weights=False)[0]]  # cross-attention
        ref_weights = mha(x, x, x, need_weights=True)
    packed = PackedMultiheadAttention.wrap(mha)
    with torch.inference_mode():
        outs = [packed(x, x, memory[:30], key_padding_mask=self_mask, need_weights=False)[0],
                packed(x[:1], memory, memory, key_padding_mask=mask, need_weights=False)[0]]
        weights = packed(x, x, x, need_weights=True)  # the averaged weights come from the module's own path
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape
        assert_close(out, ref)
    assert_close(weights[1], ref_weights[1])


def test_ordinary_path_on_request_gives_the_same_outputs():
    net = convnet()
    x = torch.randn(1, 3, 24, 24)
    pack_layers(net)
    with torch.inference_mode():
        packed = net(x)
        assert use_packed_kernels(net, False) == 4
        ordinary = net(x)
    assert not net[0]._packed or len(net[0]._packed) == 1  # nothing packed for the ordinary call
    assert not ordinary.is_contiguous(memory_format=torch.channels_last)  # plain conv2d on an NCHW input
    assert_close(packed, ordinary)


def test_activations_move_into_the_packed_layers():
    from timm.layers import Mlp
    from torchvision.models.resnet import Bottleneck

    from lib.models.layers.fold_bn import fold_batchnorm
    from lib.models.transformers.detr import TransformerEncoderLayer

    torch.manual_seed(0)
    net = nn.ModuleDict({"seq": nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
                         "mlp": Mlp(8, 16), "detr": TransformerEncoderLayer(8, 2, 16, dropout=0.0),
                         "block": Bottleneck(4, 1, downsample=nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)))})
    net.eval()
    for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        nn.init.uniform_(bn.running_var, 0.5, 1.5)
        nn.init.normal_(bn.running_mean)
    image, tokens = torch.randn(1, 4, 12, 12), torch.randn(6, 1, 8)

    def outputs() -> list[torch.Tensor]:
        with torch.inference_mode():
            return [net["seq"](image), net["mlp"](tokens), net["detr"](tokens), net["block"](image)]

    refs = outputs()
    fold_batchnorm(net)
    assert pack_layers(net) == 10
    assert isinstance(net["seq"][2], nn.Identity) and isinstance(net["mlp"].act, nn.Identity)
    assert net["detr"].linear1.activation is not None and net["block"].conv2.activation is not None
    assert fuse_activations(net) == 0  # nothing left to fuse
    for out, ref in zip(outputs(), refs):
        assert_close(out, ref)
    use_packed_kernels(net, False)  # the ordinary path applies the moved activations itself
    for out, ref in zip(outputs(), refs):
        assert_close(out, ref)


def test_convolution_gradients_take_the_ordinary_path():
    net = convnet()
    pack_layers(net)
    x = torch.randn(1, 3, 20, 20, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and net[0].weight.grad is not None and not net[0]._packed


def test_tracker_build_packs_its_layers(tmp_path):
    from dataclasses import replace

    from lib.test.parameter import TrackerParams
    from lib.test.tracker.base import build_network
    from lib.utils.checkpoint import save_checkpoint

    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    save_checkpoint(str(tmp_path / "w.pth.tar"), {"net": params.family.build_model(params.cfg, False).state_dict()})
    net = build_network(replace(params, checkpoint=str(tmp_path / "w.pth.tar")))
    assert any(isinstance(m, PackedLinear) for m in net.modules())
    assert any(isinstance(m, PackedConv2d) for m in net.modules())
    assert not any(type(m) in (nn.Linear, nn.Conv2d) for m in net.modules())


@pytest.mark.parametrize("padding", [False, True])
def test_few_queries_attend_unprojected_keys_with_the_module_result(padding, monkeypatch):
    """A DETR decoder's cross-attention (1 query, 8 heads, 256 wide, 528 keys) takes the unprojected path:
    the key and value projections folded into the query side, equal to the module within 1e-5 relative."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(256, 8).eval()
    nn.init.normal_(mha.in_proj_bias)
    query, memory, pos = torch.randn(1, 2, 256), torch.randn(528, 2, 256), torch.randn(528, 2, 256)
    mask = torch.rand(2, 528) < 0.3 if padding else None
    with torch.no_grad():
        ref = mha(query, memory + pos, memory, key_padding_mask=mask, need_weights=False)[0]
    packed = PackedMultiheadAttention.wrap(mha)
    monkeypatch.setattr(PackedMultiheadAttention, "_attend_projected", None)  # fails if the usual path runs
    with torch.inference_mode():
        out = packed(query, memory + pos, memory, key_padding_mask=mask, need_weights=False)[0]
    assert out.shape == ref.shape
    assert_close(out, ref)


@pytest.mark.parametrize("padded", [0, 7])
def test_one_sequence_attends_without_its_padding_keys(padded, monkeypatch):
    """Batch 1: keys the mask hides are left out instead of masked (same outputs, no mask in the kernel)."""
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(32, 4).eval()
    nn.init.normal_(mha.in_proj_bias)
    x = torch.randn(30, 1, 32)
    mask = torch.zeros(1, 30, dtype=torch.bool)
    mask[0, torch.randperm(30)[:padded]] = True
    with torch.no_grad():
        ref = mha(x, x, x, key_padding_mask=mask, need_weights=False)[0]
    calls = []
    kernel = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        calls.append((k.shape[-2], attn_mask))
        return kernel(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    packed = PackedMultiheadAttention.wrap(mha)
    with torch.inference_mode():
        out = packed(x, x, x, key_padding_mask=mask, need_weights=False)[0]
    assert calls == [(30 - padded, None)]
    assert_close(out, ref)
