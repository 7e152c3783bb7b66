"""Headline numbers from a `vot analysis --format json` report, per tracker.

    python -m external.vot.report W/analysis/NAME.json

The report lists, per experiment, its analyses and their results (one entry per tracker, in the order of the
report's `trackers`). Read here: EAO (multistart EAO score), accuracy and robustness (multistart AR, or accuracy
alone from the unsupervised experiment), precision, recall and F-score (long-term precision/recall), each named
`<experiment>.<measure>`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lib.utils.cli import UserError, run_main

# analysis type -> names of its leading scalar outputs (their order in the analysis' `describe()`).
MEASURES = {
    "vot.analysis.multistart.EAOScore": ("eao",),
    "vot.analysis.multistart.AverageAccuracyRobustness": ("accuracy", "robustness"),
    "vot.analysis.accuracy.AverageAccuracy": ("accuracy",),
    "vot.analysis.longterm.PrecisionRecall": ("precision", "recall", "f_score"),
}


def summarize(report: dict) -> dict[str, dict[str, float]]:
    """{tracker: {"<experiment>.<measure>": value}} for every analysis listed in MEASURES."""
    trackers = list(report["trackers"])
    summary: dict[str, dict[str, float]] = {t: {} for t in trackers}
    for experiment, block in report["results"].items():
        for analysis, per_tracker in zip(block["parameters"]["analyses"], block["results"]):
            names = MEASURES.get(analysis["type"], ())
            for tracker, values in zip(trackers, per_tracker):
                for name, value in zip(names, values):
                    summary[tracker][f"{experiment}.{name}"] = float(value)
    return summary


def read_summary(path: str | Path) -> dict[str, dict[str, float]]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read the analysis report {path}: {e}") from None
    return summarize(report)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise UserError("give one report: python -m external.vot.report W/analysis/NAME.json")
    for tracker, values in read_summary(args[0]).items():
        print(tracker + "".join(f"\n  {key:32s} {value:.4f}" for key, value in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
