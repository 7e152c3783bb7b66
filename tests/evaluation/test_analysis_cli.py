"""tracking/analysis_results.py end to end on small synthetic results: table, CSV, LaTeX, plots, legend order,
missing-result errors."""
import csv
import importlib.util
import os
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.plots import build_figures, legend_entries
from lib.test.analysis.results import TrackerSpec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_cli():
    spec = importlib.util.spec_from_file_location("analysis_results_cli",
                                                  os.path.join(REPO, "tracking", "analysis_results.py"))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.join(REPO, "tracking"))  # the script's own folder, as when run by path
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.join(REPO, "tracking"))
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


def run_cli(synthetic, *extra):
    cli = load_cli()
    argv = ["--dataset", "lasot", "--tracker", "trk:bad:Bad Tracker", "--tracker", "trk:good:Good",
            "--results_dir", synthetic.results, "--plot_dir", synthetic.plots, *extra]
    return cli.main(argv, dataset_loader=lambda name: synthetic.seqs)


def test_cli_writes_table_csv_latex_and_plots(synthetic, capsys):
    assert run_cli(synthetic) == 0
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


def test_cli_numbers_match_library(synthetic, capsys):
    assert run_cli(synthetic, "--no_plots", "--legacy") == 0
    rows = list(csv.DictReader(open(os.path.join(synthetic.plots, "lasot", "results.csv"))))
    ev = evaluate([TrackerSpec("trk", "good")], synthetic.seqs, synthetic.results, ScoringRules(legacy=True))
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


def test_cli_missing_results_names_tracker_and_sequences(synthetic, capsys):
    os.remove(os.path.join(synthetic.results, "trk", "good", "lasot", "cls-2.txt"))
    assert run_cli(synthetic) == 1
    err = capsys.readouterr().err
    assert "'Good'" in err and "cls-2" in err and "cls-1," not in err and "--skip_missing" in err
    assert run_cli(synthetic, "--skip_missing", "--no_plots") == 0
    assert "Reporting results over 2 / 3 sequences" in capsys.readouterr().out


def test_cli_runs_and_sequence_selection(synthetic, capsys):
    for run in (0, 1):
        src = os.path.join(synthetic.results, "trk", "good")
        dst = os.path.join(synthetic.results, "trk", f"good_{run:03d}")
        shutil.copytree(src, dst)
    cli = load_cli()
    rc = cli.main(["--dataset", "lasot", "--tracker", "trk:good", "--runs", "0", "1", "--sequences", "cls-1",
                   "--results_dir", synthetic.results, "--plot_dir", synthetic.plots, "--no_plots"],
                  dataset_loader=lambda name: synthetic.seqs)
    assert rc == 0
    assert "Reporting results over 1 / 1 sequences" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown sequences"):
        cli.main(["--dataset", "lasot", "--tracker", "trk:good", "--sequences", "nope",
                  "--results_dir", synthetic.results, "--plot_dir", synthetic.plots],
                 dataset_loader=lambda name: synthetic.seqs)

