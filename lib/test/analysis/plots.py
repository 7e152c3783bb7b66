"""Success, precision and normalised-precision plots (OPE protocols), or the tracking precision-recall plot
(long-term protocol), as PNG and PDF (matplotlib Agg, no TeX needed).

Importing matplotlib and rendering six files costs about a second here, so a plot set whose inputs (labels,
curves, title) have not changed since it was written is left alone; a key file next to the plots records them.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from lib.test.analysis.extract import Evaluation, LongTermEvaluation
from lib.utils.io import atomic_save, atomic_write_text

__all__ = ["plot_curves", "build_figures", "legend_entries", "PLOT_KINDS", "FORMATS"]

FORMATS = ("png", "pdf")
# kind -> (file stem, title, x label, y label, x limit, legend position)
PLOT_KINDS = {
    "success": ("success_plot", "Success plot", "Overlap threshold", "Overlap precision [%]", 1.0, "lower left"),
    "precision": ("precision_plot", "Precision plot", "Location error threshold [pixels]", "Distance precision [%]",
                  50.0, "lower right"),
    "norm_precision": ("norm_precision_plot", "Normalized precision plot", "Normalized location error threshold",
                       "Distance precision [%]", 0.5, "lower right"),
    "pr": ("pr_plot", "Tracking precision-recall plot", "Tracking recall [%]", "Tracking precision [%]", 100.0,
           "lower left"),
}
_KEY_FILE = ".plots.key"
_PLOT_VERSION = "3"


# kind -> the score shown in the legend, by protocol (GOT-10k has a success plot only)
_LEGEND_SCORE = {"success": ("AUC", "AO", "SR", "MSR"), "precision": ("Precision", "PR", "MPR"),
                 "norm_precision": ("Norm Precision", "NPR"), "pr": ("F-score",)}


def _curve_data(evaluation: Evaluation | LongTermEvaluation) \
        -> dict[str, tuple[list[np.ndarray], list[np.ndarray], np.ndarray]]:
    """kind -> (x values per tracker, y values per tracker in percent, score per tracker), for the curves the
    protocol has."""
    scores = evaluation.scores()
    if isinstance(evaluation, LongTermEvaluation):
        return {"pr": ([100 * r for r in evaluation.recall], [100 * p for p in evaluation.precision],
                       np.array([row["F-score"] for row in scores]))}
    p = evaluation.protocol
    out = {}
    for kind, thresholds, curves in zip(PLOT_KINDS, (p.overlap_thresholds, p.center_thresholds,
                                                     p.norm_center_thresholds), evaluation.curves()):
        if len(thresholds):
            name = next(n for n in _LEGEND_SCORE[kind] if n in p.score_names)
            out[kind] = ([thresholds] * len(curves), list(100 * curves), np.array([row[name] for row in scores]))
    return out


def legend_entries(labels: list[str], scores: np.ndarray) -> list[tuple[int, str]]:
    """(tracker index, 'name [score]') ordered by decreasing score (ties keep the given order)."""
    order = sorted(range(len(labels)), key=lambda i: -scores[i])
    return [(i, f"{labels[i]} [{scores[i]:.1f}]") for i in order]


def _plot_key(evaluation: Evaluation | LongTermEvaluation, title: str) -> str:
    h = hashlib.sha256(f"{_PLOT_VERSION}|{title}|{evaluation.labels}".encode())
    for xs, ys, _ in _curve_data(evaluation).values():
        for values in xs + ys:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def _paths(out_dir: str, kinds) -> dict[str, str]:
    return {f"{kind}_{fmt}": os.path.join(out_dir, f"{PLOT_KINDS[kind][0]}.{fmt}") for kind in kinds
            for fmt in FORMATS}


def plot_curves(evaluation: Evaluation | LongTermEvaluation, out_dir: str, title: str,
                force: bool = False) -> dict[str, str]:
    """Write the protocol's plots (three, GOT-10k's success plot, or the long-term precision-recall plot) in both
    formats; returns {'<kind>_<fmt>': path}."""
    paths = _paths(out_dir, _curve_data(evaluation))
    key = _plot_key(evaluation, title)
    key_path = os.path.join(out_dir, _KEY_FILE)
    if not force and all(os.path.isfile(p) for p in paths.values()) and os.path.isfile(key_path):
        with open(key_path) as f:
            if f.read().strip() == key:
                return paths
    for kind, figure in build_figures(evaluation, title).items():
        for fmt in FORMATS:
            atomic_save(paths[f"{kind}_{fmt}"], lambda f, fmt=fmt: figure.savefig(f, format=fmt, dpi=120))
    atomic_write_text(key_path, key + "\n")
    return paths


def build_figures(evaluation: Evaluation | LongTermEvaluation, title: str) -> dict:
    """kind -> matplotlib Figure (not saved)."""
    figures = {}
    for kind, (xs, ys, scores) in _curve_data(evaluation).items():
        _stem, plot_title, *axes = PLOT_KINDS[kind]
        figures[kind] = _draw(xs, ys, legend_entries(evaluation.labels, scores), f"{plot_title} - {title}", *axes)
    return figures


def _draw(xs: list[np.ndarray], ys: list[np.ndarray], entries: list[tuple[int, str]], title: str, xlabel: str,
          ylabel: str, xmax: float, legend_loc: str):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend probing

    figure = Figure(figsize=(6.0, 5.0), layout="constrained")  # cheaper than bbox_inches="tight" at save time
    ax = figure.add_subplot()
    for i, label in entries:
        ax.plot(xs[i], ys[i], linewidth=2, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, xmax), ylim=(0, 100))
    ax.grid(True, linestyle=":")
    ax.legend(loc=legend_loc, fontsize=9)
    return figure
