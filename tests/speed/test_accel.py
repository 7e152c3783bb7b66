"""Mixed precision and CUDA graph replay of the search step. CPU: bf16 autocast stays close to fp32 and returns
float32; wrong options fail with one message. GPU (`-m gpu`, wherever CUDA exists): graph replay equals the eager
step, follows new templates and search crops, fp16 stays within tolerance, batched evaluation equals one by one."""
from __future__ import annotations

import numpy as np
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


gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@gpu
@needs_cuda
@pytest.mark.parametrize("name, config", MODELS)
def test_cuda_graph_replay_equals_eager(name, config, tmp_path):
    steps = steps_for(name, config, tmp_path, "cuda")
    eager = float_outputs(steps.network())
    accelerate(steps.tracker, "fp32", cuda_graph=True)
    for _ in range(2):  # the capture call and a replay
        replayed = float_outputs(steps.network())
        for key in eager:
            torch.testing.assert_close(replayed[key], eager[key], rtol=1e-4, atol=1e-4)
    # A new sequence (new template state) and a moved search crop: the replay must read the new inputs.
    other = synthetic_frame(seed=3)
    steps.tracker.initialize(other, {"init_bbox": [100.0, 120.0, 60.0, 50.0]})
    search = steps.tracker.crop(other, [110.0, 125.0, 60.0, 50.0], steps.tracker.params.search_factor,
                                steps.tracker.params.search_size)
    with torch.inference_mode():
        replayed = float_outputs(steps.tracker.forward_search(search))
        expected = float_outputs(steps.tracker.forward_tensors(*steps.tracker.search_tensors(search)))
    for key in expected:
        torch.testing.assert_close(replayed[key], expected[key], rtol=1e-4, atol=1e-4)


@gpu
@needs_cuda
@pytest.mark.parametrize("name, config", MODELS)
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_cuda_autocast_with_graph_close_to_fp32(name, config, dtype, tmp_path):
    steps = steps_for(name, config, tmp_path, "cuda")
    ref = float_outputs(steps.network())
    accelerate(steps.tracker, dtype, cuda_graph=True)
    out = float_outputs(steps.network())
    assert out["pred_boxes"].dtype == torch.float32
    assert float((out["pred_boxes"] - ref["pred_boxes"]).abs().max()) < 0.05


@gpu
@needs_cuda
@pytest.mark.parametrize("name, config", MODELS)
def test_cuda_batched_forward_equals_single(name, config, tmp_path):
    steps = steps_for(name, config, tmp_path, "cuda")
    single = float_outputs(steps.network())
    batched = steps.network_batch(3)
    assert len(batched) == 3
    for out in batched:
        out = float_outputs(out)
        for key in single:
            np.testing.assert_allclose(out[key].cpu().numpy(), single[key].cpu().numpy(), atol=1e-4)
