"""Mixed precision on the CPU: bf16 autocast stays close to fp32 and returns float32; wrong options fail with one
message. The CUDA paths are in test_gpu.py."""
from __future__ import annotations

import pytest
import torch

from lib.test.tracker.accel import accelerate
from lib.test.tracker.speed import bench_steps, build_bench_tracker, synthetic_frame
from lib.utils.cli import UserError

MODELS = [("stark_st", "tiny"), ("ostrack", "tiny")]


def steps_for(name: str, config: str, tmp_path, device: str = "cpu"):
    return bench_steps(build_bench_tracker(name, config, str(tmp_path / "w.pth.tar"), device))


def float_outputs(out: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor) and v.is_floating_point()}


@pytest.mark.parametrize("name, config", MODELS)
def test_bf16_autocast_close_to_fp32_and_returns_float32(name, config, tmp_path):
    steps = steps_for(name, config, tmp_path)
    ref = float_outputs(steps.network())
    accelerate(steps.tracker, "bf16")
    out = float_outputs(steps.network())
    assert ref.keys() == out.keys()
    for key in ref:
        assert out[key].dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: boxes (0..1 in the crop) within a few hundredths.
    assert float((out["pred_boxes"] - ref["pred_boxes"]).abs().max()) < 0.05
    assert steps.whole()["target_bbox"]


def test_options_checked(tmp_path):
    steps = steps_for("ostrack", "tiny", tmp_path)
    with pytest.raises(UserError, match="--cuda_graph"):
        accelerate(steps.tracker, "fp32", cuda_graph=True)
    with pytest.raises(UserError, match="--dtype"):
        accelerate(steps.tracker, "int8")
