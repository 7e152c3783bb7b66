"""Each generated benchmark reads back through its readers with the same boxes and flags; generation is
deterministic, atomic and resumable."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lib.synthetic import BENCHMARKS, generate, generate_all
from lib.test.evaluation import get_dataset
from lib.train.dataset.catalog import build_train_dataset
from lib.train.dataset.got10k import Got10k
from lib.train.dataset.lasot import Lasot
from lib.train.dataset.tracking_net import TrackingNet
from tests.data.fixture_writers import isolated_settings

REPO = Path(__file__).resolve().parents[2]
TINY = dict(width=64, height=48)
NAMES = {"uav": ["uav6", "truck4_2"], "otb": ["Deer", "Jogging_2", "Tiger1", "KiteSurf"], "nfs": ["bee"]}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    truths = {}
    for benchmark in BENCHMARKS:
        sizes = dict(width=160, height=120) if benchmark == "coco" else TINY   # room for boxes over 50 px
        truths[benchmark] = generate(benchmark, root / benchmark, seed=3, num_sequences=6, num_frames=36,
                                     names=NAMES.get(benchmark), **sizes)
    return root, truths


def _same_boxes(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float32))


def test_content_is_hard(synthetic):
    """Absence spans of both kinds and partial truncation occur in the generated training data."""
    _, truths = synthetic
    got = [t for t in truths["got10k"].values() if t.split == "train"]
    assert any(t.out_of_view.any() for t in got) and any(t.full_occlusion.any() for t in got)
    assert any(t.cut_by_image.any() for t in got) and all(t.visible[0] for t in got)
    boxes = np.concatenate([t.true_boxes for t in got])
    assert boxes[:, 2].max() / boxes[:, 2][boxes[:, 2] > 0].min() > 1.5   # scale change


def test_lasot_roundtrip(synthetic):
    root, truths = synthetic
    train = Lasot(root / "lasot", only_present=True)
    assert set(train.sequence_list) == {n for n, t in truths["lasot"].items() if t.split == "train"}
    for seq_id, name in enumerate(train.sequence_list):
        t, info = truths["lasot"][name], train.get_sequence_info(seq_id)
        _same_boxes(info["bbox"], t.boxes)
        assert info["visible"].numpy().tolist() == (t.visible & (t.boxes[:, 2] > 0) & (t.boxes[:, 3] > 0)).tolist()
    seqs = get_dataset("lasot", only_present=True, settings=isolated_settings(root))
    assert {s.name for s in seqs} == {n for n, t in truths["lasot"].items() if t.split == "test"}
    for s in seqs:
        t = truths["lasot"][s.name]
        np.testing.assert_array_equal(s.ground_truth_rect, t.boxes)
        np.testing.assert_array_equal(s.target_visible, ~t.out_of_view & ~t.full_occlusion)
        assert s.read_frame(len(s.frames) - 1).shape == (48, 64, 3)
    ext = get_dataset("lasot_extension_subset", only_present=True, settings=isolated_settings(root))
    assert {s.name for s in ext} == set(truths["lasot_extension_subset"])


def test_got10k_roundtrip(synthetic):
    root, truths = synthetic
    train = Got10k(root / "got10k" / "train")
    for seq_id, name in enumerate(train.sequence_list):
        t, info = truths["got10k"][name], train.get_sequence_info(seq_id)
        np.testing.assert_allclose(info["bbox"].numpy(), t.boxes, atol=1e-4)
        assert info["visible"].tolist() == (t.visible & (t.boxes[:, 2] > 0) & (t.boxes[:, 3] > 0)).tolist()
        assert info["visible_ratio"].tolist() == (t.cover / 8).tolist()
        assert train.get_class_name(seq_id) == t.object_class
    settings = isolated_settings(root)
    for s in get_dataset("got10k_val", settings=settings):
        np.testing.assert_array_equal(s.ground_truth_rect, truths["got10k"][s.name].boxes)
    for s in get_dataset("got10k_test", settings=settings):
        assert s.ground_truth_rect.shape == (1, 4) and len(s.frames) == 36
        np.testing.assert_array_equal(s.ground_truth_rect[0], truths["got10k"][s.name].boxes[0])
    vot = build_train_dataset("GOT10K_vottrain", settings=settings).sequence_list
    held_out = build_train_dataset("GOT10K_votval", settings=settings).sequence_list
    assert sorted(vot + held_out) == sorted(n for n, t in truths["got10k"].items() if t.split == "train")


def test_trackingnet_roundtrip(synthetic):
    root, truths = synthetic
    train = TrackingNet(root / "trackingnet")
    assert train.set_ids == [0, 1] and any(name.startswith("-") for _, name in train.sequence_list)
    for seq_id, (_, name) in enumerate(train.sequence_list):
        t = truths["trackingnet"][name]
        info = train.get_sequence_info(seq_id)
        np.testing.assert_allclose(info["bbox"].numpy(), t.boxes, atol=1e-2)
        assert info["visible"].tolist() == (~t.out_of_view & (t.boxes[:, 2] > 0) & (t.boxes[:, 3] > 0)).tolist()
    for s in get_dataset("trackingnet", settings=isolated_settings(root)):
        assert s.frames[0].endswith(f"TEST/frames/{s.name}/0.jpg") and len(s.frames) == 36
        np.testing.assert_array_equal(s.ground_truth_rect[0], truths["trackingnet"][s.name].boxes[0])


@pytest.mark.parametrize("benchmark", ["uav", "otb", "nfs", "tnl2k"])
def test_eval_only_roundtrip(synthetic, benchmark):
    root, truths = synthetic
    seqs = get_dataset(benchmark, only_present=True, settings=isolated_settings(root))
    assert {s.name for s in seqs} == set(truths[benchmark])
    for s in seqs:
        t = truths[benchmark][s.name]
        omit = 5 if s.name == "Tiger1" else 0
        np.testing.assert_array_equal(s.ground_truth_rect, t.boxes[omit:])
        assert s.read_frame(0).shape == (48, 64, 3)
    if benchmark == "uav":
        truck = seqs["uav_truck4_2"]
        assert truck.frames[0].endswith("data_seq/UAV123/truck4/000577.jpg")
        absent = truths["uav"]["uav_truck4_2"].out_of_view | truths["uav"]["uav_truck4_2"].full_occlusion
        assert np.isnan(truck.ground_truth_rect[absent]).all() and not np.isnan(truck.ground_truth_rect[~absent]).any()


def test_coco_roundtrip(synthetic):
    root, truths = synthetic
    data = build_train_dataset("COCO17", settings=isolated_settings(root))
    plain = {k: t for k, t in truths["coco"].items() if not t.extra["iscrowd"]}
    assert data.get_num_sequences() == len(plain) and len(plain) < len(truths["coco"])   # crowds exist, skipped
    sizes = []
    for seq_id, ann_id in enumerate(data.sequence_list):
        box = data.get_sequence_info(seq_id)["bbox"]
        _same_boxes(box, plain[str(ann_id)].boxes)
        sizes.append(min(box[0, 2].item(), box[0, 3].item()))
    assert min(sizes) < 50 < max(sizes)     # tiny boxes (invalid under the 50 px rule) and ordinary ones


def _annotation_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix not in (".jpg", ".png")}


def test_deterministic_atomic_and_resumable(tmp_path):
    sizes = dict(num_sequences=3, num_frames=32, **TINY)
    a = generate_all(tmp_path / "a", seed=7, benchmarks=["got10k", "lasot"], **sizes)
    generate_all(tmp_path / "b", seed=7, benchmarks=["got10k", "lasot"], **sizes)
    generate_all(tmp_path / "c", seed=8, benchmarks=["got10k", "lasot"], **sizes)
    bytes_a, bytes_b = _annotation_bytes(tmp_path / "a"), _annotation_bytes(tmp_path / "b")
    assert bytes_a == bytes_b and bytes_a != _annotation_bytes(tmp_path / "c")
    assert not [p for p in (tmp_path / "a").rglob(".*.tmp")]
    # a rerun skips complete sequences and rewrites a damaged one
    seq = tmp_path / "a" / "got10k" / "train" / "GOT-10k_Train_000001"
    kept = tmp_path / "a" / "got10k" / "train" / "GOT-10k_Train_000002" / "00000001.jpg"
    stamp = kept.stat().st_mtime_ns
    (seq / "absence.label").write_text("junk\n")
    (seq / "00000032.jpg").unlink()
    again = generate("got10k", tmp_path / "a" / "got10k", seed=7, **sizes)
    assert kept.stat().st_mtime_ns == stamp
    assert (seq / "00000032.jpg").exists() and _annotation_bytes(tmp_path / "a") == bytes_a
    np.testing.assert_array_equal(again["GOT-10k_Train_000001"].boxes, a["got10k"]["GOT-10k_Train_000001"].boxes)


def test_subset_generation_matches_full(tmp_path):
    """A sequence's content depends on its name only, not on which other sequences are generated."""
    full = generate("lasot", tmp_path / "full", seed=1, num_sequences=3, num_frames=30, **TINY)
    one = generate("lasot", tmp_path / "one", seed=1, names=["airplane-1"], num_frames=30, **TINY)
    np.testing.assert_array_equal(one["airplane-1"].boxes, full["airplane-1"].boxes)


