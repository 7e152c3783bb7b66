"""Test runner: result layout and format, resume, crash isolation, killed runs, worker processes, CLI."""
from __future__ import annotations

import os
import runpy

import cv2
import numpy as np
import pytest

from lib import families
from lib.families import Family
from lib.test.evaluation import Sequence
from lib.test.evaluation.running import result_files, run_dataset
from lib.test.evaluation.tracker import Tracker
from lib.utils.cli import UserError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEP = 0.25  # per-frame drift of the fake tracker: not an integer, so truncation would show


class DriftTracker:
    """Moves the first box right by STEP pixels per frame; fails on sequences named 'crash*'."""

    def __init__(self, params):
        self.params = params

    def initialize(self, image, info):
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        self.box = list(info["init_bbox"])
        self.crash = info["seq_name"].startswith("crash")

    def track(self, image, info=None):
        if self.crash:
            raise RuntimeError("simulated tracker failure")
        self.box[0] += STEP
        return {"target_bbox": list(self.box)}


def build_drift_tracker(params):
    return DriftTracker(params)


FAKE = Family(name="fakerun", scripts={}, trackers={"fakerun": ""}, build_tracker=build_drift_tracker)


@pytest.fixture
def fake_family():
    families.register(FAKE)
    yield FAKE
    families.unregister(FAKE.name)


def make_dataset(root, names, frames=4, tag="fakeset"):
    seqs = []
    for name in names:
        folder = os.path.join(root, "data", name)
        os.makedirs(folder, exist_ok=True)
        paths = []
        for i in range(frames):
            path = os.path.join(folder, f"{i + 1:08d}.jpg")
            cv2.imwrite(path, np.full((24, 32, 3), 40 * i, np.uint8))
            paths.append(path)
        gt = np.tile([[3.5, 4.0, 10.0, 8.0]], (frames, 1))
        seqs.append(Sequence(name, paths, tag, gt))
    return seqs


def read_boxes(path):
    with open(path) as f:
        return [[float(v) for v in line.rstrip("\n").split("\t")] for line in f]


def expected_boxes(frames):
    return [[3.5 + STEP * i, 4.0, 10.0, 8.0] for i in range(frames)]


def test_results_written_in_layout_and_format(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["a", "b"])
    tracker = Tracker("fakerun", "default", results_path=str(tmp_path / "results"), run_id=7)
    summary = run_dataset(seqs, tracker, progress=False)
    assert summary.ok and sorted(o.name for o in summary.done) == ["a", "b"]
    folder = tmp_path / "results" / "fakerun" / "default_007" / "fakeset"
    assert result_files(tracker, seqs[0]) == (str(folder / "a.txt"), str(folder / "a_time.txt"))
    assert read_boxes(folder / "a.txt") == expected_boxes(4)
    first_line = (folder / "a.txt").read_text().splitlines()[1]
    assert first_line == "3.7500\t4.0000\t10.0000\t8.0000"
    times = np.loadtxt(folder / "b_time.txt")
    assert times.shape == (4,) and np.all(times >= 0)
    assert sorted(os.listdir(folder)) == ["a.txt", "a_time.txt", "b.txt", "b_time.txt"]


class RecordingTracker(DriftTracker):
    """Reports the frame's drift and, on even frames only, a flag: the runner saves both per frame."""

    recorded_outputs = ("drift", "even")

    def initialize(self, image, info):
        super().initialize(image, info)
        self.frame = 0

    def track(self, image, info=None):
        out = super().track(image, info)
        self.frame += 1
        return {**out, "drift": STEP * self.frame, "even": 1.0 if self.frame % 2 == 0 else None, "ignored": 5}


def test_recorded_outputs_are_saved_per_frame_beside_the_boxes(tmp_path):
    from lib.test.analysis.packing import result_sequences

    family = Family(name="recordrun", scripts={}, trackers={"recordrun": ""}, build_tracker=RecordingTracker)
    families.register(family)
    try:
        seqs = make_dataset(tmp_path, ["a"], frames=4)
        tracker = Tracker("recordrun", "default", results_path=str(tmp_path / "results"))
        assert run_dataset(seqs, tracker, progress=False).ok
    finally:
        families.unregister(family.name)
    folder = tmp_path / "results" / "recordrun" / "default" / "fakeset"
    lines = (folder / "a_outputs.txt").read_text().splitlines()
    assert lines[0] == "drift\teven"
    rows = np.loadtxt(lines[1:], ndmin=2)
    expected = np.array([[np.nan, np.nan], [STEP, np.nan], [2 * STEP, 1.0], [3 * STEP, np.nan]])
    np.testing.assert_array_equal(rows, expected)
    assert list(result_sequences(str(folder))) == ["a"]  # a side file, not a sequence


def test_rerun_skips_finished_sequences(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["a", "b"])
    tracker = Tracker("fakerun", "default", results_path=str(tmp_path))
    run_dataset(seqs[:1], tracker, progress=False)
    box_file = result_files(tracker, seqs[0])[0]
    with open(box_file, "w") as f:
        f.write("sentinel\n")
    summary = run_dataset(seqs, tracker, progress=False)
    assert summary.skipped == ["a"] and [o.name for o in summary.done] == ["b"]
    assert open(box_file).read() == "sentinel\n"


