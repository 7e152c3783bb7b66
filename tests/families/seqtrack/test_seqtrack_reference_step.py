"""SeqTrack's reference step (benchmark_speed.py --reference) without the official repository: a stand-in checkout
with the release's call pattern (encoder on templates + [search], then `inference_decoder(xz, sequence, window,
seq_format)`) and its blocker (the encoder built with `pretrained=is_main_process()`, which downloads MAE weights)
must run, untouched, through the step file and the speed worker, with the [START] token, Hann window, template
slots and sequence format of the official tracker.

Against the real release (microsoft/VideoX at 1744b21, folder SeqTrack), `benchmark_speed.py --reference <checkout>
--models seqtrack:seqtrack_b256` ran and reported a max |diff| of 8.7e-11 (same box tokens, confidences equal to
float32 rounding)."""
import json
import textwrap

import numpy as np
import pytest
import torch

from lib.families import get_family
from tests.fixtures.official_checkout import checksums, run_in, run_worker, step_script, write_checkout

STEP_FILE = get_family("seqtrack").reference_step
BINS = 8

FILES = {
    "lib/__init__.py": "",
    "lib/utils/__init__.py": "",
    "lib/utils/misc.py": """
        def is_main_process():
            return True
        """,
    "lib/models/__init__.py": "",
    "lib/models/seqtrack/__init__.py": "from .seqtrack import build_seqtrack\n",
    "lib/models/seqtrack/encoder.py": """
        import torch
        from torch import nn
        from lib.utils.misc import is_main_process


        class Encoder(nn.Module):
            def __init__(self, pretrained):
                super().__init__()
                if pretrained:
                    raise RuntimeError("the release downloads the MAE weights here")
                self.proj = nn.Linear(3, 3, bias=False)

            def forward(self, images_list):
                return [self.proj(torch.stack(images_list, dim=1))]


        def build_encoder(cfg):
            return Encoder(pretrained=is_main_process())
        """,
    "lib/models/seqtrack/seqtrack.py": """
        import torch
        from torch import nn
        from lib.models.seqtrack.encoder import build_encoder


        class SEQTRACK(nn.Module):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder

            def forward_encoder(self, images_list):
                return self.encoder(images_list)

            def inference_decoder(self, xz, sequence, window=None, seq_format='xywh'):
                return {"pred_boxes": sequence.repeat(1, 4), "confidence": xz[-1].sum(dim=(1, 2)).repeat(4, 1).T,
                        "memory": xz[-1], "start": sequence,
                        "window": torch.zeros(0) if window is None else window, "seq_format": seq_format}


        def build_seqtrack(cfg):
            return SEQTRACK(build_encoder(cfg))
        """,
    "lib/config/__init__.py": "",
    "lib/config/seqtrack/config.py": f"""
        import json
        from types import SimpleNamespace

        cfg = SimpleNamespace(MODEL=SimpleNamespace(BINS={BINS}), DATA=SimpleNamespace(SEQ_FORMAT="xywh"),
                              TEST=SimpleNamespace(NUM_TEMPLATES=1, WINDOW=False))


        def update_config_from_file(filename):
            with open(filename) as f:
                for section, values in json.load(f).items():
                    vars(getattr(cfg, section)).update(values)
        """,
}
# Experiment files (JSON is YAML): what the official tracker reads at test time.
CONFIGS = {"seqtrack_b256": {"TEST": {"NUM_TEMPLATES": 2, "WINDOW": True}, "DATA": {"SEQ_FORMAT": "xywh"}},
           "seqtrack_plain": {"TEST": {"NUM_TEMPLATES": 1, "WINDOW": False}, "DATA": {"SEQ_FORMAT": "whxy"}}}


@pytest.fixture
def official(tmp_path):
    root = tmp_path / "SeqTrack"
    files = {**{name: textwrap.dedent(text) for name, text in FILES.items()},
             **{f"experiments/seqtrack/{name}.yaml": json.dumps(cfg) for name, cfg in CONFIGS.items()}}
    return write_checkout(root, files)


def weights_and_inputs() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    state = {"encoder.proj.weight": torch.randn(3, 3, generator=generator)}
    inputs = {"template": torch.randn(1, 3, generator=generator), "search": torch.randn(1, 3, generator=generator)}
    return state, inputs


def expected_memory(state: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor], templates: int) -> torch.Tensor:
    return torch.stack([inputs["template"]] * templates + [inputs["search"]], dim=1) @ state["encoder.proj.weight"].T


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_step_runs_the_release_untouched_as_its_tracker_calls_the_network(official, tmp_path, config):
    state, inputs = weights_and_inputs()
    torch.save({"state": state, "inputs": inputs}, tmp_path / "case.pt")
    before = checksums(official)
    config_file = official / "experiments" / "seqtrack" / f"{config}.yaml"
    script = step_script(STEP_FILE, tmp_path / "case.pt", f"""
        from lib.config.seqtrack import config
        config.update_config_from_file({str(config_file)!r})
        step = module.build_step("seqtrack", config.cfg, case["inputs"],
                                 lambda net: net.load_state_dict(case["state"], strict=True))
        out = step()
        print(json.dumps({{"memory": out["memory"].tolist(), "start": out["start"].tolist(),
                          "start_dtype": str(out["start"].dtype), "window": out["window"].tolist(),
                          "window_dtype": str(out["window"].dtype), "seq_format": out["seq_format"]}}))
        """)
    result = run_in(official, ["-c", script])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    test_cfg = CONFIGS[config]
    torch.testing.assert_close(torch.tensor(out["memory"]),
                               expected_memory(state, inputs, test_cfg["TEST"]["NUM_TEMPLATES"]))
    assert out["start"] == [[BINS + 1]] and out["start_dtype"] == "torch.int64"
    if test_cfg["TEST"]["WINDOW"]:
        assert out["window"] == [np.hanning(BINS).tolist()] and out["window_dtype"] == "torch.float64"
    else:
        assert out["window"] == []  # the stand-in's mark of window=None
    assert out["seq_format"] == test_cfg["DATA"]["SEQ_FORMAT"]
    assert checksums(official) == before


def test_the_speed_worker_times_it_and_saves_the_first_steps_outputs(official, tmp_path):
    state, inputs = weights_and_inputs()
    saved = run_worker(official, "seqtrack", STEP_FILE, official / "experiments" / "seqtrack" / "seqtrack_b256.yaml",
                       state, inputs, tmp_path / "work")
    memory = expected_memory(state, inputs, 2)
    torch.testing.assert_close(saved["memory"], memory)
    torch.testing.assert_close(saved["confidence"], memory.sum(dim=(1, 2)).repeat(4, 1).T)
    assert saved["pred_boxes"].tolist() == [[BINS + 1] * 4]


def test_our_step_returns_the_official_decoders_outputs_so_the_benchmark_compares_them(tmp_path):
    """The official inference_decoder returns pred_boxes (B, 4) tokens and confidence (B, 4): ours must name and
    shape them alike, or max_output_difference finds nothing to compare."""
    from lib.test.tracker.speed import bench_steps, build_bench_tracker

    out = bench_steps(build_bench_tracker("seqtrack", "tiny", str(tmp_path / "w.pth.tar"))).network()
    assert out["pred_boxes"].shape == out["confidence"].shape == (1, 4)
    assert out["pred_boxes"].dtype == torch.int64