def test_generator_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'lasotx'; valid: lasot"):
        generate("lasotx", tmp_path)
    with pytest.raises(ValueError, match="not UAV123 sequence names"):
        generate("uav", tmp_path, names=["uav999"])
    with pytest.raises(ValueError, match="names= is not supported for 'got10k'"):
        generate("got10k", tmp_path, names=["GOT-10k_Train_000001"])


def test_cli(tmp_path):
    env = dict(os.environ, PYTHONPATH="")
    cmd = [sys.executable, str(REPO / "tracking" / "make_synthetic_data.py"), "--data_dir", str(tmp_path),
           "--benchmarks", "tnl2k", "--num_sequences", "1", "--num_frames", "5", "--width", "32", "--height", "24"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tnl2k: 1 sequences" in out.stdout
    assert len(list((tmp_path / "tnl2k").glob("*/imgs/*.jpg"))) == 5


def test_a_failed_write_is_one_error_line_and_leaves_no_partial_sequence(tmp_path, monkeypatch, capsys):
    """A full disk (OpenCV's imwrite returns False, a text write raises ENOSPC) ends the command in one error line
    naming the file; the sequence being written is not left half-written."""
    import errno
    import importlib.util

    import lib.synthetic.fileio as fileio
    import lib.utils.io as io
    from lib.utils.cli import run_main

    spec = importlib.util.spec_from_file_location("make_synthetic_cli", REPO / "tracking" / "make_synthetic_data.py")
    monkeypatch.syspath_prepend(str(REPO / "tracking"))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = ["--data_dir", str(tmp_path), "--benchmarks", "got10k", "--num_sequences", "2", "--num_frames", "5",
            "--width", "32", "--height", "24"]
    written = []
    real_imwrite = fileio.cv2.imwrite
    monkeypatch.setattr(fileio.cv2, "imwrite", lambda path, *a: len(written) < 7 and (written.append(path) or
                                                                                     real_imwrite(path, *a)))
    assert run_main(cli.main, argv) == 2
    err = error_lines(capsys)
    assert err[0].startswith("error: cannot write image ") and "MiB free" in err[0], err
    train = tmp_path / "got10k" / "train"
    assert sorted(p.name for p in train.iterdir()) == ["GOT-10k_Train_000001"]  # the second one left no trace
    assert len(list((train / "GOT-10k_Train_000001").glob("*.jpg"))) == 5

    monkeypatch.setattr(fileio.cv2, "imwrite", real_imwrite)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fdopen", full_disk)
    assert run_main(cli.main, argv) == 2
    err = error_lines(capsys)
    assert "No space left on device" in err[0] and "free some space" in err[0], err


def error_lines(capsys) -> list[str]:
    """The command's `error:` lines (one expected; the progress bar shares stderr), after checking no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines
