"""Report of an Evaluation (or LongTermEvaluation): the printed table (the protocol's columns), CSV and LaTeX
tables, per-sequence AO, and the plots (matplotlib is imported only when plots are drawn)."""
from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from lib.test.analysis.extract import Evaluation, LongTermEvaluation
from lib.utils.io import atomic_write_text

__all__ = ["table_columns", "format_table", "format_csv", "format_latex", "format_per_sequence_csv",
           "write_report"]

def table_columns(evaluation: Evaluation | LongTermEvaluation) -> list[str]:
    """The protocol's columns (AUC ... Norm Precision, or GOT-10k's AO/SR0.50/SR0.75), then FPS when timed."""
    scores = evaluation.scores()
    columns = list(evaluation.score_names)
    if any(math.isfinite(row["FPS"]) for row in scores):
        columns.append("FPS")
    return columns


def _cell(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "-"


def format_table(evaluation: Evaluation | LongTermEvaluation, title: str) -> str:
    """A fixed-width table, one row per tracker, and the number of sequences it covers."""
    columns = table_columns(evaluation)
    rows = [[label] + [_cell(s[c]) for c in columns] for label, s in zip(evaluation.labels, evaluation.scores())]
    header = [title] + columns
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(r, widths))) + " |" for r in [header] + rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append(f"Reporting results over {len(evaluation.names)} / {evaluation.n_total} sequences, protocol "
                 f"'{evaluation.rules.protocol}'"
                 + (f" (no results for: {', '.join(evaluation.skipped)})" if evaluation.skipped else ""))
    return "\n".join(lines)


def format_csv(evaluation: Evaluation | LongTermEvaluation) -> str:
    columns = table_columns(evaluation)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Tracker", "script", "config", "runs"] + columns)
    for tracker, s in zip(evaluation.trackers, evaluation.scores()):
        runs = " ".join("-" if r is None else str(r) for r in tracker.run_ids)
        writer.writerow([tracker.label, tracker.script, tracker.config, runs]
                        + [f"{s[c]:.4f}" if math.isfinite(s[c]) else "" for c in columns])
    return buf.getvalue()


def format_per_sequence_csv(evaluation: Evaluation | LongTermEvaluation) -> str:
    """Per-sequence AO (mean IoU over valid frames, percent), one column per tracker."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["sequence"] + evaluation.labels)
    for i, name in enumerate(evaluation.names):
        writer.writerow([name] + [f"{100 * v:.2f}" if math.isfinite(v) else "" for v in evaluation.ao[:, i]])
    return buf.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def format_latex(evaluation: Evaluation | LongTermEvaluation, title: str) -> str:
    """A plain `tabular` (no packages needed); the best value of each column in bold."""
    columns = table_columns(evaluation)
    scores = evaluation.scores()
    best = {c: np.nanmax([s[c] for s in scores]) if any(math.isfinite(s[c]) for s in scores) else None
            for c in columns}
    lines = [f"% {_latex_escape(title)}: {len(evaluation.names)} / {evaluation.n_total} sequences",
             r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\hline",
             " & ".join(["Tracker"] + [_latex_escape(c) for c in columns]) + r" \\", r"\hline"]
    for label, s in zip(evaluation.labels, scores):
        cells = []
        for c in columns:
            cell = _cell(s[c])
            cells.append(rf"\textbf{{{cell}}}" if best[c] is not None and s[c] == best[c] else cell)
        lines.append(" & ".join([_latex_escape(label)] + cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}", ""]
    return "\n".join(lines)


def write_report(evaluation: Evaluation | LongTermEvaluation, out_dir: str, title: str, plots: bool = True,
                 force: bool = False) -> dict[str, str]:
    """Write results.txt/.csv/.tex, per_sequence_ao.csv and (optionally) the plots, which are redrawn only when
    their inputs changed unless `force`; returns {kind: path}."""
    table = format_table(evaluation, title)
    files = {
        "table": (os.path.join(out_dir, "results.txt"), table + "\n"),
        "csv": (os.path.join(out_dir, "results.csv"), format_csv(evaluation)),
        "latex": (os.path.join(out_dir, "results.tex"), format_latex(evaluation, title)),
        "per_sequence": (os.path.join(out_dir, "per_sequence_ao.csv"), format_per_sequence_csv(evaluation)),
    }
    for path, text in files.values():
        atomic_write_text(path, text)
    written = {kind: path for kind, (path, _) in files.items()}
    if plots:
        from lib.test.analysis.plots import plot_curves  # matplotlib only when plots are wanted
        written.update(plot_curves(evaluation, out_dir, title, force=force))
    return written
