"""Batched evaluation: N sequences in lockstep give each sequence the boxes it gets alone (1e-4, fp32), refill
slots from sequences of different lengths, write the usual result files, and refuse trackers without a batched
forward."""
from __future__ import annotations

import os

import numpy as np
import pytest

from lib import families
from lib.families import Family
from lib.test.evaluation import Sequence
from lib.test.evaluation import batched
from lib.test.evaluation.running import result_files, run_dataset
from lib.test.evaluation.tracker import Tracker
from lib.test.tracker.base import clear_network_cache
from lib.utils.cli import UserError, run_main

LENGTHS = (5, 3, 7, 1, 4)


def moving_square_sequence(name: str, frames: int, seed: int) -> Sequence:
    """A textured background with a bright square moving a few pixels per frame (frames kept in memory)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)
    images, x, y = {}, 30.0 + 5 * seed, 30.0
    for i in range(frames):
        image = background.copy()
        image[int(y):int(y) + 16, int(x):int(x) + 20] = 230
        images[str(i)] = image
        x, y = x + 3, y + 1.5
    gt = np.array([[30.0 + 5 * seed, 30.0, 20.0, 16.0]] * frames)
    return Sequence(name, list(images), "synthetic", gt, frame_loader=images.__getitem__)


@pytest.fixture
def sequences():
    return [moving_square_sequence(f"seq{i}", n, i) for i, n in enumerate(LENGTHS)]


def make_tracker(name: str, results: str, opts: list[str]) -> Tracker:
    return Tracker(name, "tiny", results_path=results, load_weights=False, device="cpu", opts=opts)


def captured_runs(monkeypatch, tracker: Tracker, sequences, batch: int) -> dict[str, np.ndarray]:
    """Boxes per sequence as run_dataset produces them, captured before they are rounded into files."""
    boxes = {}
    real_save = batched.save_results

    def keep(trk, seq, output):
        boxes[seq.name] = np.asarray(output["target_bbox"])
        real_save(trk, seq, output)

    monkeypatch.setattr(batched, "save_results", keep)
    summary = run_dataset(sequences, tracker, progress=False, batch_sequences=batch, debug=1)
    assert summary.ok and len(summary.done) == len(sequences)
    return boxes


@pytest.mark.parametrize("name, opts", [
    ("stark_s", []),
    ("stark_st", ["DATA.MAX_SAMPLE_INTERVAL", "2"]),  # dynamic templates may update every second frame
    ("ostrack", []),
    ("mstgt", []),  # carried tokens per sequence, the template encoded once per sequence
    ("tinysiam", ["TEST.SCALE_STEP", "0", "TEST.PIXEL_WEIGHT", "0"]),
    ("tinysiam", ["TEST.SCALE_STEP", "0", "TEST.PIXEL_WEIGHT", "0.5"]),  # pixel kernels of each sequence's size
])
def test_batched_equals_one_by_one(name, opts, sequences, tmp_path, monkeypatch):
    clear_network_cache()
    alone = make_tracker(name, str(tmp_path / "alone"), opts)
    expected = {seq.name: np.asarray(alone.run_sequence(seq)["target_bbox"]) for seq in sequences}
    together = make_tracker(name, str(tmp_path / "batched"), opts)
    got = captured_runs(monkeypatch, together, sequences, batch=3)
    assert set(got) == set(expected)
    for seq in sequences:
        assert got[seq.name].shape == (len(seq.frames), 4)
        np.testing.assert_allclose(got[seq.name], expected[seq.name], atol=1e-4, rtol=0)
        box_file, time_file = result_files(together, seq)
        assert os.path.isfile(box_file) and os.path.isfile(time_file)
    moved = max(float(np.abs(expected[s.name][-1] - expected[s.name][0]).max()) for s in sequences)
    assert moved > 0  # the trackers did move: the comparison is not between initial boxes only


class HoldTracker:
    def __init__(self, params):
        self.params = params


NO_BATCH = Family(name="nobatch", scripts={}, trackers={"nobatch": ""}, build_tracker=HoldTracker)


def test_tracker_without_batched_forward_is_refused(sequences, tmp_path):
    families.register(NO_BATCH)
    try:
        tracker = Tracker("nobatch", "x", results_path=str(tmp_path))
        with pytest.raises(UserError, match="--batch_sequences"):
            run_dataset(sequences, tracker, progress=False, batch_sequences=2)
        assert not os.path.exists(result_files(tracker, sequences[0])[0])
    finally:
        families.unregister(NO_BATCH.name)


def test_a_setting_that_needs_more_than_one_search_crop_is_refused_naming_it(sequences, tmp_path):
    tracker = make_tracker("tinysiam", str(tmp_path), ["TEST.SCALE_STEP", "0.05"])
    with pytest.raises(UserError, match="--batch_sequences: .*TEST.SCALE_STEP = 0.05"):
        run_dataset(sequences, tracker, progress=False, batch_sequences=2)
    assert not os.path.exists(result_files(tracker, sequences[0])[0])


def test_cli_flag(sequences, tmp_path, monkeypatch, capsys):
    import runpy

    import lib.test.evaluation as evaluation

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    monkeypatch.syspath_prepend(os.path.join(repo, "tracking"))
    cli = runpy.run_path(os.path.join(repo, "tracking", "test.py"), run_name="test_cli")
    monkeypatch.setattr(evaluation, "get_dataset", lambda name, only_present, settings=None: sequences)
    with pytest.raises(SystemExit) as exit_info:
        cli["parse_args"](["ostrack", "tiny", "--batch_sequences", "2", "--threads", "2"])
    assert exit_info.value.code == 2
    families.register(NO_BATCH)
    try:
        argv = ["nobatch", "x", "--batch_sequences", "2", "--results_dir", str(tmp_path), "--no_progress"]
        assert run_main(cli["main"], argv) == 2
    finally:
        families.unregister(NO_BATCH.name)
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --batch_sequences")
