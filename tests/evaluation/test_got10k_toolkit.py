"""The got10k protocol against the official toolkit (`got10k` 0.1.3 on PyPI, requirements-test.txt): the same
GOT-10k val-format copy and results scored by `ExperimentGOT10k.report` and by our reader + evaluate().

The copy exercises every rule: predicted boxes outside the image (clipped to `resolution` from meta_info.ini),
absent frames with junk ground truth (cover 0 / absence 1: dropped), three repetitions `_001.txt` .. `_003.txt`
(pooled), sequences of different lengths (frame-weighted and sequence-mean AO differ).
"""
import os

import numpy as np
import pytest
from got10k.experiments import ExperimentGOT10k

from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.metrics import got10k_seq_stats
from lib.test.analysis.results import TrackerSpec
from lib.test.evaluation.readers import GOT10KDataset

WIDTH, HEIGHT = 64, 48
RUNS = (1, 2, 3)


def _meta(width, height):
    keys = ["url: x", "begin: 0", "end: 1", "anno_fps: 10Hz", "object_class: cat", "motion_class: walking",
            "major_class: animal", "root_class: object", "motion_adverb: slowly", f"resolution: ({width}, {height})"]
    return "[METAINFO]\n" + "\n".join(keys) + "\n"


def _sequence(rng, n, absent):
    xy = rng.uniform(0, 40, (n, 2))
    wh = rng.uniform(8, 30, (n, 2))
    gt = np.column_stack([xy, wh])
    gt[absent] = [1, 1, -1, -1]  # junk on absent frames
    return gt


@pytest.fixture(scope="module")
def copy_and_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("got")
    rng = np.random.default_rng(3)
    lengths = {"GOT-10k_Val_000001": 12, "GOT-10k_Val_000002": 30, "GOT-10k_Val_000003": 7}
    (root / "val").mkdir()
    (root / "val" / "list.txt").write_text("\n".join(lengths) + "\n")
    ours, theirs = root / "ours", root / "theirs" / "GOT-10k" / "trk"
    for name, n in lengths.items():
        seq = root / "val" / name
        seq.mkdir()
        absent = np.zeros(n, dtype=bool)
        absent[rng.choice(np.arange(1, n), size=2, replace=False)] = True
        gt = _sequence(rng, n, absent)
        np.savetxt(seq / "groundtruth.txt", gt, fmt="%.4f", delimiter=",")
        (seq / "absence.label").write_text("".join(f"{int(a)}\n" for a in absent))
        (seq / "cover.label").write_text("".join(f"{0 if a else rng.integers(1, 9)}\n" for a in absent))
        (seq / "cut_by_image.label").write_text("0\n" * n)
        (seq / "meta_info.ini").write_text(_meta(WIDTH, HEIGHT))
        for k in range(1, n + 1):
            (seq / f"{k:08d}.jpg").write_bytes(b"")  # never opened by either side
        for run in RUNS:
            pred = np.abs(gt) + rng.normal(0, 6, gt.shape)
            pred[:, :2] -= 10  # pushes many boxes over the left/top image border ...
            pred[::3, 2] += 30  # ... and some over the right one
            pred[:, 2:] = np.abs(pred[:, 2:])
            os.makedirs(theirs / name, exist_ok=True)
            np.savetxt(theirs / name / f"{name}_{run:03d}.txt", pred, fmt="%.4f", delimiter=",")
            os.makedirs(ours / "trk" / f"cfg_{run:03d}" / "got10k", exist_ok=True)
            np.savetxt(ours / "trk" / f"cfg_{run:03d}" / "got10k" / f"{name}.txt", pred, fmt="%.4f", delimiter=",")
        np.savetxt(theirs / name / f"{name}_time.txt", np.full((n, 3), 0.01), fmt="%.8f", delimiter=",")
    return root


def _toolkit(root):
    experiment = ExperimentGOT10k(str(root), subset="val", result_dir=str(root / "theirs"),
                                  report_dir=str(root / "reports"))
    return experiment.report(["trk"])["trk"]


def _ours(root, sequence_mean=False):
    sequences = GOT10KDataset(str(root), "val").get_sequence_list()
    ev = evaluate([TrackerSpec("trk", "cfg", RUNS)], sequences, str(root / "ours"), ScoringRules("got10k"))
    ev.got10k_frame_weighted = not sequence_mean
    return ev, sequences


def test_got10k_protocol_equals_the_official_toolkit(copy_and_results):
    theirs = _toolkit(copy_and_results)
    ev, _ = _ours(copy_and_results)
    scores = ev.scores()[0]
    overall = theirs["overall"]
    assert scores["AO"] == pytest.approx(100 * overall["ao"], abs=1e-4)
    assert scores["SR0.50"] == pytest.approx(100 * overall["sr"], abs=1e-4)
    assert scores["SR0.75"] == pytest.approx(100 * overall["succ_curve"][75], abs=1e-4)  # linspace(0,1,101)[75]
    np.testing.assert_allclose(ev.curves()[0][0], overall["succ_curve"], atol=1e-6)

    seq_mean, _ = _ours(copy_and_results, sequence_mean=True)
    want = np.mean([s["ao"] for s in theirs["seq_wise"].values()])
    assert seq_mean.scores()[0]["AO"] == pytest.approx(100 * want, abs=1e-4)
    assert abs(seq_mean.scores()[0]["AO"] - scores["AO"]) > 0.1  # the two averages really differ here


def test_clipping_and_absent_frames_matter_on_this_copy(copy_and_results):
    # Without the image bound or without the visibility labels the numbers move: the rules above are exercised.
    _, sequences = _ours(copy_and_results)
    run_dirs = [copy_and_results / "ours" / "trk" / f"cfg_{r:03d}" / "got10k" for r in RUNS]
    full, unbounded, all_frames = np.zeros(4), np.zeros(4), np.zeros(4)
    for seq in sequences:
        preds = [np.loadtxt(d / f"{seq.name}.txt", delimiter=",") for d in run_dirs]
        assert seq.image_size == (WIDTH, HEIGHT) and not seq.target_visible.all()
        full += got10k_seq_stats(preds, seq.ground_truth_rect, seq.target_visible, seq.image_size)
        unbounded += got10k_seq_stats(preds, seq.ground_truth_rect, seq.target_visible)
        all_frames += got10k_seq_stats(preds, seq.ground_truth_rect, None, seq.image_size)
    ao = lambda s: s[1] / s[0]  # noqa: E731
    assert abs(ao(full) - ao(unbounded)) > 1e-3 and abs(ao(full) - ao(all_frames)) > 1e-3
