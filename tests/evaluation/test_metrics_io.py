"""Result loading (formats, layouts, missing files), the score cache, and dataset-level aggregation/merging."""
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from lib.test.analysis import extract
from lib.test.analysis.extract import ScoringRules, evaluate
from lib.test.analysis.metrics import calc_seq_err_robust, seq_curves
from lib.test.analysis.results import MissingResultsError, TrackerSpec, read_boxes, result_file
from lib.utils.numeric_text import parse_numeric_text, parse_numeric_texts, read_numeric_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- parsing ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["%d", "%.1f", "%.2f", "%.4f", "%f", "%.12f"])
@pytest.mark.parametrize("delimiter", ["\t", ","])
def test_parse_matches_python_float(fmt, delimiter):
    rng = np.random.default_rng(1)
    values = rng.uniform(-50, 900, (40, 4))
    text = "\n".join(delimiter.join(fmt % v for v in row) for row in values) + "\n"
    expected = np.array([[float(tok) for tok in line.split(delimiter)] for line in text.splitlines()])
    got = parse_numeric_text(text.encode(), 4)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)  # bit-identical to float()


@pytest.mark.parametrize("text", [
    "1.5\t2.25\t3\t4\n",                # mixed decimals
    "1e2,2,3,4\n5,6,7,8",              # exponent
    "nan\tnan\tnan\tnan\n1\t2\t3\t4",  # NaN rows (uav-style)
    "1, 2, 3, 4\r\n5, 6, 7, 8\r\n",    # spaces and CRLF
    "\n1,2,3,4\n\n5,6,7,8\n\n",        # blank lines
])
def test_parse_unusual_but_valid_formats(text):
    expected = np.loadtxt(text.replace("\t", ",").splitlines(), delimiter=",", ndmin=2)
    np.testing.assert_array_equal(parse_numeric_text(text.encode(), 4), expected)


@pytest.mark.parametrize("text", ["1\t2\t3\n4\t5\t6\t7\t8", "1,2,3,x", "1\t2\t3\t4\t5\n6\t7\t8", "1.2.3,4,5,6"])
def test_parse_errors_name_the_file(tmp_path, text):
    path = tmp_path / "bad_seq.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad_seq.txt"):
        read_numeric_file(str(path), 4)


def test_time_file_single_column():
    np.testing.assert_array_equal(parse_numeric_text(b"0.012345\n0.500000\n", 1), [[0.012345], [0.5]])


# --- layout -----------------------------------------------------------------------------------------------------

def seq(name, n=5, dataset="lasot", visible=None, seed=0):
    rng = np.random.default_rng(seed)
    gt = np.column_stack([rng.uniform(20, 200, (n, 2)), rng.uniform(10, 60, (n, 2))]).round()
    return SimpleNamespace(name=name, dataset=dataset, ground_truth_rect=gt, target_visible=visible)


def write_result(root, script, config, sequence, boxes, delimiter="\t", flat=False, times=None):
    folder = os.path.join(root, script, config, "" if flat else sequence.dataset)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, sequence.name + ".txt")
    np.savetxt(path, boxes, fmt="%.2f", delimiter=delimiter)
    if times is not None:
        np.savetxt(path[:-4] + "_time.txt", times, fmt="%f")
    return path


def test_result_file_prefers_dataset_folder_and_falls_back_to_flat(tmp_path):
    s = seq("bear-2")
    run_dir = str(tmp_path / "stark_st" / "baseline")
    assert result_file(run_dir, s) is None
    flat = write_result(str(tmp_path), "stark_st", "baseline", s, s.ground_truth_rect, flat=True)
    assert result_file(run_dir, s) == flat
    nested = write_result(str(tmp_path), "stark_st", "baseline", s, s.ground_truth_rect, delimiter=",")
    assert result_file(run_dir, s) == nested
    np.testing.assert_array_equal(read_boxes(nested), s.ground_truth_rect)


def test_tracker_spec_parsing_and_run_folders():
    t = TrackerSpec.parse("stark_st:baseline:STARK-ST50", [0, 2])
    assert (t.script, t.config, t.display_name, t.label) == ("stark_st", "baseline", "STARK-ST50", "STARK-ST50")
    assert t.run_dir("/r", 2) == os.path.join("/r", "stark_st", "baseline_002")
    assert TrackerSpec.parse("ostrack:vitb").label == "ostrack_vitb"
    assert TrackerSpec.parse("ostrack:vitb").run_dir("/r", None) == os.path.join("/r", "ostrack", "vitb")
    with pytest.raises(ValueError, match="script:config"):
        TrackerSpec.parse("ostrack")


