"""One training step of `sdstrack tiny_rgbd` (DATA.TRAIN.DATASETS_NAME: DepthTrack_train) on the synthetic DepthTrack
training layout, through the real command line: only --data_dir points it there; --opts only shortens the run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lib.synthetic import generate

REPO = Path(__file__).resolve().parents[2]


def test_tiny_rgbd_trains_one_step_on_synthetic_depthtrack(tmp_path):
    generate("depthtrack", tmp_path / "data" / "depthtrack", seed=1, width=160, height=120, num_sequences=2,
             num_frames=24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKZOO_")}
    command = [sys.executable, str(REPO / "tracking" / "train.py"), "--script", "sdstrack", "--config", "tiny_rgbd",
               "--mode", "single", "--device", "cpu", "--data_dir", str(tmp_path / "data"),
               "--save_dir", str(tmp_path / "out"), "--opts", "TRAIN.EPOCH", "1", "DATA.TRAIN.SAMPLE_PER_EPOCH", "4"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Loss/total" in done.stdout and "iter 1/1" in done.stdout
    assert (tmp_path / "out" / "checkpoints" / "train" / "sdstrack" / "tiny_rgbd" / "SDSTrack_ep0001.pth.tar").is_file()
