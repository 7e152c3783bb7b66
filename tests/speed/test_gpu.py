"""CUDA paths (`pytest -m gpu`, wherever CUDA exists): graph replay equals the eager step and follows new
templates and search crops (and carries MSTGT's tokens), fp16/bf16 with graphs stay within tolerance of fp32, the
batched forward equals the single one; test.py runs (tracker objects) in fp16 with graphs stay close to fp32, and
batched runs refuse graphs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.test.tracker.accel import accelerate
from lib.test.tracker.speed import synthetic_frame
from tests.speed.test_accel import MODELS, NO_CE, assert_close_to_scale, float_outputs, steps_for

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(params=MODELS, ids=lambda m: ":".join(m))
def steps(request, tmp_path):
    return steps_for(*request.param, tmp_path, "cuda")


def test_cuda_graph_replay_equals_eager(steps):
    eager = float_outputs(steps.network())
    accelerate(steps.tracker, "fp32", cuda_graph=True)
    for _ in range(2):  # the capture call and a replay
        replayed = float_outputs(steps.network())
        for key in eager:
            torch.testing.assert_close(replayed[key], eager[key], rtol=1e-4, atol=1e-4)
    # A new sequence (new template state) and a moved search crop: the replay must read the new inputs.
    other = synthetic_frame(seed=3, channels=steps.tracker.preprocessor.channels)
    steps.tracker.initialize(other, {"init_bbox": [100.0, 120.0, 60.0, 50.0]})
    search = steps.tracker.crop(other, [110.0, 125.0, 60.0, 50.0], steps.tracker.params.search_factor,
                                steps.tracker.params.search_size)
    with torch.inference_mode():
        replayed = float_outputs(steps.tracker.forward_search(search))
        expected = float_outputs(steps.tracker.forward_tensors(*steps.tracker.search_tensors(search)))
    for key in expected:
        torch.testing.assert_close(replayed[key], expected[key], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, config", MODELS)
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_autocast_with_graph_close_to_fp32(name, config, dtype, tmp_path):
    steps = steps_for(name, config, tmp_path, "cuda", NO_CE if name == "ostrack" else ())
    ref = float_outputs(steps.network())
    accelerate(steps.tracker, dtype, cuda_graph=True)
    assert_close_to_scale(float_outputs(steps.network()), ref, 0.02)


def test_batched_forward_equals_single(steps):
    single = float_outputs(steps.network())
    batched = steps.network_batch(3)
    assert len(batched) == 3
    for out in batched:
        out = float_outputs(out)
        for key in single:
            np.testing.assert_allclose(out[key].cpu().numpy(), single[key].cpu().numpy(), atol=1e-4)


def test_cuda_graph_replay_carries_mstgt_tokens_across_frames(tmp_path):
    steps = steps_for("mstgt", "tiny", tmp_path, "cuda")
    eager = [float_outputs(steps.network()) for _ in range(3)]  # frame 1 starts the tokens, 2 and 3 carry them
    steps.restart()
    accelerate(steps.tracker, "fp32", cuda_graph=True)
    for expected in eager:
        replayed = float_outputs(steps.network())
        for key in expected:
            torch.testing.assert_close(replayed[key], expected[key], rtol=1e-4, atol=1e-4)


def test_test_runs_with_fp16_and_cuda_graphs_stay_close_to_fp32(tmp_path):
    from lib.test.evaluation.tracker import Tracker
    from tests.speed.test_batched import LENGTHS, moving_square_sequence

    sequences = [moving_square_sequence(f"seq{i}", n, i) for i, n in enumerate(LENGTHS)]

    def boxes(**options):
        tracker = Tracker("stark_s", "tiny", results_path=str(tmp_path), load_weights=False, device="cuda",
                          **options)
        return {s.name: np.asarray(tracker.run_sequence(s)["target_bbox"]) for s in sequences}

    fp32, fast = boxes(), boxes(dtype="fp16", cuda_graph=True)
    assert max(float(np.abs(fast[k] - fp32[k]).max()) for k in fp32) < 0.5


def test_batched_runs_refuse_cuda_graphs(tmp_path):
    from lib.test.evaluation.running import run_dataset
    from lib.test.evaluation.tracker import Tracker
    from lib.utils.cli import UserError
    from tests.speed.test_batched import moving_square_sequence

    tracker = Tracker("stark_s", "tiny", results_path=str(tmp_path), load_weights=False, device="cuda",
                      cuda_graph=True)
    with pytest.raises(UserError, match="--cuda_graph replays one sequence"):
        run_dataset([moving_square_sequence("a", 3, 0)], tracker, progress=False, batch_sequences=2)