def test_missing_results_error_names_tracker_and_sequences(tmp_path):
    seqs = [seq("cat-1"), seq("cat-3", seed=1), seq("dog-7", seed=2)]
    write_result(str(tmp_path), "trk", "cfg", seqs[0], seqs[0].ground_truth_rect)
    t = TrackerSpec.parse("trk:cfg:MyTracker")
    with pytest.raises(MissingResultsError) as info:
        evaluate([t], seqs, str(tmp_path))
    message = str(info.value)
    assert "MyTracker" in message and "cat-3" in message and "dog-7" in message and "cat-1," not in message
    assert "2 of 3" in message
    ev = evaluate([t], seqs, str(tmp_path), skip_missing=True)
    assert ev.names == ["cat-1"] and ev.n_total == 3 and ev.skipped == ["cat-3", "dog-7"]


# --- aggregation ------------------------------------------------------------------------------------------------

def noisy(s, rng, sigma):
    p = s.ground_truth_rect + rng.normal(0, sigma, s.ground_truth_rect.shape)
    p[:, 2:] = np.abs(p[:, 2:])
    return p.round(2)


def test_evaluate_merges_runs_by_averaging_sequence_curves(tmp_path):
    rng = np.random.default_rng(3)
    seqs = [seq(f"s{i}", n=30, seed=i, visible=rng.random(30) > 0.2) for i in range(3)]
    t = TrackerSpec("trk", "cfg", (0, 1))
    expected = np.zeros((3, 21))
    for run in (0, 1):
        for i, s in enumerate(seqs):
            pred = noisy(s, rng, 4 + 6 * run)
            write_result(str(tmp_path), "trk", f"cfg_{run:03d}", s, pred)
            err = calc_seq_err_robust(pred, s.ground_truth_rect, "lasot", s.target_visible)
            expected[i] += seq_curves(err).success / 2
    ev = evaluate([t], seqs, str(tmp_path))
    np.testing.assert_allclose(ev.success[0], expected, atol=1e-12)
    assert ev.scores()[0]["AUC"] == pytest.approx(100 * expected.mean())  # sequence mean, then 21-point mean


def test_fps_from_time_files(tmp_path):
    s1, s2 = seq("a", n=4), seq("b", n=2, seed=1)
    write_result(str(tmp_path), "trk", "cfg", s1, s1.ground_truth_rect, times=[0.5, 0.1, 0.1, 0.1])
    write_result(str(tmp_path), "trk", "cfg", s2, s2.ground_truth_rect, times=[0.1, -1.0])  # non-positive ignored
    ev = evaluate([TrackerSpec("trk", "cfg")], [s1, s2], str(tmp_path))
    assert ev.scores()[0]["FPS"] == pytest.approx(5 / 0.9)


def test_got10k_sequences_get_ao_and_sr(tmp_path):
    s = seq("GOT-10k_Val_000001", n=3, dataset="got10k")
    s.ground_truth_rect = np.array([[0, 0, 10, 10]] * 3, dtype=float)
    write_result(str(tmp_path), "trk", "cfg", s, np.array([[50, 50, 5, 5], [5, 5, 10, 10], [0, 0, 10, 10]]))
    score = evaluate([TrackerSpec("trk", "cfg")], [s], str(tmp_path)).scores()[0]
    assert score["AO"] == pytest.approx(100 * (1 / 7 + 1) / 2)  # frame 0 dropped
    assert score["SR0.50"] == pytest.approx(50.0) and score["SR0.75"] == pytest.approx(50.0)


def test_test_split_ground_truth_is_refused(tmp_path):
    s = seq("GOT-10k_Test_000001", n=1, dataset="got10k")
    write_result(str(tmp_path), "trk", "cfg", s, np.tile(s.ground_truth_rect, (5, 1)))
    with pytest.raises(ValueError, match="first frame.*transform_got10k"):
        evaluate([TrackerSpec("trk", "cfg")], [s], str(tmp_path))


# --- cache ------------------------------------------------------------------------------------------------------