def test_crashing_sequence_is_reported_and_others_finish(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["a", "crash_me", "c"])
    tracker = Tracker("fakerun", "default", results_path=str(tmp_path))
    summary = run_dataset(seqs, tracker, progress=False)
    assert not summary.ok
    assert [o.name for o in summary.failed] == ["crash_me"]
    assert "RuntimeError: simulated tracker failure" in summary.failed[0].error
    assert sorted(o.name for o in summary.done) == ["a", "c"]
    assert not os.path.exists(result_files(tracker, seqs[1])[0])
    assert os.path.exists(result_files(tracker, seqs[2])[0])


def test_debug_reraises(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["crash"])
    with pytest.raises(RuntimeError, match="simulated"):
        run_dataset(seqs, Tracker("fakerun", "default", results_path=str(tmp_path)), debug=1, progress=False)


def test_killed_run_leaves_nothing_counted_as_done(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["a"])
    tracker = Tracker("fakerun", "default", results_path=str(tmp_path))
    box_file, time_file = result_files(tracker, seqs[0])
    folder = os.path.dirname(box_file)
    os.makedirs(folder)
    # A run killed while writing the box file: the time file is complete, the box file only a temporary.
    with open(time_file, "w") as f:
        f.write("0.1\n")
    stale = os.path.join(folder, ".a.txt.k1ll3d.tmp")
    with open(stale, "w") as f:
        f.write("3.5\t4")
    summary = run_dataset(seqs, tracker, progress=False)
    assert summary.skipped == [] and [o.name for o in summary.done] == ["a"]
    assert read_boxes(box_file) == expected_boxes(4)
    assert len(np.loadtxt(time_file)) == 4
    assert not os.path.exists(stale)


def test_worker_processes_on_cpu(tmp_path, fake_family):
    seqs = make_dataset(tmp_path, ["a", "crash_b", "c"], frames=3)
    tracker = Tracker("fakerun", "default", results_path=str(tmp_path), device="cpu")
    summary = run_dataset(seqs, tracker, threads=2, num_gpus=1, progress=False)
    assert sorted(o.name for o in summary.done) == ["a", "c"]
    assert [o.name for o in summary.failed] == ["crash_b"]
    assert "simulated tracker failure" in summary.failed[0].error
    for seq in (seqs[0], seqs[2]):
        assert read_boxes(result_files(tracker, seq)[0]) == expected_boxes(3)


@pytest.fixture
def test_cli(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    return runpy.run_path(os.path.join(REPO, "tracking", "test.py"), run_name="test_cli")


def test_cli_runs_dataset_and_reports_failures(tmp_path, fake_family, test_cli, monkeypatch, capsys):
    import lib.test.evaluation as evaluation

    seqs = make_dataset(tmp_path, ["a", "crash_b"])
    monkeypatch.setattr(evaluation, "get_dataset", lambda name, only_present, settings=None: seqs if name == "fakeset" else [])
    argv = ["fakerun", "default", "--dataset", "fakeset", "--results_dir", str(tmp_path / "res"), "--device", "cpu",
            "--no_progress"]
    assert test_cli["main"](argv) == 1
    out = capsys.readouterr().out
    assert "failed: crash_b" in out and "done 1" in out
    assert os.path.isfile(tmp_path / "res" / "fakerun" / "default" / "fakeset" / "a.txt")
    assert test_cli["main"](argv + ["--sequence", "0"]) == 0
    assert "skipped (already done) 1" in capsys.readouterr().out


def test_cli_tracker_param_forms(fake_family, test_cli):
    resolve = test_cli["resolve_tracker"]
    assert resolve("fakerun", "default") == ("fakerun", "default")
    assert resolve(None, "FAKERUN-default") == ("fakerun", "default")
    args = test_cli["parse_args"](["--tracker_param", "fakerun-x", "--dataset_name", "got10k_test",
                                   "--threads", "8", "--num_gpus", "2"])
    assert (args.tracker_name, args.tracker_param, args.dataset_name, args.threads, args.num_gpus) == \
        ("fakerun", "x", "got10k_test", 8, 2)
    with pytest.raises(UserError, match="no_such_tracker"):
        test_cli["parse_args"](["no_such_tracker", "cfg"])


def test_cli_select_sequences(test_cli):
    seqs = [Sequence(n, [], "t", np.zeros((1, 4))) for n in ("x", "y")]
    select = test_cli["select_sequences"]
    assert [s.name for s in select(seqs, "1")] == ["y"]
    assert [s.name for s in select(seqs, "x")] == ["x"]
    with pytest.raises(UserError, match="--sequence zz"):
        select(seqs, "zz")


def test_cpu_workers_split_the_cores(monkeypatch):
    import torch

    from lib.test.evaluation import running

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    before = torch.get_num_threads()
    try:
        running._share_cpu_cores(4)
        assert os.environ["OMP_NUM_THREADS"] == "2"
        assert torch.get_num_threads() == 2
        assert cv2.getNumThreads() == 2
        running._share_cpu_cores(16)  # more workers than cores: one thread each, never zero
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        cv2.setNumThreads(-1)
