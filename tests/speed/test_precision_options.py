"""test.py --dtype / --cuda_graph: the tracker's search step runs under autocast (per sequence and batched), the
results folder records the precision, and impossible combinations are refused before any sequence runs."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from lib.test.evaluation.running import MANIFEST, ResultsMismatchError, RunSummary, SequenceOutcome, run_dataset
from lib.test.evaluation.tracker import Tracker
from lib.test.parameter import TrackerParams
from lib.test.tracker.base import clear_network_cache
from lib.utils.cli import UserError
from tests.speed.test_batched import LENGTHS, captured_runs, moving_square_sequence


@pytest.fixture
def sequences():
    return [moving_square_sequence(f"seq{i}", n, i) for i, n in enumerate(LENGTHS)]


def stark_s(results: str, dtype: str) -> Tracker:
    return Tracker("stark_s", "tiny", results_path=results, load_weights=False, device="cpu", dtype=dtype)


def test_bf16_step_runs_under_autocast_alone_and_batched(sequences, tmp_path, monkeypatch):
    clear_network_cache()
    fp32 = {s.name: np.asarray(stark_s(str(tmp_path / "a"), "fp32").run_sequence(s)["target_bbox"])
            for s in sequences}
    bf16 = {s.name: np.asarray(stark_s(str(tmp_path / "b"), "bf16").run_sequence(s)["target_bbox"])
            for s in sequences}
    moved = max(float(np.abs(fp32[k][-1] - fp32[k][0]).max()) for k in fp32)
    difference = max(float(np.abs(bf16[k] - fp32[k]).max()) for k in fp32)
    assert moved > 1 and 0 < difference < 0.5  # another precision ran (not fp32), close to fp32 on this model

    together = captured_runs(monkeypatch, stark_s(str(tmp_path / "c"), "bf16"), sequences, batch=3)
    assert set(together) == set(bf16)
    for name, boxes in together.items():
        np.testing.assert_allclose(boxes, bf16[name], atol=1e-4, rtol=0)


def test_the_results_folder_records_the_precision(sequences, tmp_path):
    results = str(tmp_path / "res")
    tracker = stark_s(results, "bf16")
    assert run_dataset(sequences[:1], tracker, progress=False).ok
    with open(os.path.join(tracker.results_dir, MANIFEST)) as f:
        assert json.load(f)["dtype"] == "bf16"
    with pytest.raises(ResultsMismatchError, match="in bf16; this run uses .* in fp32"):
        run_dataset(sequences[:1], stark_s(results, "fp32"), progress=False)


@pytest.mark.parametrize("name, options, needle", [
    ("stark_s", {"dtype": "fp8"}, "--dtype fp8: choose fp32, fp16, bf16"),
    ("stark_s", {"cuda_graph": True}, "--cuda_graph needs --device cuda"),
    ("hold", {"dtype": "fp16"}, "tracker 'hold' has no network"),
])
def test_impossible_options_are_refused(name, options, needle):
    with pytest.raises(UserError, match=needle):
        TrackerParams.create(name, "tiny" if name == "stark_s" else "default", load_weights=False, device="cpu",
                             **options)


def test_tracking_fps_counts_the_frames_after_the_first():
    summary = RunSummary(done=[SequenceOutcome("a", "t", frames=11, seconds=0.5),
                               SequenceOutcome("b", "t", frames=6, seconds=0.25)])
    assert summary.tracking_fps() == pytest.approx(15 / 0.75)
    assert RunSummary().tracking_fps() is None


def test_cli_runs_in_bf16_and_reports_the_tracking_speed(sequences, tmp_path, monkeypatch, capsys):
    import runpy

    import lib.test.evaluation as evaluation
    from lib.test.tracker.speed import build_bench_tracker
    from lib.utils.cli import run_main

    weights = str(tmp_path / "weights.pth.tar")
    build_bench_tracker("stark_s", "tiny", weights)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    monkeypatch.syspath_prepend(os.path.join(repo, "tracking"))
    cli = runpy.run_path(os.path.join(repo, "tracking", "test.py"), run_name="test_cli")
    monkeypatch.setattr(evaluation, "get_dataset", lambda name, only_present, settings=None: sequences)
    argv = ["stark_s", "tiny", "--dataset", "lasot", "--checkpoint", weights, "--dtype", "bf16", "--device", "cpu",
            "--results_dir", str(tmp_path / "res"), "--no_progress"]
    assert run_main(cli["main"], argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "device cpu, bf16," in lines[0]
    assert lines[-1].startswith(f"done {len(sequences)}, skipped (already done) 0, failed 0; ")
    assert lines[-1].endswith(" frames/s of tracker time")
