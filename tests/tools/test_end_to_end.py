"""(slow) The researcher's loop through the real command lines on a tiny synthetic benchmark:
generate -> train (2-process gloo DDP; STARK-ST in two declared stages) -> test -> score, and the quickstart."""
import os
import subprocess
import sys

import pytest
import torch

from lib.utils.checkpoint import list_checkpoints

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow  # minutes on a CPU: `pytest -m slow` (CI runs it beside the default suite)
GOT10K_ONLY = ["DATA.TRAIN.DATASETS_NAME", "[GOT10K_train_full]", "DATA.TRAIN.DATASETS_RATIO", "[1]",
               "DATA.VAL.DATASETS_NAME", "[]", "DATA.VAL.DATASETS_RATIO", "[]",
               "DATA.TRAIN.SAMPLE_PER_EPOCH", "8", "TRAIN.BATCH_SIZE", "2", "TRAIN.NUM_WORKER", "0",
               "TRAIN.EPOCH", "1", "TEST.EPOCH", "1", "TRAIN.PRINT_INTERVAL", "1"]


def tool(env, name, *args):
    out = subprocess.run([sys.executable, os.path.join(REPO, "tracking", name), *args], env=env, cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "TRACKZOO_DATA_DIR": str(root / "data"), "TRACKZOO_SAVE_DIR": str(root),
           "TRACKZOO_WORKSPACE_DIR": str(root)}
    for bench, seed in (("got10k", "0"), ("lasot", "1")):
        tool(env, "make_synthetic_data.py", "--data_dir", str(root / "data"), "--benchmarks", bench, "--seed", seed,
             "--num_sequences", "3", "--num_frames", "24", "--width", "160", "--height", "120")
    env["ROOT"] = str(root)
    return env


def test_stark_s_trains_with_ddp_then_is_tested_and_scored(env):
    log = tool(env, "train.py", "--script", "stark_s", "--config", "tiny", "--mode", "multiple",
               "--nproc_per_node", "2", "--device", "cpu", "--opts", *GOT10K_ONLY)
    assert "on 2 process(es)" in log
    folder = os.path.join(env["ROOT"], "checkpoints", "train", "stark_s", "tiny")
    assert [e for e, _ in list_checkpoints(folder, "STARKS")] == [1]
    ckpt = torch.load(os.path.join(folder, "STARKS_ep0001.pth.tar"), weights_only=True)
    assert ckpt["epoch"] == 1 and "TRAIN:" in ckpt["config"]
    tool(env, "test.py", "stark_s", "tiny", "--dataset", "lasot", "--only_present", "--threads", "0",
         "--opts", "TEST.EPOCH", "1")
    table = tool(env, "analysis_results.py", "--dataset", "lasot", "--only_present", "--no_plots",
                 "--tracker", "stark_s:tiny:TinySTARK")
    assert "TinySTARK" in table and "3 / 3 sequences" in table


def test_stark_st_second_stage_starts_from_the_first_and_trains_only_the_score_head(env):
    tool(env, "train.py", "--script", "stark_st1", "--config", "tiny", "--mode", "single", "--device", "cpu",
         "--opts", *GOT10K_ONLY)
    tool(env, "train.py", "--script", "stark_st2", "--config", "tiny", "--mode", "single", "--device", "cpu",
         "--script_prv", "stark_st1", "--config_prv", "tiny", "--opts", *GOT10K_ONLY)
    first = torch.load(os.path.join(env["ROOT"], "checkpoints/train/stark_st1/tiny/STARKST_ep0001.pth.tar"),
                       weights_only=True)["net"]
    second = torch.load(os.path.join(env["ROOT"], "checkpoints/train/stark_st2/tiny/STARKST_ep0001.pth.tar"),
                        weights_only=True)["net"]
    changed = {k.split(".")[0] for k in second if k in first and not torch.equal(first[k], second[k])}
    assert changed == {"cls_head"}
    assert any(k.startswith("cls_head") for k in second)


def test_quickstart_runs_end_to_end_at_minimal_size(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(REPO, "tracking", "quickstart.py"), "--size", "tiny",
                          "--output_dir", str(tmp_path), "--threads", "0"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for name in ("TinySiam", "OpenCV-MIL", "HoldFirstBox"):
        assert name in out.stdout
    assert "$ python tracking/train.py --script tinysiam" in out.stdout
    for split in ("lasot", "tnl2k"):  # the synthetic split and the real-content (photographs) split
        assert os.path.exists(tmp_path / "test" / "result_plots" / split / "success_plot.png")
    again = subprocess.run([sys.executable, os.path.join(REPO, "tracking", "quickstart.py"), "--size", "tiny",
                            "--output_dir", str(tmp_path), "--threads", "0"], cwd=REPO, capture_output=True,
                           text=True)
    assert again.returncode == 0 and "already done" in again.stdout


def test_quickstart_training_is_deterministic_for_a_seed(env, tmp_path):
    """Same seed, same data, same environment: the same weights, bit for bit (data workers included)."""
    weights = []
    for run in ("a", "b"):
        tool({**env, "TRACKZOO_SAVE_DIR": str(tmp_path / run)}, "train.py", "--script", "tinysiam", "--config",
             "quickstart", "--mode", "single", "--device", "cpu", "--seed", "3", "--opts", "TRAIN.EPOCH", "1",
             "DATA.TRAIN.SAMPLE_PER_EPOCH", "32", "TRAIN.NUM_WORKER", "2")
        path = tmp_path / run / "checkpoints/train/tinysiam/quickstart/TinySiam_ep0001.pth.tar"
        weights.append(torch.load(path, weights_only=True)["net"])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
