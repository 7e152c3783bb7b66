"""Mixed precision on the CPU: bf16 autocast stays close to fp32 and returns float32; wrong options fail with one
message. The CUDA paths are in test_gpu.py."""
from __future__ import annotations

import pytest
import torch

from lib.test.tracker.accel import accelerate
from lib.test.tracker.speed import bench_steps, build_bench_tracker
from lib.utils.cli import UserError

MODELS = [("stark_st", "tiny"), ("ostrack", "tiny")]
# Candidate elimination keeps the top-k search tokens: a discrete choice that reduced precision may flip (on random
# weights easily), after which outputs differ by design. Precision is compared without it.
NO_CE = ["MODEL.BACKBONE.CE_LOC", "[]", "MODEL.BACKBONE.CE_KEEP_RATIO", "[]"]


def steps_for(name: str, config: str, tmp_path, device: str = "cpu", opts: list[str] = ()):
    return bench_steps(build_bench_tracker(name, config, str(tmp_path / "w.pth.tar"), device, opts))


def assert_close_to_scale(out: dict, ref: dict, tolerance: float) -> None:
    """Every floating output within `tolerance` of its own largest magnitude."""
    assert out.keys() == ref.keys()
    for key in ref:
        assert out[key].dtype == torch.float32
        scale = float(ref[key].abs().max()) or 1.0
        assert float((out[key] - ref[key]).abs().max()) <= tolerance * scale, key


def float_outputs(out: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor) and v.is_floating_point()}


@pytest.mark.parametrize("name, config", MODELS)
def test_bf16_autocast_close_to_fp32_and_returns_float32(name, config, tmp_path):
    steps = steps_for(name, config, tmp_path, opts=NO_CE if name == "ostrack" else ())
    ref = float_outputs(steps.network())
    accelerate(steps.tracker, "bf16")
    # bf16 keeps 8 bits of mantissa (relative rounding 4e-3 per operation).
    assert_close_to_scale(float_outputs(steps.network()), ref, 0.02)
    assert len(steps.whole()["target_bbox"]) == 4


def test_options_checked(tmp_path):
    steps = steps_for("ostrack", "tiny", tmp_path)
    with pytest.raises(UserError, match="--cuda_graph"):
        accelerate(steps.tracker, "fp32", cuda_graph=True)
    with pytest.raises(UserError, match="--dtype"):
        accelerate(steps.tracker, "int8")
