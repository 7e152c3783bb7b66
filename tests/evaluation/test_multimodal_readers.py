"""The multi-modal evaluation readers return the frames and boxes of hand-written sample sequences: HxWx6 frames
(RGB, then the depth colour map / thermal / event image), ground truth as stored, absence as the benchmark marks it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.test.evaluation.datasets import build_eval_dataset
from lib.utils.modalities import depth_colormap
from tests.data.fixture_writers import (AUX_LEVEL_OFFSET, MM_SIZE, depth_ramp, frame_level, gray_level,
                                       isolated_settings, write_frame, write_rgbd_sequence, write_rgbe_sequence,
                                       write_rgbt_sequence, write_text)

NAN = np.nan
SIZE = MM_SIZE


# name -> (writer(data_dir) -> sequence name, expected GT, expected visibility, expected aux GT or None, aux kind)
def _depthtrack(data: Path) -> str:
    write_rgbd_sequence(data / "depthtrack" / "test" / "adapter01_indoor", "10,2,4,5\nnan,nan,nan,nan\n11,3,4,-1\n")
    return "adapter01_indoor"


def _vot_rgbd2022(data: Path) -> str:
    root = data / "vot_rgbd2022"
    write_rgbd_sequence(root / "backpack_blue", "10,2,4,5\nnan,nan,nan,nan\n11,3,4,-1\n")
    write_rgbd_sequence(root / "not_listed", "1,1,1,1\n1,1,1,1\n1,1,1,1\n")
    write_text(root / "list.txt", "backpack_blue\n")
    return "backpack_blue"


def _lasher(data: Path) -> str:
    write_rgbt_sequence(data / "lasher" / "testingset" / "leftgirl's`bag", "10,2,4,5\n0,0,0,0\n11,3,4,5\n",
                "10,2,4,5\n0,0,0,0\n11,3,4,5\n", ["v000.jpg", "v001.jpg", "v002.jpg"],
                ["i000.jpg", "i001.jpg", "i002.jpg"])
    return "leftgirl's`bag"


def _rgbt234(data: Path) -> str:
    write_rgbt_sequence(data / "rgbt234" / "afterrain", "10,2,4,5\n0,0,0,0\n11,3,4,5\n", "12,2,4,6\n0,0,0,0\n13,4,4,5\n",
                ["00001v.jpg", "00002v.jpg", "00003v.jpg"], ["00001i.jpg", "00002i.jpg", "00003i.jpg"])
    return "afterrain"


def _visevent(data: Path) -> str:
    root = data / "visevent" / "test"
    write_rgbe_sequence(root / "dvSave-2021_02_06_09_09_44_person3", "10,2,4,5\n10,2,4,5\n11,3,4,5\n", "1\n0\n1\n",
                ["frame0000.bmp", "frame0001.bmp", "frame0002.bmp"])
    write_text(root / "testlist.txt", "dvSave-2021_02_06_09_09_44_person3\n")
    return "dvSave-2021_02_06_09_09_44_person3"


CASES = {
    "depthtrack": (_depthtrack, [[10, 2, 4, 5], [NAN] * 4, [11, 3, 4, -1]], [True, False, False], None, "depth"),
    "vot_rgbd2022": (_vot_rgbd2022, [[10, 2, 4, 5], [NAN] * 4, [11, 3, 4, -1]], [True, False, False], None, "depth"),
    "lasher": (_lasher, [[10, 2, 4, 5], [0, 0, 0, 0], [11, 3, 4, 5]], [True, False, True],
               [[10, 2, 4, 5], [0, 0, 0, 0], [11, 3, 4, 5]], "image"),
    "rgbt234": (_rgbt234, [[10, 2, 4, 5], [0, 0, 0, 0], [11, 3, 4, 5]], [True, False, True],
                [[12, 2, 4, 6], [0, 0, 0, 0], [13, 4, 4, 5]], "image"),
    "visevent": (_visevent, [[10, 2, 4, 5], [10, 2, 4, 5], [11, 3, 4, 5]], [True, False, True], None, "image"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reader_returns_the_hand_written_sequence(tmp_path, name):
    write, gt, visible, aux_gt, aux_kind = CASES[name]
    seq_name = write(tmp_path)
    sequences = build_eval_dataset(name, isolated_settings(tmp_path)).get_sequence_list()
    assert [s.name for s in sequences] == [seq_name]        # vot_rgbd2022: only what list.txt names
    seq = sequences[0]
    assert seq.dataset == name and len(seq) == 3
    np.testing.assert_array_equal(seq.ground_truth_rect, np.array(gt, dtype=np.float64))
    assert seq.target_visible.tolist() == visible
    if aux_gt is None:
        assert seq.ground_truth_rect_aux is None
    else:
        np.testing.assert_array_equal(seq.ground_truth_rect_aux, np.array(aux_gt, dtype=np.float64))
    assert seq.init_bbox() == [10.0, 2.0, 4.0, 5.0]
    for k in range(3):
        frame = seq.read_frame(k)
        assert frame.shape == (SIZE[1], SIZE[0], 6) and frame.dtype == np.uint8
        assert frame_level(frame[..., :3]) == k                       # the RGB frame of index k, in order
        if aux_kind == "depth":
            np.testing.assert_array_equal(frame[..., 3:], depth_colormap(depth_ramp(k)))
        else:
            assert abs(float(frame[..., 3:].mean()) - gray_level(k + AUX_LEVEL_OFFSET)) < 2   # the paired auxiliary frame


def test_lasher_pairs_frames_by_number_where_the_official_glob_mismatches(tmp_path):
    """12 frames: the official `glob('*1.jpg')` matches both 000001.jpg and 000011.jpg (order unspecified)."""
    seq = tmp_path / "lasher" / "testingset" / "boywalkinginsnow3"
    rgb = [f"{k:06d}.jpg" for k in range(12)]
    ir = [f"i{k:03d}.jpg" for k in range(12)]
    for k in range(12):
        write_frame(seq / "visible" / rgb[k], k, SIZE)
        write_frame(seq / "infrared" / ir[k], k, SIZE)
    write_text(seq / "visible.txt", "1,1,4,4\n" * 12)
    assert len(list((seq / "visible").glob("*1.jpg"))) == 2
    sequence = build_eval_dataset("lasher", isolated_settings(tmp_path)).get_sequence_list()[0]
    assert [Path(p).name for p in sequence.frames[1]] == ["000001.jpg", "i001.jpg"]
    assert [Path(p).name for p in sequence.frames[11]] == ["000011.jpg", "i011.jpg"]
    for k in (1, 11):
        frame = sequence.read_frame(k)
        assert frame_level(frame[..., :3]) == frame_level(frame[..., 3:]) == k % 8
    assert sequence.ground_truth_rect_aux is None   # this copy has no infrared.txt
