"""The LaSOT reader's sequence list (testing_set.txt, the official list, or the folders), skipped sequences named,
no image file touched when scoring, and --data_dir on test.py / analysis_results.py."""
import importlib.util
import os

import numpy as np
import pytest

from lib.test.evaluation import get_dataset
from lib.test.evaluation.benchmark_tables import lasot_test_names
from lib.test.evaluation.datasets import build_eval_dataset
from lib.utils.cli import run_main
from lib.utils.env import env_settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _settings(data_dir):
    return env_settings(data_dir=str(data_dir), environ={}, local_loader=lambda: {})


def _lasot_sequence(root, name, n=6, seed=0):
    """Annotations only: no img/ folder, so any attempt to open a frame fails."""
    folder = root / "lasot" / name.rsplit("-", 1)[0] / name
    folder.mkdir(parents=True)
    gt = np.column_stack([np.random.default_rng(seed).integers(20, 80, (n, 2)), np.full((n, 2), 30)])
    np.savetxt(folder / "groundtruth.txt", gt, fmt="%d", delimiter=",")
    (folder / "full_occlusion.txt").write_text(",".join(["0"] * n) + "\n")
    (folder / "out_of_view.txt").write_text(",".join(["0"] * n) + "\n")
    return gt


def test_every_class_folder_is_read_when_there_is_no_list(tmp_path):
    names = ["cat-2", "cat-10", "cat-1", "robot-7", "zebra-3", "zebra-21"]  # none is an official test sequence
    for i, name in enumerate(names):
        _lasot_sequence(tmp_path, name, seed=i)
    (tmp_path / "lasot" / "README.txt").write_text("not a class")
    (tmp_path / "lasot" / "cat" / "notes").mkdir()  # not <class>-<n>
    seqs = get_dataset("lasot", settings=_settings(tmp_path))
    assert seqs.names() == ["cat-1", "cat-2", "cat-10", "robot-7", "zebra-3", "zebra-21"]


def test_testing_set_txt_decides_and_skipped_sequences_are_named(tmp_path, capsys):
    for name in ("cat-1", "cat-2", "dog-5"):
        _lasot_sequence(tmp_path, name)
    (tmp_path / "lasot" / "testing_set.txt").write_text("cat-2\ndog-5\nowl-9\nowl-10\n")
    with pytest.raises(FileNotFoundError, match=r"2 of 4 sequences are missing: owl-9, owl-10.*--only_present"):
        get_dataset("lasot", settings=_settings(tmp_path))
    seqs = get_dataset("lasot", only_present=True, settings=_settings(tmp_path))
    assert seqs.names() == ["cat-2", "dog-5"]  # cat-1 is on disk but not listed
    assert "evaluating 2 of 4 sequences; skipped (not present): owl-9, owl-10" in capsys.readouterr().out


def test_a_full_copy_evaluates_the_official_test_list(tmp_path):
    official = lasot_test_names()
    for name in official:
        folder = tmp_path / "lasot" / name.rsplit("-", 1)[0] / name
        folder.mkdir(parents=True)
        (folder / "groundtruth.txt").write_text("1,1,5,5\n")
    (tmp_path / "lasot" / "airplane" / "airplane-2").mkdir()  # a training sequence beside them
    assert build_eval_dataset("lasot", _settings(tmp_path)).sequence_names == list(official)


def _load(script):
    spec = importlib.util.spec_from_file_location(script, os.path.join(REPO, "tracking", f"{script}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_analysis_results_data_dir_scores_without_images(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    cli = _load("analysis_results")
    for i, name in enumerate(("cat-1", "cat-2")):
        gt = _lasot_sequence(tmp_path / "data", name, seed=i)
        results = tmp_path / "results" / "trk" / "cfg" / "lasot"
        results.mkdir(parents=True, exist_ok=True)
        np.savetxt(results / f"{name}.txt", gt, fmt="%d", delimiter="\t")
    argv = ["--dataset", "lasot", "--data_dir", str(tmp_path / "data"), "--tracker", "trk:cfg",
            "--results_dir", str(tmp_path / "results"), "--plot_dir", str(tmp_path / "plots"), "--no_plots"]
    assert run_main(cli.main, argv) == 0
    out = capsys.readouterr().out
    assert "Reporting results over 2 / 2 sequences" in out and "100.00" in out  # perfect boxes


def test_test_py_data_dir_reaches_the_reader(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    cli = _load("test")
    seen = {}

    def fake_get_dataset(name, only_present, settings):
        seen.update(name=name, lasot_path=settings.lasot_path)
        return []

    import lib.test.evaluation as evaluation
    monkeypatch.setattr(evaluation, "get_dataset", fake_get_dataset)
    argv = ["hold", "default", "--dataset", "lasot", "--data_dir", str(tmp_path / "d"), "--results_dir",
            str(tmp_path / "r"), "--device", "cpu", "--no_progress"]
    assert run_main(cli.main, argv) == 0
    assert seen == {"name": "lasot", "lasot_path": str(tmp_path / "d" / "lasot")}
