"""oneDNN-packed linear layers of the test-time build: same outputs, same state_dict, ordinary path elsewhere."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from lib.models.layers.packed_linear import PackedLinear, pack_linears, packing_available

pytestmark = pytest.mark.skipif(not packing_available(), reason="this torch has no oneDNN")


def mlp() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Sequential(nn.Linear(64, 16, bias=False)))
    net.attn = nn.MultiheadAttention(16, 2)  # its out_proj is used through its weight, not called: left alone
    return net.eval()


def run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net[2](net[1](net[0](x)))


def test_packed_layers_keep_outputs_and_state_dict():
    net = mlp()
    x = torch.randn(3, 50, 32)
    with torch.no_grad():
        ref = run(net, x)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    assert pack_linears(net) == 2
    assert isinstance(net[0], PackedLinear) and isinstance(net[2][0], PackedLinear)
    assert type(net.attn.out_proj) is not PackedLinear
    with torch.inference_mode():
        out = run(net, x)
    assert float((out - ref).abs().max()) <= 1e-5 * float(ref.abs().max())
    assert list(net.state_dict()) == list(state)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


def test_packed_kernel_is_what_runs_in_inference():
    layer = PackedLinear.from_linear(nn.Linear(8, 4))
    layer.weight.data.zero_()  # changed behind the packing's back: only the packed copy still has the weights
    with torch.inference_mode():
        assert float(layer(torch.ones(1, 8)).abs().sum()) > 0
    layer.repack()
    with torch.inference_mode():
        assert torch.equal(layer(torch.ones(1, 8)), layer.bias.expand(1, 4))


def test_gradients_and_other_dtypes_take_the_ordinary_path():
    net = mlp()
    pack_linears(net)
    x = torch.randn(2, 32, requires_grad=True)
    run(net, x).sum().backward()
    assert x.grad is not None and net[0].weight.grad is not None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert run(net, torch.randn(2, 32)).dtype == torch.bfloat16
    with torch.no_grad():
        assert run(net.double(), torch.randn(2, 32, dtype=torch.float64)).dtype == torch.float64


def test_tracker_build_packs_linears_and_orders_convolutions_channels_last(tmp_path):
    from dataclasses import replace

    from lib.test.parameter import TrackerParams
    from lib.test.tracker.base import build_network
    from lib.utils.checkpoint import save_checkpoint

    params = TrackerParams.create("ostrack", "tiny", load_weights=False)
    save_checkpoint(str(tmp_path / "w.pth.tar"), {"net": params.family.build_model(params.cfg, False).state_dict()})
    net = build_network(replace(params, checkpoint=str(tmp_path / "w.pth.tar")))
    assert any(isinstance(m, PackedLinear) for m in net.modules())
    assert not any(type(m) is nn.Linear for m in net.modules())  # noqa: E721
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
