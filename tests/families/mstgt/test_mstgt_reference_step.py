"""MSTGT's reference step (benchmark_speed.py --reference) without the official repository: a stand-in checkout
with the release's two blockers (`build_MSTGT` imported by the package __init__ files but never defined; the
forward pass calling MSPG / STPG while the model defines MSVC / MSTG) must run, untouched, through the step file
and the speed worker, with the frame ids of the official tracker and the state carried on the model.

Against the real release (capf-2011/MSTGT at c8b199d), `benchmark_speed.py --reference <checkout> --models
mstgt:MSTGT-full-256` ran and reported a max |diff| of 2.0e-6 (see the README's MSTGT section)."""
import json

import pytest
import torch

from lib.families import get_family
from tests.fixtures.official_checkout import checksums, run_in, run_worker, step_script, write_checkout

STEP_FILE = get_family("mstgt").reference_step

FILES = {
    "lib/__init__.py": "",
    "lib/models/__init__.py": "from .mstgt.mstgt import build_MSTGT\n",
    "lib/models/mstgt/__init__.py": "from .mstgt import build_MSTGT\n",
    "lib/models/mstgt/mstgt.py": """
        import torch
        from torch import nn


        class Backbone(nn.Module):
            def __init__(self):
                super().__init__()
                self.MSVC = nn.Linear(4, 4, bias=False)
                self.MSTG = nn.Linear(4, 4, bias=False)

            def forward(self, z, x, frame_id):
                if frame_id <= 1:
                    self.STT = z
                self.STT = self.STPG(self.STT) + x
                return self.MSPG(self.STT)


        class MSTGT(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = Backbone()

            def forward(self, template, search, frame_id=-1, ce_template_mask=None):
                return {"pred_boxes": self.backbone(template, search, frame_id), "frame_id": torch.tensor(frame_id)}


        def build_mstgt(cfg, training=True):
            return MSTGT()
        """,
    "lib/config/__init__.py": "",
    "lib/config/mstgt/__init__.py": "",
    "lib/config/mstgt/config.py": """
        cfg = {}


        def update_config_from_file(filename):
            cfg["file"] = filename
        """,
}


@pytest.fixture
def official(tmp_path):
    return write_checkout(tmp_path / "MSTGT", FILES)


def weights_and_inputs():
    generator = torch.Generator().manual_seed(0)
    state = {"backbone.MSVC.weight": torch.randn(4, 4, generator=generator),
             "backbone.MSTG.weight": torch.randn(4, 4, generator=generator)}
    inputs = {"template": torch.randn(1, 4, generator=generator), "search": torch.randn(1, 4, generator=generator)}
    return state, inputs


def expected_outputs(state, inputs, frames: int) -> list[torch.Tensor]:
    stt, outs = inputs["template"], []
    for _ in range(frames):
        stt = stt @ state["backbone.MSTG.weight"].T + inputs["search"]
        outs.append(stt @ state["backbone.MSVC.weight"].T)
    return outs


def test_the_step_runs_the_broken_release_untouched_with_the_trackers_frame_ids(official, tmp_path):
    state, inputs = weights_and_inputs()
    torch.save({"state": state, "inputs": inputs}, tmp_path / "case.pt")
    before = checksums(official)
    script = step_script(STEP_FILE, tmp_path / "case.pt", f"""
        step = module.build_step("mstgt", {{}}, case["inputs"],
                                 lambda net: net.load_state_dict(case["state"], strict=True))
        outs = [step() for _ in range(3)]
        print(json.dumps([[int(o["frame_id"]), o["pred_boxes"].tolist()] for o in outs]))
        """)
    result = run_in(official, ["-c", script])
    assert result.returncode == 0, result.stderr
    outs = json.loads(result.stdout.strip().splitlines()[-1])
    assert [frame for frame, _ in outs] == [1, 2, 3]
    for (_, got), want in zip(outs, expected_outputs(state, inputs, 3)):
        torch.testing.assert_close(torch.tensor(got), want)
    assert checksums(official) == before


def test_the_speed_worker_times_it_and_saves_the_first_steps_outputs(official, tmp_path):
    state, inputs = weights_and_inputs()
    saved = run_worker(official, "mstgt", STEP_FILE, official / "MSTGT-full-256.yaml", state, inputs, tmp_path / "work")
    torch.testing.assert_close(saved["pred_boxes"], expected_outputs(state, inputs, 1)[0])


def test_the_benchmark_compares_from_a_fresh_start_like_the_official_first_step(tmp_path):
    from lib.test.tracker.speed import bench_steps, build_bench_tracker

    steps = bench_steps(build_bench_tracker("mstgt", "tiny", str(tmp_path / "w.pth.tar")))
    first = steps.network()["score_map"]
    later = [steps.network()["score_map"] for _ in range(2)][-1]
    assert not torch.equal(first, later)  # the carried tokens moved on
    steps.restart()
    assert torch.equal(steps.network()["score_map"], first)
