"""Items 3 and 9 of issue 24: results are tied to the checkpoint and config that made them; an unusable checkpoint
is reported once, before any sequence runs."""
import json
import os
from types import SimpleNamespace

import pytest
import torch

from lib.families import load_config
from lib.test.evaluation import running
from lib.test.evaluation.running import MANIFEST, ResultsMismatchError, claim_results_folder, run_dataset
from lib.test.evaluation.tracker import Tracker
from lib.utils.checkpoint import CheckpointError, save_checkpoint
from lib.utils.cli import run_main


@pytest.fixture
def toy_setup(tmp_path, toy_family):
    config = tmp_path / "exp.yaml"
    config.write_text("TEST:\n  EPOCH: 1\n")
    net = toy_family.build_model(load_config("toy", str(config)), False)
    for name, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        save_checkpoint(str(tmp_path / f"{name}.pth.tar"), {"net": {k: torch.randn_like(v) for k, v in
                                                                    net.state_dict().items()}})
    return tmp_path, str(config)


def tracker(root, config, checkpoint, opts=()):
    return Tracker("toy", config, results_path=str(root / "results"), checkpoint=str(root / checkpoint),
                   opts=list(opts))


def add_result(t: Tracker) -> str:
    path = os.path.join(t.results_dir, "lasot", "seq-1.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("1\t2\t3\t4\n")
    return path


def test_results_of_another_checkpoint_are_an_error_unless_overwrite(toy_setup, capsys):
    root, config = toy_setup
    first = tracker(root, config, "a.pth.tar")
    claim_results_folder(first)
    result = add_result(first)
    manifest = json.load(open(os.path.join(first.results_dir, MANIFEST)))
    assert manifest["checkpoint"].endswith("a.pth.tar") and len(manifest["checkpoint_sha256"]) == 64
    claim_results_folder(tracker(root, config, "a.pth.tar"))  # the same run again: reused
    with pytest.raises(ResultsMismatchError, match=r"a\.pth\.tar .*this run uses checkpoint .*b\.pth\.tar.*--overwrite"):
        claim_results_folder(tracker(root, config, "b.pth.tar"))
    assert os.path.exists(result)
    claim_results_folder(tracker(root, config, "b.pth.tar"), overwrite=True)
    assert not os.path.exists(result) and "removed 1 result files" in capsys.readouterr().out
    assert json.load(open(os.path.join(first.results_dir, MANIFEST)))["checkpoint"].endswith("b.pth.tar")


def test_results_of_other_overrides_are_an_error_and_a_copied_checkpoint_is_not(toy_setup):
    root, config = toy_setup
    first = tracker(root, config, "a.pth.tar")
    claim_results_folder(first)
    add_result(first)
    with pytest.raises(ResultsMismatchError, match=r"overrides \[\].*overrides \['TEST.SEARCH_SIZE', '64'\]"):
        claim_results_folder(tracker(root, config, "a.pth.tar", ["TEST.SEARCH_SIZE", "64"]))
    os.link(root / "a.pth.tar", root / "copy.pth.tar")
    claim_results_folder(tracker(root, config, "copy.pth.tar"))  # same content: same results


def test_an_unusable_checkpoint_is_reported_once_before_any_sequence(toy_setup, monkeypatch):
    root, config = toy_setup
    (root / "empty.pth.tar").write_bytes(b"")
    calls = []
    monkeypatch.setattr(running, "run_sequence", lambda *a, **k: calls.append(a))
    seqs = [SimpleNamespace(name=f"seq-{i}", dataset="lasot") for i in range(5)]
    with pytest.raises(CheckpointError, match=r"empty\.pth\.tar: the file is empty") as info:
        run_dataset(seqs, tracker(root, config, "empty.pth.tar"), progress=False)
    assert calls == [] and not os.path.exists(root / "results")
    save_checkpoint(str(root / "other.pth.tar"), {"net": {"x": torch.zeros(1)}})
    with pytest.raises(CheckpointError, match=r"other\.pth\.tar does not fit tracker 'toy'"):
        run_dataset(seqs, tracker(root, config, "other.pth.tar"), progress=False)
    assert calls == [] and "\n" not in str(info.value)


def test_test_py_overwrite_replaces_results_of_another_run(tmp_path, isolated_env, monkeypatch, capsys):
    import runpy
    import shutil
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, os.path.join(repo, "tracking", "make_synthetic_data.py"), "--data_dir",
                    str(tmp_path / "data"), "--benchmarks", "lasot", "--num_sequences", "2", "--num_frames", "5",
                    "--width", "64", "--height", "48"], check=True, capture_output=True, cwd=repo)
    isolated_env.setenv("TRACKZOO_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "results" / "hold" / "default"
    shutil.copytree(os.path.join(os.path.dirname(__file__), "corpus", "results", "other_checkpoint"), folder)
    monkeypatch.syspath_prepend(os.path.join(repo, "tracking"))
    test_main = runpy.run_path(os.path.join(repo, "tracking", "test.py"))["main"]

    def main(args):
        return run_main(test_main, args)
    argv = ["hold", "default", "--dataset", "lasot", "--only_present", "--no_progress", "--results_dir",
            str(tmp_path / "results")]
    assert main(argv) == 2 and "pass --overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    assert not (folder / "lasot" / "old-1.txt").exists() and len(os.listdir(folder / "lasot")) == 4
    assert json.load(open(folder / MANIFEST))["checkpoint_sha256"] is None
    assert main(argv) == 0 and "skipped (already done) 2" in capsys.readouterr().out


def test_an_in_process_cpu_run_builds_the_checked_network_once(toy_setup, monkeypatch):
    from lib.test.tracker import base

    root, config = toy_setup
    built = []
    build = base.build_network
    monkeypatch.setattr(base, "build_network", lambda params: built.append(params.device) or build(params))
    monkeypatch.setattr(base, "_network_cache", {})
    toy = tracker(root, config, "a.pth.tar")
    def run_sequence(seq, t, debug=0):  # loads the network as a tracker does; the toy family has no tracker
        base.load_network(t.get_parameters())
        return running.SequenceOutcome(seq.name, t.name, frames=1)
    monkeypatch.setattr(running, "run_sequence", run_sequence)
    seqs = [SimpleNamespace(name=f"seq-{i}", dataset="lasot") for i in range(3)]
    run_dataset(seqs, toy, progress=False)
    assert built == ["cpu"]
