"""tracking/train.py: official command lines map onto torchrun / the worker, and the exit code comes back."""
import os
import subprocess
import sys

import pytest

from lib.train import run_training
from lib.utils.cli import UserError
from lib.utils.env import MissingPathError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(REPO, "tracking", "train.py")


def run(*args):
    return subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, cwd=REPO)


def test_multiple_mode_builds_a_torchrun_command_with_stage_arguments():
    out = run("--script", "stark_st2", "--config", "baseline", "--save_dir", ".", "--mode", "multiple",
              "--nproc_per_node", "8", "--script_prv", "stark_st1", "--config_prv", "baseline", "--dry_run")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert "-m torch.distributed.run --nproc_per_node 8 --standalone" in line
    assert line.split("torch.distributed.run")[1].split()[3].endswith("lib/train/run_training.py")
    assert "--script_prv stark_st1 --config_prv baseline" in line


def test_multi_node_flags_pass_through():
    out = run("--script", "x", "--config", "y", "--nproc_per_node", "4", "--nnodes", "2", "--node_rank", "1",
              "--master_addr", "10.0.0.1", "--master_port", "29555", "--dry_run")
    assert "--nnodes 2 --node_rank 1 --master_addr 10.0.0.1 --master_port 29555" in out.stdout


def test_worker_failure_exit_code_is_propagated(tmp_path):
    out = run("--script", "no_such_script", "--config", "baseline", "--mode", "single", "--save_dir", str(tmp_path))
    assert out.returncode != 0
    assert "unknown script 'no_such_script'" in out.stderr


def test_a_mistyped_previous_stage_fails_in_the_launcher_in_one_line(tmp_path):
    out = run("--script", "stark_st2", "--config", "baseline", "--save_dir", str(tmp_path), "--mode", "multiple",
              "--nproc_per_node", "2", "--script_prv", "stark_st1", "--config_prv", "baselin")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith("error: --script_prv stark_st1 --config_prv baselin: no experiment file")
    assert "launching" not in out.stdout  # no process was started


def _stage2_args(tmp_path, *extra):
    return run_training.parse_args(["--script", "stark_st2", "--config", "tiny", "--save_dir", str(tmp_path / "out"),
                                    "--data_dir", str(tmp_path / "data"), *extra])


def _make_dataset_folders(tmp_path):
    # stark_st2/tiny trains on LASOT, GOT10K_vottrain, COCO17 and TRACKINGNET and validates on GOT10K_votval.
    for folder in ("lasot", "got10k/train", "coco", "trackingnet"):
        (tmp_path / "data" / folder).mkdir(parents=True)


def test_the_launcher_checks_the_dataset_folders(tmp_path):
    with pytest.raises(MissingPathError, match="training dataset LASOT: path 'lasot_dir'.* --data_dir DIR"):
        run_training.check_before_launch(_stage2_args(tmp_path))
    _make_dataset_folders(tmp_path)
    (tmp_path / "data" / "coco").rmdir()
    with pytest.raises(MissingPathError, match="coco_dir"):
        run_training.check_before_launch(_stage2_args(tmp_path))


def test_the_launcher_checks_the_previous_stage_checkpoint_unless_the_run_resumes(tmp_path):
    _make_dataset_folders(tmp_path)
    with pytest.raises(MissingPathError, match="TRAIN.INIT_FROM 'stark_st1:tiny': no checkpoint"):
        run_training.check_before_launch(_stage2_args(tmp_path))
    own = tmp_path / "out" / "checkpoints" / "train" / "stark_st2" / "tiny"
    own.mkdir(parents=True)
    (own / "STARKST_ep0002.pth.tar").write_bytes(b"")
    assert run_training.check_before_launch(_stage2_args(tmp_path)).TRAIN.INIT_FROM == "stark_st1:tiny"  # resumes
    with pytest.raises(MissingPathError, match="no checkpoint"):
        run_training.check_before_launch(_stage2_args(tmp_path, "--resume", "none"))
    stage1 = tmp_path / "out" / "checkpoints" / "train" / "stark_st1" / "tiny"
    stage1.mkdir(parents=True)
    (stage1 / "STARKST_ep0010.pth.tar").write_bytes(b"")
    run_training.check_before_launch(_stage2_args(tmp_path, "--resume", "none"))


def test_the_launcher_checks_a_resume_file(tmp_path):
    _make_dataset_folders(tmp_path)
    with pytest.raises(MissingPathError, match="--resume .*no such file"):
        run_training.check_before_launch(_stage2_args(tmp_path, "--resume", str(tmp_path / "nothing.pth.tar")))


def test_the_launcher_checks_the_device(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(UserError, match="--device cuda, but CUDA is not available"):
        run_training.check_before_launch(_stage2_args(tmp_path, "--device", "cuda"))
