"""tracking/train.py: official command lines map onto torchrun / the worker, and the exit code comes back."""
import os
import subprocess
import sys

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
