"""Bad input gives a clear error naming the file (and line) instead of wrong data."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from lib.test.evaluation import get_dataset
from lib.test.evaluation.datasets import build_eval_dataset
from lib.train.dataset.catalog import build_train_dataset
from lib.train.dataset.got10k import Got10k
from lib.train.dataset.lasot import Lasot
from lib.utils.annotations import AnnotationError
from lib.utils.image_io import ImageReadError, decode_rgb, imread_rgb
from tests.data.fixture_writers import isolated_settings, write_frame, write_frames, write_text


def _lasot_seq(root: Path, gt: str, occ: str = "0,0,0\n", oov: str = "0,0,0\n", frames: int = 3) -> Path:
    seq = root / "airplane" / "airplane-1"
    write_frames(seq / "img", [f"{k:08d}.jpg" for k in range(1, frames + 1)])
    write_text(seq / "groundtruth.txt", gt)
    write_text(seq / "full_occlusion.txt", occ)
    write_text(seq / "out_of_view.txt", oov)
    return seq


def _info(root: Path):
    return Lasot(root, names=["airplane-1"]).get_sequence_info(0)


# ------------------------------------------------------------------------------------------------ images

def test_image_reads_rgb(tmp_path):
    path = tmp_path / "red.png"
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255
    cv2.imwrite(str(path), bgr)
    image = imread_rgb(path)
    assert image.shape == (4, 5, 3) and image[0, 0].tolist() == [255, 0, 0]


def test_missing_image(tmp_path):
    with pytest.raises(ImageReadError, match="nothere.jpg.*not found"):
        imread_rgb(tmp_path / "nothere.jpg")


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    write_frame(path, 1, size=(64, 48))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg: truncated JPEG"):
        imread_rgb(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "junk.jpg"
    path.write_bytes(b"hello, not a jpeg")
    with pytest.raises(ImageReadError, match="junk.jpg: not a JPEG"):
        imread_rgb(path)
    png = tmp_path / "junk.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match="junk.png: cannot decode"):
        imread_rgb(png)
    with pytest.raises(ImageReadError, match="key/a.jpg: empty"):
        decode_rgb(b"", "key/a.jpg")


# --------------------------------------------------------------------------------------- frames on disk

def test_missing_last_frame(tmp_path):
    _lasot_seq(tmp_path, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", frames=2)
    with pytest.raises(FileNotFoundError, match="00000003.jpg is missing"):
        _info(tmp_path)


def test_sequence_without_frames(tmp_path):
    _lasot_seq(tmp_path, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", frames=0)
    with pytest.raises(FileNotFoundError, match="sequence has no frames.*00000001.jpg"):
        _info(tmp_path)


def test_missing_or_truncated_frame_when_sampled(tmp_path):
    seq = _lasot_seq(tmp_path, "1,2,3,4\n1,2,3,4\n1,2,3,4\n")
    data = Lasot(tmp_path, names=["airplane-1"])
    (seq / "img" / "00000002.jpg").unlink()
    with pytest.raises(ImageReadError, match="00000002.jpg"):
        data.get_frames(0, [1])
    frame3 = seq / "img" / "00000003.jpg"
    write_frame(frame3, 2, size=(64, 48))
    frame3.write_bytes(frame3.read_bytes()[:-40])
    with pytest.raises(ImageReadError, match="00000003.jpg: truncated"):
        data.get_frames(0, [2])


def test_got10k_eval_folder_without_frames(tmp_path):
    write_text(tmp_path / "got10k" / "val" / "list.txt", "GOT-10k_Val_000001\n")
    write_text(tmp_path / "got10k" / "val" / "GOT-10k_Val_000001" / "groundtruth.txt", "1,2,3,4\n")
    with pytest.raises(FileNotFoundError, match="GOT-10k_Val_000001: sequence folder has no .jpg frames"):
        get_dataset("got10k_val", settings=isolated_settings(tmp_path))


# ---------------------------------------------------------------------------------------- ground truth

@pytest.mark.parametrize("gt, message", [
    ("1,2,3,4\n1,2,3\n1,2,3,4\n", r"groundtruth.txt, line 2: expected 4 values separated by commas, got 3"),
    ("1,2,3,4\n1,2,3,4\n1,2,x,4\n", r"groundtruth.txt, line 3: 'x' is not a number"),
    ("1,2,3,4\nNaN,NaN,NaN,NaN\n1,2,3,4\n", r"groundtruth.txt, line 2: NaN"),
    ("1,2,3,4\n1,2,-3,4\n1,2,3,4\n", r"groundtruth.txt, line 2: negative width or height"),
    ("", r"groundtruth.txt: empty annotation file"),
])
def test_bad_ground_truth_rows(tmp_path, gt, message):
    _lasot_seq(tmp_path, gt)
    with pytest.raises(AnnotationError, match=message):
        _info(tmp_path)


def test_negative_size_allowed_on_absent_frames(tmp_path):
    _lasot_seq(tmp_path, "1,2,3,4\n1,1,-1,-1\n1,2,3,4\n", oov="0,1,0\n")
    info = _info(tmp_path)
    assert info["valid"].tolist() == [True, False, True] and info["visible"].tolist() == [True, False, True]


def test_flag_count_mismatch(tmp_path):
    _lasot_seq(tmp_path, "1,2,3,4\n1,2,3,4\n1,2,3,4\n", occ="0,0\n")
    with pytest.raises(AnnotationError, match="full_occlusion.txt: 2 values, but .*groundtruth.txt has 3"):
        _info(tmp_path)


def test_uav_allows_nan_but_not_bad_rows(tmp_path):
    uav = tmp_path / "uav"
    for k in (1, 109):
        write_frame(uav / "data_seq" / "UAV123" / "uav6" / f"{k:06d}.jpg", k)
    rows = ["NaN,NaN,NaN,NaN\n" if i == 50 else "1,2,3,4\n" for i in range(109)]
    write_text(uav / "anno" / "UAV123" / "uav6.txt", "".join(rows))
    (s,) = get_dataset("uav", only_present=True, settings=isolated_settings(tmp_path))
    assert np.isnan(s.ground_truth_rect[50]).all()
    rows[7] = "1,2,3\n"
    write_text(uav / "anno" / "UAV123" / "uav6.txt", "".join(rows))
    with pytest.raises(AnnotationError, match="uav6.txt, line 8: expected 4 values"):
        get_dataset("uav", only_present=True, settings=isolated_settings(tmp_path))
    write_text(uav / "anno" / "UAV123" / "uav6.txt", "1,2,3,4\n" * 100)
    with pytest.raises(AnnotationError, match="uav6.txt: 100 rows, but the official table has 109 frames"):
        get_dataset("uav", only_present=True, settings=isolated_settings(tmp_path))


def test_nan_rejected_outside_uav(tmp_path):
    nfs = tmp_path / "nfs"
    for k in (1, 45):
        write_frame(nfs / "sequences" / "bee" / f"{k:05d}.jpg", k)
    write_text(nfs / "anno" / "nfs_bee.txt", "1\t2\t3\t4\n" * 10 + "nan\tnan\tnan\tnan\n" + "1\t2\t3\t4\n" * 34)
    with pytest.raises(AnnotationError, match="nfs_bee.txt, line 11: NaN"):
        get_dataset("nfs", only_present=True, settings=isolated_settings(tmp_path))


# ---------------------------------------------------------------------------------------- lists and names

def test_empty_list_txt(tmp_path):
    write_text(tmp_path / "train" / "list.txt", "\n\n")
    with pytest.raises(AnnotationError, match=r"train/list.txt: empty list.txt"):
        Got10k(tmp_path / "train")
    write_text(tmp_path / "got10k" / "test" / "list.txt", "")
    with pytest.raises(AnnotationError, match=r"test/list.txt: empty list.txt"):
        build_eval_dataset("got10k_test", isolated_settings(tmp_path))


def test_bad_meta_info(tmp_path):
    write_text(tmp_path / "list.txt", "GOT-10k_Train_000001\n")
    write_text(tmp_path / "GOT-10k_Train_000001" / "meta_info.ini", "[METAINFO]\nurl: x\n")
    with pytest.raises(AnnotationError, match="meta_info.ini: missing keys"):
        Got10k(tmp_path)


def test_missing_listed_sequences_listed(tmp_path):
    _lasot_seq(tmp_path / "lasot", "1,2,3\n")
    write_text(tmp_path / "lasot" / "testing_set.txt", "airplane-1\nairplane-9\nairplane-13\n")
    with pytest.raises(FileNotFoundError, match=r"2 of 3 sequences are missing: airplane-9, airplane-13.*"
                                                r"--only_present"):
        get_dataset("lasot", settings=isolated_settings(tmp_path))


def test_unknown_dataset_names(tmp_path):
    with pytest.raises(KeyError, match="valid names: lasot, lasot_lmdb, .*tnl2k"):
        get_dataset("lasot", "lasott")
    with pytest.raises(KeyError, match="valid names: LASOT, GOT10K_vottrain, .*TRACKINGNET"):
        build_train_dataset("GOT10K_train")


def test_missing_dataset_folder_names_the_variable(tmp_path):
    with pytest.raises(FileNotFoundError, match="TRACKZOO_LASOT_PATH"):
        get_dataset("lasot", settings=isolated_settings(tmp_path))
