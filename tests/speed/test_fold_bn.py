"""BatchNorm folding: outputs equal to float rounding, BN gone only where a conv feeds it alone, training refused,
and the test-time tracker build folds while the model builder (training) does not."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from lib.models.layers.fold_bn import fold_batchnorm
from lib.models.layers.frozen_bn import FrozenBatchNorm2d


def randomise_bn(module: nn.Module) -> None:
    """Non-trivial statistics and affine terms, so that a wrong fold shows."""
    for m in module.modules():
        if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()


class Residual(nn.Module):
    """The conv output is read twice: folding the BN into it would change the skip path."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = FrozenBatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


class DataDependent(nn.Module):
    """fx cannot trace the branch on a tensor value; its children are folded one by one."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), FrozenBatchNorm2d(4), nn.ReLU())

    def forward(self, x):
        return self.block(x) if x.sum() > -1e9 else x


def folded_copy(net: nn.Module) -> tuple[nn.Module, int]:
    net = copy.deepcopy(net).eval()
    return net, fold_batchnorm(net)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("norm", [FrozenBatchNorm2d, nn.BatchNorm2d])
def test_conv_bn_folds_to_equal_outputs(bias, norm):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, bias=bias), norm(8), nn.ReLU(), nn.Conv2d(8, 8, 1), norm(8)).eval()
    randomise_bn(net)
    folded, count = folded_copy(net)
    assert count == 2
    assert not any(isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)) for m in folded.modules())
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)


def test_shared_conv_output_is_not_folded():
    net = Residual().eval()
    randomise_bn(net)
    folded, count = folded_copy(net)
    assert count == 0 and isinstance(folded.bn, FrozenBatchNorm2d)


def test_untraceable_module_folds_its_children():
    net = DataDependent().eval()
    randomise_bn(net)
    folded, count = folded_copy(net)
    assert count == 1 and isinstance(folded.block[1], nn.Identity)
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)


def test_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train())


@pytest.mark.parametrize("tracker, config", [("stark_st", "tiny"), ("ostrack", "tiny")])
def test_tracker_build_folds_and_keeps_the_step_outputs(tracker, config, tmp_path):
    from lib.test.parameter import TrackerParams
    from lib.test.tracker.base import build_network
    from lib.utils.checkpoint import save_checkpoint

    params = TrackerParams.create(tracker, config, load_weights=False)
    model = params.family.build_model(params.cfg, False).eval()
    randomise_bn(model)
    assert any(isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)) for m in model.modules())
    save_checkpoint(str(tmp_path / "w.pth.tar"), {"net": model.state_dict()})
    from dataclasses import replace

    net = build_network(replace(params, checkpoint=str(tmp_path / "w.pth.tar")))  # strict load, then fold
    assert not any(isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)) for m in net.modules())
    from lib.utils.profiling import tracking_steps

    with torch.no_grad():
        torch.manual_seed(1)
        ours = [step() for step in tracking_steps(net, params.family.dummy_inputs(params.cfg, "cpu"))]
        torch.manual_seed(1)
        ref = [step() for step in tracking_steps(model, params.family.dummy_inputs(params.cfg, "cpu"))]
    pairs = list(zip(tensors(ours), tensors(ref)))
    assert pairs
    for a, b in pairs:  # equal to float rounding: within 1e-5 of the tensor's scale
        scale = float(b.float().abs().max()) or 1.0
        assert float((a.float() - b.float()).abs().max()) <= 1e-5 * scale


def tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors(v)]
    return []
