"""(slow) DynamicTrack's two steps through tracking/train.py alone (step 2 declares TRAIN.INIT_FROM and TRAINABLE
[router]; no source edit, no checkpoint surgery), then the threshold sweep command on a synthetic benchmark.
About 1.5 minutes on a CPU; tests/families/dynamictrack/test_dynamictrack.py checks the step-2 update in process."""
import csv
import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DATA = ["DATA.TRAIN.DATASETS_NAME", "[GOT10K_train_full]", "DATA.TRAIN.DATASETS_RATIO", "[1]",
        "DATA.VAL.DATASETS_NAME", "[]", "DATA.VAL.DATASETS_RATIO", "[]", "DATA.TRAIN.SAMPLE_PER_EPOCH", "8",
        "TRAIN.BATCH_SIZE", "2", "TRAIN.NUM_WORKER", "0", "TRAIN.EPOCH", "1", "TEST.EPOCH", "1"]


def run(env, *args):
    out = subprocess.run([sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, f"{args[:3]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("dynamictrack")
    env = {**os.environ, "TRACKZOO_DATA_DIR": str(root / "data"), "TRACKZOO_SAVE_DIR": str(root),
           "TRACKZOO_WORKSPACE_DIR": str(root), "ROOT": str(root)}
    for bench, seed, frames in (("got10k", "0", "24"), ("lasot", "1", "12")):  # training samples need 20 frames
        run(env, "tracking/make_synthetic_data.py", "--data_dir", str(root / "data"), "--benchmarks", bench,
            "--seed", seed, "--num_sequences", "2", "--num_frames", frames, "--width", "160", "--height", "120")
    return env


def _weights(env, config):
    path = os.path.join(env["ROOT"], "checkpoints", "train", "dynamictrack", config, "STARKS_ep0001.pth.tar")
    return torch.load(path, weights_only=True)["net"]


@pytest.fixture(scope="module")
def trained(env):
    run(env, "tracking/train.py", "--script", "dynamictrack", "--config", "tiny", "--mode", "single", "--device",
        "cpu", "--opts", *DATA)
    run(env, "tracking/train.py", "--script", "dynamictrack", "--config", "tiny_step2", "--mode", "single",
        "--device", "cpu", "--opts", *DATA)
    return _weights(env, "tiny"), _weights(env, "tiny_step2")


def test_step2_starts_from_step1_and_changes_only_the_router(trained):
    first, second = trained
    assert not any(k.startswith("router") for k in first)
    assert set(second) - set(first) == {"router.layer1.weight", "router.layer1.bias", "router.layer2.weight",
                                        "router.layer2.bias"}
    assert all(torch.equal(first[k], second[k]) for k in first)  # every step-1 weight, frozen BN stats included


def test_sweep_writes_table_and_plot_with_heavy_fraction_rising_with_threshold(env, trained):
    out_dir = os.path.join(env["ROOT"], "sweep")
    printed = run(env, "-m", "lib.families.dynamictrack.sweep", "--config", "tiny_step2", "--dataset", "lasot",
                  "--only_present", "--device", "cpu", "--out", out_dir)
    with open(os.path.join(out_dir, "sweep.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["threshold"]) for r in rows] == [0.0, 0.25, 0.5, 0.75, 1.0]
    fractions = [float(r["heavy_fraction"]) for r in rows]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0  # 0: never heavy; 1: always (a sigmoid is below 1)
    assert fractions == sorted(fractions)
    assert all(int(r["frames"]) == 2 * 11 for r in rows)  # 2 sequences x 11 tracked frames
    assert all(0 <= float(r["score"]) <= 100 and float(r["FPS"]) > 0 for r in rows)
    assert os.path.getsize(os.path.join(out_dir, "sweep.png")) > 0 and "| threshold |" in printed
    assert os.path.isdir(os.path.join(env["ROOT"], "test", "tracking_results", "dynamictrack", "tiny_step2_050")) \
        or any("tiny_step2_050" in d for d, _, _ in os.walk(env["ROOT"]))
