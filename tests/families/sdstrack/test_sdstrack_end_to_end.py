"""SDSTrack through the real command lines on the synthetic DepthTrack layout (default suite; about 25 s of CPU at
one thread): make_synthetic_data.py -> train.py tiny_rgbd -> test.py --dataset depthtrack (also with
TEST.MISSING_MODALITY aux) -> analysis_results.py printing the long-term precision, recall and F-score."""
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FRAMES = 24  # the training sampler wants sequences of at least 20 frames
SHORT_RUN = ["TRAIN.EPOCH", "1", "DATA.TRAIN.SAMPLE_PER_EPOCH", "8", "TRAIN.BATCH_SIZE", "2"]


def tool(env, name, *args):
    out = subprocess.run([sys.executable, os.path.join(REPO, "tracking", name), *args], env=env, cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def table_row(table, label):
    row = next(line for line in table.splitlines() if line.startswith(f"| {label} "))
    return [float(v) for v in row.strip("|").split("|")[1:]]


def test_sdstrack_trains_tracks_and_is_scored_on_synthetic_depthtrack(tmp_path):
    env = {**os.environ, "TRACKZOO_DATA_DIR": str(tmp_path / "data"), "TRACKZOO_SAVE_DIR": str(tmp_path),
           "TRACKZOO_WORKSPACE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}  # one thread: CPU time, no spinning
    tool(env, "make_synthetic_data.py", "--data_dir", str(tmp_path / "data"), "--benchmarks", "depthtrack",
         "--num_sequences", "2", "--num_frames", str(FRAMES), "--width", "96", "--height", "72")
    tool(env, "train.py", "--script", "sdstrack", "--config", "tiny_rgbd", "--mode", "single", "--device", "cpu",
         "--opts", *SHORT_RUN)
    assert os.path.isfile(tmp_path / "checkpoints/train/sdstrack/tiny_rgbd/SDSTrack_ep0001.pth.tar")

    test = ["sdstrack", "tiny_rgbd", "--dataset", "depthtrack", "--threads", "0", "--device", "cpu",
            "--no_progress", "--opts", "TEST.EPOCH", "1"]
    tool(env, "test.py", *test)
    results = tmp_path / "test/tracking_results/sdstrack"
    names = sorted(p.name[:-len("_outputs.txt")] for p in (results / "tiny_rgbd/depthtrack").glob("*_outputs.txt"))
    assert len(names) == 2
    for name in names:  # the per-frame confidence the long-term protocol thresholds
        lines = (results / "tiny_rgbd/depthtrack" / f"{name}_outputs.txt").read_text().splitlines()
        confidence = np.array(lines[1:], dtype=float)
        assert lines[0] == "confidence" and len(confidence) == FRAMES and np.isnan(confidence[0])
        assert ((confidence[1:] >= 0) & (confidence[1:] <= 1)).all()

    table = tool(env, "analysis_results.py", "--dataset", "depthtrack", "--tracker", "sdstrack:tiny_rgbd:TinySDS")
    assert "| depthtrack |   Pr |   Re | F-score |" in table and "2 / 2 sequences, protocol 'vot_longterm'" in table
    precision, recall, f_score, _fps = table_row(table, "TinySDS")
    assert 0 <= min(precision, recall, f_score) and max(precision, recall, f_score) <= 100
    assert os.path.getsize(tmp_path / "test/result_plots/depthtrack/pr_plot.png") > 0

    # the paper's modality-absence experiment: the depth stream blanked, results in run 1
    tool(env, "test.py", *test[:-3], "--runid", "1", "--opts", "TEST.EPOCH", "1", "TEST.MISSING_MODALITY", "aux")
    full, blanked = ([np.loadtxt(results / run / "depthtrack" / f"{names[0]}.txt") for run in
                      ("tiny_rgbd", "tiny_rgbd_001")])
    assert full.shape == blanked.shape and not np.allclose(full[1:], blanked[1:])
    table = tool(env, "analysis_results.py", "--dataset", "depthtrack", "--runs", "1", "--no_plots",
                 "--tracker", "sdstrack:tiny_rgbd:NoDepth")
    assert len(table_row(table, "NoDepth")) == 4
