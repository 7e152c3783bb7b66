"""The synthetic multi-modal layouts read back through the evaluation and training readers: 6-channel frames whose
auxiliary channels come from the same scene, ground truth equal to what was rendered."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lib.synthetic import generate
from lib.test.evaluation import get_dataset
from lib.train.dataset.catalog import build_train_dataset
from tests.data.fixture_writers import isolated_settings

MULTIMODAL = ("depthtrack", "vot_rgbd2022", "lasher", "rgbt234", "visevent")
SIZES = dict(width=96, height=72, num_sequences=2, num_frames=30)
# evaluation dataset -> the split of its sequences in the generator's truths; training datasets likewise
EVAL_SPLIT = {"depthtrack": "test", "vot_rgbd2022": "test", "lasher": "testingset", "rgbt234": "test",
              "visevent": "test"}
TRAIN = {"DepthTrack_train": ("depthtrack", "train", 10), "DepthTrack_val": ("depthtrack", "val", 10),
         "LasHeR_train": ("lasher", "trainingset", 0), "LasHeR_val": ("lasher", "valset", 0),
         "VisEvent": ("visevent", "train", 5)}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("multimodal")
    return root, {b: generate(b, root / b, seed=5, **SIZES) for b in MULTIMODAL}


def _present(truth) -> np.ndarray:
    boxes = truth.boxes
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & truth.visible


@pytest.mark.parametrize("name", MULTIMODAL)
def test_evaluation_reader_reads_the_generated_layout(synthetic, name):
    root, truths = synthetic
    sequences = get_dataset(name, settings=isolated_settings(root))
    expected = {n: t for n, t in truths[name].items() if t.split == EVAL_SPLIT[name]}
    assert sorted(s.name for s in sequences) == sorted(expected) and len(expected) == SIZES["num_sequences"]
    for seq in sequences:
        truth = expected[seq.name]
        assert seq.dataset == name and len(seq) == SIZES["num_frames"]
        np.testing.assert_array_equal(seq.ground_truth_rect, truth.boxes)
        assert seq.target_visible.tolist() == _present(truth).tolist()
        # absence is marked the benchmark's way: NaN rows (RGB-D), 0-size boxes (RGB-T), absent_label (RGB-E)
        assert seq.target_visible.tolist() == truth.visible.tolist()
        if name == "rgbt234":
            np.testing.assert_array_equal(seq.ground_truth_rect_aux, truth.extra["aux_boxes"])
            assert not np.array_equal(seq.ground_truth_rect_aux[truth.visible], seq.ground_truth_rect[truth.visible])
        frames = [seq.read_frame(k) for k in (0, len(seq) // 2)]
        assert all(f.shape == (SIZES["height"], SIZES["width"], 6) and f.dtype == np.uint8 for f in frames)
        assert not np.array_equal(frames[1][..., 3:], frames[1][..., :3])


def _inside(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in box)
    return image[y + 2:y + h - 2, x + 2:x + w - 2]


def test_the_auxiliary_channel_sees_the_target(synthetic):
    """Depth: the target is nearer than the background (lower raw depth); thermal: warmer than the background."""
    root, truths = synthetic
    t = next(t for t in truths["depthtrack"].values() if t.split == "test")
    seq_dir = root / "depthtrack" / "test" / t.name
    k = int(np.flatnonzero(t.visible & (t.boxes[:, 2] > 8) & (t.boxes[:, 3] > 8))[0])
    depth = cv2.imread(str(seq_dir / "depth" / f"{k + 1:08d}.png"), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and (depth == 0).any()          # sensor holes
    target = _inside(depth, t.boxes[k])
    assert np.median(target[target > 0]) < 0.8 * np.median(depth[depth > 0])
    t = next(t for t in truths["lasher"].values() if t.split == "testingset")
    k = int(np.flatnonzero(t.visible & (t.boxes[:, 2] > 8) & (t.boxes[:, 3] > 8))[0])
    thermal = cv2.imread(str(root / "lasher" / "testingset" / t.name / "infrared" / f"i{k:03d}.jpg"))
    assert _inside(thermal, t.boxes[k]).mean() > thermal.mean() + 40


@pytest.mark.parametrize("name", list(TRAIN))
def test_training_reader_reads_the_generated_layout(synthetic, name):
    root, truths = synthetic
    benchmark, split, min_size = TRAIN[name]
    dataset = build_train_dataset(name, settings=isolated_settings(root))
    expected = {n: t for n, t in truths[benchmark].items() if t.split == split}
    assert sorted(dataset.sequence_list) == sorted(expected)
    for seq_id, seq_name in enumerate(dataset.sequence_list):
        truth, info = expected[seq_name], dataset.get_sequence_info(seq_id)
        np.testing.assert_array_equal(info["bbox"].numpy(), truth.boxes.astype(np.float32))
        with np.errstate(invalid="ignore"):
            valid = (truth.boxes[:, 2] > min_size) & (truth.boxes[:, 3] > min_size)
        assert info["visible"].tolist() == (valid & truth.visible).tolist()
        frames, _, _ = dataset.get_frames(seq_id, [0, 5])
        assert all(f.shape == (SIZES["height"], SIZES["width"], 6) for f in frames)


def test_generation_is_deterministic(tmp_path):
    sizes = dict(width=48, height=36, num_sequences=1, num_frames=6)
    a = generate("visevent", tmp_path / "a", seed=2, **sizes)
    b = generate("visevent", tmp_path / "b", seed=2, **sizes)
    assert a.keys() == b.keys()
    name = next(iter(a))
    for rel in (f"test/{name}/event_imgs/frame0005.bmp", f"test/{name}/groundtruth.txt"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
