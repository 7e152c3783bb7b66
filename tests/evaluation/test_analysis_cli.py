"""tracking/analysis_results.py end to end on small synthetic results: table, CSV, LaTeX, plots, legend order,
missing-result errors."""
import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.plots import build_figures, legend_entries
from lib.test.analysis.results import TrackerSpec
from lib.utils.cli import UserError, run_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def cli(monkeypatch):
    """tracking/analysis_results.py as a module, its folder importable as when the script runs by path."""
    monkeypatch.syspath_prepend(os.path.join(REPO, "tracking"))
    spec = importlib.util.spec_from_file_location("analysis_results_cli",
                                                  os.path.join(REPO, "tracking", "analysis_results.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def synthetic(tmp_path):
    """3 LaSOT-tagged sequences; tracker 'good' (small noise) and 'bad' (large noise), results in our layout."""
    rng = np.random.default_rng(7)
    seqs = []
    for i in range(3):
        n = 40
        gt = np.column_stack([rng.uniform(50, 200, (n, 2)), rng.uniform(20, 60, (n, 2))]).round()
        seqs.append(SimpleNamespace(name=f"cls-{i + 1}", dataset="lasot", ground_truth_rect=gt,
                                    target_visible=rng.random(n) > 0.1))
    results = tmp_path / "results"
    for config, sigma in (("good", 2.0), ("bad", 15.0)):
        folder = results / "trk" / config / "lasot"
        folder.mkdir(parents=True)
        for s in seqs:
            p = s.ground_truth_rect + rng.normal(0, sigma, s.ground_truth_rect.shape)
            p[:, 2:] = np.abs(p[:, 2:])
            p[5, 2] = 0  # a zero-size box
            np.savetxt(folder / f"{s.name}.txt", p, fmt="%.4f", delimiter="\t")
            np.savetxt(folder / f"{s.name}_time.txt", np.full(len(p), 0.02), fmt="%.6f")
    return SimpleNamespace(seqs=seqs, results=str(results), plots=str(tmp_path / "plots"))


def run_cli(cli, synthetic, *extra):
    argv = ["--dataset", "lasot", "--tracker", "trk:bad:Bad Tracker", "--tracker", "trk:good:Good",
            "--results_dir", synthetic.results, "--plot_dir", synthetic.plots, *extra]
    return run_main(lambda args: cli.main(args, dataset_loader=lambda name: synthetic.seqs), argv)


def test_cli_writes_table_csv_latex_and_plots(cli, synthetic, capsys):
    assert run_cli(cli, synthetic) == 0
    out = capsys.readouterr().out
    for column in ("AUC", "OP50", "OP75", "Precision", "Norm Precision", "FPS"):
        assert column in out
    assert "Reporting results over 3 / 3 sequences" in out
    report = os.path.join(synthetic.plots, "lasot")
    for name in ("results.txt", "results.csv", "results.tex", "per_sequence_ao.csv", "success_plot.png",
                 "success_plot.pdf", "precision_plot.png", "precision_plot.pdf", "norm_precision_plot.png",
                 "norm_precision_plot.pdf"):
        assert os.path.getsize(os.path.join(report, name)) > 0, name
    with open(os.path.join(report, "success_plot.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(report, "success_plot.pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"

    with open(os.path.join(report, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["Tracker"] for r in rows] == ["Bad Tracker", "Good"]
    assert float(rows[1]["AUC"]) > float(rows[0]["AUC"])
    assert float(rows[0]["FPS"]) == pytest.approx(50.0)
    tex = open(os.path.join(report, "results.tex")).read()
    assert r"\begin{tabular}" in tex and "Good &" in tex and r"\textbf{" in tex
    assert os.path.isfile(os.path.join(synthetic.plots, "cache", "lasot", "trk__good.npz"))


def test_cli_numbers_match_library(cli, synthetic, capsys):
    assert run_cli(cli, synthetic, "--no_plots", "--protocol", "pytracking") == 0
    rows = list(csv.DictReader(open(os.path.join(synthetic.plots, "lasot", "results.csv"))))
    ev = evaluate([TrackerSpec("trk", "good")], synthetic.seqs, synthetic.results, ScoringRules("pytracking"))
    assert float(rows[1]["AUC"]) == pytest.approx(ev.scores()[0]["AUC"], abs=1e-4)
    assert not os.path.exists(os.path.join(synthetic.plots, "lasot", "success_plot.png"))


def test_legend_is_name_and_score_ordered_by_score(synthetic):
    ev = evaluate([TrackerSpec("trk", "bad", display_name="Bad"), TrackerSpec("trk", "good", display_name="Good")],
                  synthetic.seqs, synthetic.results)
    figures = build_figures(ev, "lasot")
    for kind, column in (("success", "AUC"), ("precision", "Precision"), ("norm_precision", "Norm Precision")):
        texts = [t.get_text() for t in figures[kind].axes[0].get_legend().get_texts()]
        scores = {label: s[column] for label, s in zip(ev.labels, ev.scores())}
        assert texts == [f"Good [{scores['Good']:.1f}]", f"Bad [{scores['Bad']:.1f}]"], kind
    assert [e[1] for e in legend_entries(["a", "b", "c"], np.array([1.0, 3.0, 2.0]))] == ["b [3.0]", "c [2.0]",
                                                                                          "a [1.0]"]


def test_cli_missing_results_names_tracker_and_sequences(cli, synthetic, capsys):
    os.remove(os.path.join(synthetic.results, "trk", "good", "lasot", "cls-2.txt"))
    assert run_cli(cli, synthetic) == 2
    err = capsys.readouterr().err
    assert "'Good'" in err and "cls-2" in err and "cls-1," not in err and "--skip_missing" in err
    assert run_cli(cli, synthetic, "--skip_missing", "--no_plots") == 0
    assert "Reporting results over 2 / 3 sequences" in capsys.readouterr().out


def test_cli_runs_and_sequence_selection(cli, synthetic, capsys):
    for run in (0, 1):
        src = os.path.join(synthetic.results, "trk", "good")
        dst = os.path.join(synthetic.results, "trk", f"good_{run:03d}")
        shutil.copytree(src, dst)
    rc = cli.main(["--dataset", "lasot", "--tracker", "trk:good", "--runs", "0", "1", "--sequences", "cls-1",
                   "--results_dir", synthetic.results, "--plot_dir", synthetic.plots, "--no_plots"],
                  dataset_loader=lambda name: synthetic.seqs)
    assert rc == 0
    assert "Reporting results over 1 / 1 sequences" in capsys.readouterr().out
    with pytest.raises(UserError, match="--sequences: unknown sequences"):
        cli.main(["--dataset", "lasot", "--tracker", "trk:good", "--sequences", "nope",
                  "--results_dir", synthetic.results, "--plot_dir", synthetic.plots],
                 dataset_loader=lambda name: synthetic.seqs)


def test_cli_without_tracker_reports_every_folder_with_results_for_the_dataset(cli, synthetic, capsys):
    """The official command line, `python tracking/analysis_results.py`: LaSOT and every tracker that has results
    for it; a folder with results for other sequences only, and one without results, are not rows."""
    other = os.path.join(synthetic.results, "trk", "other_dataset", "got10k")
    os.makedirs(other)
    shutil.copy(os.path.join(synthetic.results, "trk", "good", "lasot", "cls-1.txt"),
                os.path.join(other, "GOT-10k_Test_000001.txt"))
    os.makedirs(os.path.join(synthetic.results, "empty_script", "cfg"))
    shutil.copytree(os.path.join(synthetic.results, "trk", "good"), os.path.join(synthetic.results, "abc", "flat"))
    flat = os.path.join(synthetic.results, "abc", "flat")
    for name in os.listdir(os.path.join(flat, "lasot")):  # the flat STARK layout counts too
        os.replace(os.path.join(flat, "lasot", name), os.path.join(flat, name))
    os.rmdir(os.path.join(flat, "lasot"))
    asked = []

    def loader(name):
        asked.append(name)
        return synthetic.seqs

    argv = ["--results_dir", synthetic.results, "--plot_dir", synthetic.plots, "--no_plots"]
    assert run_main(lambda args: cli.main(args, dataset_loader=loader), argv) == 0
    assert asked == ["lasot"]
    out = capsys.readouterr().out
    assert "reporting the 3 results folders with lasot results" in out
    rows = list(csv.DictReader(open(os.path.join(synthetic.plots, "lasot", "results.csv"))))
    assert [r["Tracker"] for r in rows] == ["abc_flat", "trk_bad", "trk_good"]
    assert rows[0]["AUC"] == rows[2]["AUC"]

    assert run_main(lambda args: cli.main(args, dataset_loader=loader), [*argv, "--runs", "0"]) == 2
    assert "--runs needs --tracker" in capsys.readouterr().err
    empty = os.path.join(os.path.dirname(synthetic.results), "no_results")
    assert run_main(lambda args: cli.main(args, dataset_loader=loader),
                    ["--results_dir", empty, "--plot_dir", synthetic.plots]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: no results for lasot under") and "test.py" in err


def _auc_of_offset_by_one(gt: np.ndarray, absent_last: bool) -> float:
    """Hand formula: a prediction [x+1, y+1, w+1, h+1] overlaps the GT by (w-1)(h-1) pixels; frame 0 scores 1."""
    ious = [1.0]
    for x, y, w, h in gt[1:-1 if absent_last else None]:
        inter = (w - 1) * (h - 1)
        ious.append(inter / ((w + 1) * (h + 1) + w * h - inter))
    thresholds = [k / 20 for k in range(21)]
    return sum(sum(i > t for i in ious) / len(gt) for t in thresholds) / 21


def test_cli_by_path_with_get_dataset(tmp_path):
    """The real entry point in a fresh interpreter: get_dataset on a partial LaSOT copy, TRACKZOO_* paths, and
    no torch import on the way (start-up time)."""
    rng = np.random.default_rng(2)
    expected = []
    for name in ("airplane-1", "airplane-9"):
        folder = tmp_path / "lasot" / "airplane" / name
        (folder / "img").mkdir(parents=True)
        gt = np.column_stack([rng.integers(50, 100, (12, 2)), rng.integers(20, 40, (12, 2))])
        np.savetxt(folder / "groundtruth.txt", gt, fmt="%d", delimiter=",")
        (folder / "full_occlusion.txt").write_text(",".join(["0"] * 12) + "\n")
        (folder / "out_of_view.txt").write_text(",".join(["0"] * 11 + ["1"]) + "\n")  # last frame absent
        (folder / "nlp.txt").write_text("a plane\n")
        for k in (1, 12):
            (folder / "img" / f"{k:08d}.jpg").write_bytes(b"")
        results = tmp_path / "save" / "test" / "tracking_results" / "trk" / "cfg" / "lasot"
        results.mkdir(parents=True, exist_ok=True)
        np.savetxt(results / f"{name}.txt", gt + 1, fmt="%d", delimiter="\t")
        expected.append(_auc_of_offset_by_one(gt.astype(float), absent_last=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKZOO_")}
    env.update(TRACKZOO_LASOT_PATH=str(tmp_path / "lasot"), TRACKZOO_SAVE_DIR=str(tmp_path / "save"))
    script = os.path.join(REPO, "tracking", "analysis_results.py")
    env["PYTHONPATH"] = os.path.dirname(script)  # the script's folder, as when it runs by path
    code = (f"import runpy, sys; sys.argv = [{script!r}, '--dataset', 'lasot', '--only_present', '--tracker', "
            f"'trk:cfg:Mine', '--no_plots']\n"
            f"try:\n    runpy.run_path({script!r}, run_name='__main__')\nexcept SystemExit as e:\n"
            f"    assert not e.code, e.code\nassert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Reporting results over 2 / 2 sequences" in done.stdout and "| Mine" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "save" / "test" / "result_plots" / "lasot" / "results.csv")))
    assert rows[0]["Tracker"] == "Mine"
    assert float(rows[0]["AUC"]) == pytest.approx(100 * np.mean(expected), abs=1e-4)