def test_cache_reuses_and_invalidates(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    seqs = [seq("x1", n=20), seq("x2", n=20, seed=1)]
    results, cache = str(tmp_path / "res"), str(tmp_path / "cache")
    paths = [write_result(results, "trk", "cfg", s, noisy(s, rng, 5)) for s in seqs]
    t = TrackerSpec("trk", "cfg")
    first = evaluate([t], seqs, results, cache_dir=cache)
    assert os.path.isfile(os.path.join(cache, "trk__cfg.npz"))

    calls = []
    real = extract.score_sequences
    monkeypatch.setattr(extract, "score_sequences",
                        lambda preds, seqs, rules: calls.extend(s.name for s in seqs) or real(preds, seqs, rules))
    again = evaluate([t], seqs, results, cache_dir=cache)
    assert calls == []
    np.testing.assert_array_equal(again.success, first.success)

    np.savetxt(paths[1], seqs[1].ground_truth_rect, fmt="%d", delimiter="\t")  # re-run tracker on x2
    rerun = evaluate([t], seqs, results, cache_dir=cache)
    assert calls == ["x2"]
    assert rerun.success[0, 1, 19] == 1.0  # perfect boxes now

    calls.clear()
    evaluate([t], seqs, results, ScoringRules("pytracking"), cache_dir=cache)  # other rules: other entries
    assert sorted(calls) == ["x1", "x2"]

    calls.clear()
    seqs[0].ground_truth_rect = seqs[0].ground_truth_rect + 1  # changed annotations
    evaluate([t], seqs, results, cache_dir=cache)
    assert calls == ["x1"]

    calls.clear()
    evaluate([t], seqs, results, cache_dir=cache, force=True)
    assert sorted(calls) == ["x1", "x2"]


def test_scoring_modules_do_not_import_torch():
    code = ("import sys; import lib.test.analysis.extract, lib.test.analysis.report, lib.test.analysis.packing; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_batch_parse_of_mixed_files_matches_loadtxt():
    texts = [b"1\t2\t3\t4\n5\t6\t7\t8\n", b"1.25\t2.5\t-3.125\t4.0\n", b"10.5000,20.2500,30.0000,40.0000\n",
             b"nan\tnan\tnan\tnan\n", b"", b"7\t8\t9\t10"]
    got = parse_numeric_texts(texts, 4, [f"f{i}" for i in range(len(texts))])
    assert got[4].shape == (0, 4)
    for text, arr in zip(texts[:4] + texts[5:], got[:4] + got[5:]):
        want = np.loadtxt(text.decode().replace(",", "\t").splitlines(), delimiter="\t", ndmin=2)
        np.testing.assert_array_equal(arr, want)
    same_width = [b"1.50\t2.25\t3.00\t4.75\n", b"5.00\t6.00\t7.00\t8.00\n9.99\t1.01\t2.02\t3.03"]
    np.testing.assert_array_equal(np.concatenate(parse_numeric_texts(same_width, 4, ["a", "b"])),
                                  [[1.5, 2.25, 3, 4.75], [5, 6, 7, 8], [9.99, 1.01, 2.02, 3.03]])


@pytest.mark.parametrize("text", [b"3.4.\t7\t1\t2", b"3..5\t1.0\t2.0\t4.0", b"1.5\t2\t3.5\t4"])
def test_points_in_the_wrong_places_are_not_misread(text):
    try:
        arr = parse_numeric_text(text, 4)
    except ValueError:
        return
    np.testing.assert_array_equal(arr, np.loadtxt([text.decode()], delimiter="\t", ndmin=2))


def test_got10k_frame_weighted_or_sequence_mean(tmp_path):
    short = seq("GOT-10k_Val_000001", n=3, dataset="got10k")
    long = seq("GOT-10k_Val_000002", n=5, dataset="got10k")
    short.ground_truth_rect = np.array([[0, 0, 10, 10]] * 3, dtype=float)
    long.ground_truth_rect = np.array([[0, 0, 10, 10]] * 5, dtype=float)
    write_result(str(tmp_path), "trk", "cfg", short, np.array([[9, 9, 1, 1], [0, 0, 10, 10], [0, 0, 10, 10]]))
    write_result(str(tmp_path), "trk", "cfg", long, np.array([[9, 9, 1, 1]] + [[50, 50, 10, 10]] * 4))
    ev = evaluate([TrackerSpec("trk", "cfg")], [short, long], str(tmp_path))
    assert ev.scores()[0]["AO"] == pytest.approx(100 * 2 / 6)  # frames 1..: IoUs 1, 1 | 0, 0, 0, 0 pooled
    ev.got10k_frame_weighted = False
    assert ev.scores()[0]["AO"] == pytest.approx(100 * (1 + 0) / 2)
