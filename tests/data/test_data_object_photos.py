"""Training pairs from object photographs (lib/synthetic/object_photos.py).

Pinned here: the split is deterministic and reads back through the OBJECT_PHOTOS training dataset, the boxes cover
the pasted object, drawings are told from photographs, the evaluation-only photographs are never read (not even
through a link), and without the Tux Paint package the procedural fallback runs and says so.
"""
import os

import cv2
import numpy as np
import pytest

from lib.synthetic import object_photos
from lib.synthetic.object_photos import (STAMP_FOLDER, ObjectSource, is_photo, object_photo_paths,
                                         reserved_folders, write_object_photo_split)
from lib.synthetic.photo_split import photo_paths
from lib.train.dataset.catalog import build_train_dataset
from lib.utils.env import env_settings


def _textured_object(rng: np.random.Generator, size: int = 60) -> np.ndarray:
    """A photograph-like cut-out: a noisy texture inside an elliptical alpha."""
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (3, 3), 0)
    alpha = np.zeros((size, size), np.uint8)
    cv2.ellipse(alpha, (size // 2, size // 2), (size // 2 - 1, size // 3), 0, 0, 360, 255, -1)
    return np.dstack([image, alpha])


def _drawing(size: int = 60) -> np.ndarray:
    image = np.zeros((size, size, 4), np.uint8)
    image[..., :3] = (30, 200, 90)
    cv2.circle(image, (size // 2, size // 2), size // 2 - 1, (0, 0, 0, 255), 2)
    image[..., 3] = 255
    return image


def _source(count: int = 6) -> ObjectSource:
    rng = np.random.default_rng(0)
    return ObjectSource([_textured_object(rng) for _ in range(count)], [f"cat{i % 2}" for i in range(count)], "test")


def test_is_photo_tells_photographs_from_drawings():
    assert is_photo(_textured_object(np.random.default_rng(1)))
    assert not is_photo(_drawing())
    assert not is_photo(_textured_object(np.random.default_rng(1), size=20))  # too few pixels to be a target


def test_split_is_deterministic_and_reads_back_as_a_training_dataset(tmp_path, monkeypatch):
    kw = dict(num_sequences=3, num_frames=5, width=96, height=72, source=_source())
    write_object_photo_split(tmp_path / "a" / "object_photos", seed=4, **kw)
    write_object_photo_split(tmp_path / "b" / "object_photos", seed=4, **kw)
    write_object_photo_split(tmp_path / "c" / "object_photos", seed=5, **kw)
    seq = "train/Objects_000002"
    read = {k: (tmp_path / k / "object_photos" / seq / "groundtruth.txt").read_text() for k in "abc"}
    assert read["a"] == read["b"] != read["c"]
    frame = f"{seq}/00000003.jpg"
    assert (tmp_path / "a/object_photos" / frame).read_bytes() == (tmp_path / "b/object_photos" / frame).read_bytes()

    monkeypatch.setenv("TRACKZOO_DATA_DIR", str(tmp_path / "a"))
    dataset = build_train_dataset("OBJECT_PHOTOS", settings=env_settings())
    assert dataset.get_num_sequences() == 3
    info = dataset.get_sequence_info(1)
    boxes = info["bbox"].numpy()
    assert boxes.shape == (5, 4) and info["visible"].all()
    assert (boxes[:, 2:] > 4).all() and (boxes[:, :2] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 96).all() and (boxes[:, 1] + boxes[:, 3] <= 72).all()
    assert len({tuple(b) for b in boxes}) == 5  # every frame is a new view


def test_box_covers_the_pasted_object(tmp_path):
    """A bright object on the (darkened) scene: the box holds the bright pixels."""
    obj = np.full((50, 50, 4), 255, np.uint8)
    source = ObjectSource([obj], ["white"], "test")
    canvas = np.zeros((72, 96, 3), np.float32)
    cover = object_photos._paste(canvas, obj, (40.0, 30.0), 20.0, 1.0, 0.0, False)
    ys, xs = np.nonzero(cover > 0.5)
    assert abs(xs.mean() - 40) < 1 and abs(ys.mean() - 30) < 1 and abs(len(xs) - 400) < 45
    assert (canvas[cover > 0.99] == 255).all()
    write_object_photo_split(tmp_path, seed=0, num_sequences=1, num_frames=3, width=96, height=72, source=source)
    gt = np.loadtxt(tmp_path / "train/Objects_000001/groundtruth.txt", delimiter=",")
    assert ((gt[:, 2] * gt[:, 3]) > 0).all()


def test_reserved_photographs_are_never_read(tmp_path, monkeypatch):
    folder = tmp_path / "stamps"
    folder.mkdir()
    reserved = photo_paths()[0]
    os.symlink(reserved, folder / "linked.png")  # a link into the reserved folder is refused too
    cv2.imwrite(str(folder / "mine.png"), _textured_object(np.random.default_rng(2)))
    assert [os.path.basename(p) for p in object_photo_paths(str(folder))] == ["mine.png"]
    assert object_photo_paths(os.path.dirname(reserved)) == []

    read = []
    real_imread = cv2.imread
    monkeypatch.setattr(object_photos.cv2, "imread", lambda p, *a: read.append(p) or real_imread(p, *a))
    source = ObjectSource.load(str(folder))
    assert len(source.objects) == 1 and read == [os.path.realpath(folder / "mine.png")]
    roots = reserved_folders()
    assert any(reserved.startswith(r) for r in roots)


@pytest.mark.skipif(not os.path.isdir(STAMP_FOLDER), reason="tuxpaint-stamps-default is not installed")
def test_installed_stamps_are_gpl_photographs_outside_the_reserved_folders():
    licence = "/usr/share/doc/tuxpaint-stamps-default/copyright"
    assert "GPL-2" in open(licence, encoding="utf-8").read()
    paths = object_photo_paths()
    assert paths and all(p.startswith(os.path.realpath(STAMP_FOLDER)) for p in paths)
    assert not {os.path.realpath(p) for p in photo_paths()} & set(paths)


def test_without_the_package_the_procedural_fallback_runs(tmp_path):
    source = ObjectSource.load(str(tmp_path / "absent"))
    assert "procedural" in source.description and "tuxpaint-stamps-default" in source.description
    assert len(source.objects) == len(source.category) > 10
    write_object_photo_split(tmp_path / "out", seed=0, num_sequences=1, num_frames=2, width=64, height=48,
                             source=source)
    assert (tmp_path / "out/train/Objects_000001/00000002.jpg").exists()


def test_patch_share_picks_box_shaped_targets(tmp_path):
    kw = dict(seed=0, num_sequences=2, num_frames=2, width=96, height=72, source=_source())
    write_object_photo_split(tmp_path / "patches", patch_share=1.0, **kw)
    write_object_photo_split(tmp_path / "objects", patch_share=0.0, **kw)
    for name in ("Objects_000001", "Objects_000002"):
        assert "object_class: patch" in (tmp_path / "patches/train" / name / "meta_info.ini").read_text()
        assert "object_class: cat" in (tmp_path / "objects/train" / name / "meta_info.ini").read_text()
