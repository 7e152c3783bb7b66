"""tracking/analysis_results.py on the multi-modal benchmarks, with hand-written result folders: the community's
table and plots chosen from the dataset tag, and one `error:` line for a wrong protocol or missing confidences."""
import os
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis.multimodal import longterm_curves, longterm_frames, longterm_scores, longterm_thresholds
from lib.utils.cli import run_main
from tests.evaluation.test_analysis_cli import cli  # noqa: F401  (the fixture)

BOX = [20.0, 20.0, 30.0, 30.0]


def write_run(folder, tag, name, boxes, confidence=None):
    os.makedirs(os.path.join(folder, tag), exist_ok=True)
    base = os.path.join(folder, tag, name)
    np.savetxt(base + ".txt", boxes, fmt="%.4f", delimiter="\t")
    np.savetxt(base + "_time.txt", np.full(len(boxes), 0.05), fmt="%.6f")
    if confidence is not None:
        with open(base + "_outputs.txt", "w") as f:
            f.write("confidence\n" + "".join(f"{c:.6g}\n" for c in confidence))


@pytest.fixture
def toy(tmp_path):
    """Two sequences per multi-modal tag; tracker 'near' follows the box with small offsets, 'far' loses it halfway.
    The F-score datasets have NaN ground truth where the target is absent, and confidences."""
    rng = np.random.default_rng(11)
    sequences = {}
    for tag in ("lasher", "rgbt234", "visevent", "depthtrack", "vot_rgbd2022"):
        seqs = []
        for i in range(2):
            n = 30
            gt = np.array([BOX] * n) + np.column_stack([np.cumsum(rng.normal(0, 2, (n, 2)), axis=0), np.zeros((n, 2))])
            visible = np.ones(n, dtype=bool)
            if tag in ("depthtrack", "vot_rgbd2022", "visevent"):
                visible[20:24] = False
                if tag != "visevent":
                    gt[20:24] = np.nan
            seqs.append(SimpleNamespace(name=f"{tag}-{i}", dataset=tag, ground_truth_rect=gt, target_visible=visible,
                                        ground_truth_rect_aux=gt + 1.0))
            for config, shift in (("near", 2.0), ("far", 60.0)):
                boxes = np.nan_to_num(gt, nan=0.0) + np.where(np.arange(n)[:, None] >= 15, [shift, 0, 0, 0], 0)
                boxes[:, 2:] = BOX[2:]
                boxes[0] = gt[0]
                confidence = np.where(np.arange(n) >= 15, 0.3 if config == "far" else 0.8, 0.9)
                confidence[0] = np.nan
                write_run(str(tmp_path / "results" / "trk" / config), tag, f"{tag}-{i}", boxes, confidence)
        sequences[tag] = seqs
    return SimpleNamespace(sequences=sequences, results=str(tmp_path / "results"), plots=str(tmp_path / "plots"))


def run_cli(cli, toy, dataset, *extra):  # noqa: F811
    argv = ["--dataset", dataset, "--tracker", "trk:near:Near", "--tracker", "trk:far:Far",
            "--results_dir", toy.results, "--plot_dir", toy.plots, *extra]
    return run_main(lambda args: cli.main(args, dataset_loader=lambda name: toy.sequences[name]), argv)


@pytest.mark.parametrize("dataset,columns,plots", [
    ("lasher", ("PR", "NPR", "SR"), ("success_plot", "precision_plot", "norm_precision_plot")),
    ("rgbt234", ("MPR", "MSR"), ("success_plot", "precision_plot")),
    ("visevent", ("PR", "SR"), ("success_plot", "precision_plot")),
    ("depthtrack", ("Pr", "Re", "F-score"), ("pr_plot",)),
    ("vot_rgbd2022", ("Pr", "Re", "F-score"), ("pr_plot",)),
])
def test_each_benchmark_gets_its_table_and_plots(cli, toy, capsys, dataset, columns, plots):  # noqa: F811
    assert run_cli(cli, toy, dataset) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith(f"| {dataset}"))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == list(columns) + ["FPS"]
    rows = {line.split("|")[1].strip(): [float(v) for v in line.strip("|").split("|")[1:-1]]
            for line in out.splitlines() if line.startswith(("| Near", "| Far"))}
    assert rows["Near"][-1] > rows["Far"][-1] or rows["Near"][0] > rows["Far"][0]
    report = os.path.join(toy.plots, dataset)
    for stem in plots:
        for fmt in ("png", "pdf"):
            assert os.path.getsize(os.path.join(report, f"{stem}.{fmt}")) > 0
    assert sorted(f for f in os.listdir(report) if f.endswith(".png")) == sorted(f"{s}.png" for s in plots)


def test_f_score_table_equals_the_metric_functions(cli, toy, capsys):  # noqa: F811
    assert run_cli(cli, toy, "depthtrack", "--no_plots") == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| Near"))
    printed = [float(v) for v in row.strip("|").split("|")[1:4]]
    frames = []
    for seq in toy.sequences["depthtrack"]:
        base = os.path.join(toy.results, "trk", "near", "depthtrack", seq.name)
        confidence = np.loadtxt(base + "_outputs.txt", skiprows=1)
        frames.append(longterm_frames(np.loadtxt(base + ".txt"), seq.ground_truth_rect, seq.target_visible,
                                      confidence))
    thresholds = longterm_thresholds([c for _, c, _ in frames])
    curves = np.mean([longterm_curves(o, c, p, thresholds) for o, c, p in frames], axis=0)
    expected = longterm_scores(*curves)
    assert printed == pytest.approx([expected["Pr"], expected["Re"], expected["F-score"]], abs=0.006)
    # boxes reported while the target is absent lower precision; the first frame keeps recall below 1
    assert 0 < expected["Pr"] < 100 and 0 < expected["Re"] < 100


def test_missing_confidences_are_one_error_line_naming_the_file(cli, toy, capsys):  # noqa: F811
    missing = os.path.join(toy.results, "trk", "far", "depthtrack", "depthtrack-1_outputs.txt")
    os.remove(missing)
    assert run_cli(cli, toy, "depthtrack") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and missing in err[0] and "confidence" in err[0]
    with open(missing, "w") as f:  # a file without the column
        f.write("heavy_route\n" + "1\n" * 30)
    assert run_cli(cli, toy, "depthtrack") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no 'confidence' column" in err[0] and missing in err[0]


@pytest.mark.parametrize("dataset,protocol", [("depthtrack", "stark"), ("lasher", "rgbt234"),
                                              ("visevent", "vot_longterm"), ("rgbt234", "got10k")])
def test_wrong_protocol_for_the_dataset_is_one_error_line(cli, toy, capsys, dataset, protocol):  # noqa: F811
    assert run_cli(cli, toy, dataset, "--protocol", protocol) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --protocol {protocol}")


def test_generic_ope_protocol_still_scores_a_box_per_frame_benchmark(cli, toy, capsys):  # noqa: F811
    assert run_cli(cli, toy, "lasher", "--protocol", "pytracking", "--no_plots") == 0
    out = capsys.readouterr().out
    assert out.startswith("| lasher |   AUC |") and "protocol 'pytracking'" in out
