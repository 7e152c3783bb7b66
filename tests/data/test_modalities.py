"""Auxiliary-modality frames (lib/utils/modalities.py): the DepthTrack colour map, depth decoding, and the
visible/auxiliary pairing by frame number."""
from __future__ import annotations

import glob

import cv2
import numpy as np
import pytest

from lib.utils.annotations import AnnotationError, parse_rectangles
from lib.utils.image_io import ImageReadError
from lib.utils.modalities import (decode_depth, depth_colormap, frame_index, frames_by_index, paired_frames,
                                  rgbd_frame)


def test_depth_is_clipped_at_three_medians_normalised_and_jet_coloured_in_bgr():
    depth = np.array([[100, 200, 300, 400], [200, 200, 5000, 60000]], dtype=np.uint16)  # median 250 -> clip 750
    out = depth_colormap(depth)
    # by hand: clipped [100 200 300 400 / 200 200 750 750], (v - 100) * 255 / 650 rounded
    # -> 0, 39, 78, 118 / 39, 39, 255, 255
    levels = np.array([[0, 39, 78, 118], [39, 39, 255, 255]], dtype=np.uint8)
    assert np.array_equal(out, cv2.applyColorMap(levels, cv2.COLORMAP_JET))
    assert tuple(out[0, 0]) == (128, 0, 0)  # the lowest JET level is dark blue: B first, as the official frame


def test_an_rgbd_frame_is_rgb_then_the_colour_map():
    rgb = np.zeros((2, 4, 3), np.uint8)
    rgb[..., 2] = 7
    depth = np.arange(8, dtype=np.uint16).reshape(2, 4) * 10 + 10
    frame = rgbd_frame(rgb, depth)
    assert frame.shape == (2, 4, 6)
    assert np.array_equal(frame[..., :3], rgb)
    assert np.array_equal(frame[..., 3:], depth_colormap(depth))


def test_lasher_frames_pair_by_number_where_the_official_glob_mismatches(tmp_path):
    names = [f"{i:06d}.jpg" for i in range(12)]
    ir_names = [f"i{i:03d}.jpg" for i in range(12)]
    for folder, files in (("visible", names), ("infrared", ir_names)):
        (tmp_path / folder).mkdir()
        for name in files:
            (tmp_path / folder / name).write_bytes(b"")
    # the official lookup for frame 1 also matches 000011.jpg; which one comes first is up to the file system
    assert len(glob.glob(str(tmp_path / "visible" / "*1.jpg"))) == 2
    pairs = paired_frames(sorted(names, reverse=True), ir_names)
    assert pairs[1] == ("000001.jpg", "i001.jpg") and pairs[11] == ("000011.jpg", "i011.jpg")
    assert len(pairs) == 12


def test_inconsistent_frame_numbers_are_refused():
    with pytest.raises(ValueError, match="same number 1"):
        frames_by_index(["0001.jpg", "001.jpg"])
    with pytest.raises(ValueError, match=r"do not have the same numbers \(frame 2 has no partner\)"):
        paired_frames(["000001.jpg", "000002.jpg"], ["i001.jpg", "i003.jpg"])


def test_frame_numbers_are_the_last_digits_of_the_stem():
    assert [frame_index(n) for n in ("i000.jpg", "000011.jpg", "00012v.jpg", "frame0003.bmp")] == [0, 11, 12, 3]
    with pytest.raises(ValueError, match="no frame number"):
        frame_index("cover.jpg")


def test_depth_must_be_a_16_bit_single_channel_image():
    ok, png16 = cv2.imencode(".png", np.full((3, 4), 1234, np.uint16))
    assert decode_depth(png16.tobytes(), "d.png")[0, 0] == 1234
    ok, png8 = cv2.imencode(".png", np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(ImageReadError, match="d.png: a depth image must be single-channel 16-bit"):
        decode_depth(png8.tobytes(), "d.png")
    with pytest.raises(ImageReadError, match="x.png: cannot decode"):
        decode_depth(b"junk", "x.png")


def test_ground_truth_may_be_rectangles_or_polygons_with_nan_rows():
    rects = parse_rectangles("1,2,3,4\nnan,nan,nan,nan\n5 6 7 8\n", "gt.txt")
    np.testing.assert_array_equal(rects, [[1, 2, 3, 4], [np.nan] * 4, [5, 6, 7, 8]])
    polygons = parse_rectangles("10,20,14,20,14,25,10,25\n1,5,3,1,5,5,3,9\nnan,nan,nan,nan,nan,nan,nan,nan\n", "gt.txt")
    np.testing.assert_array_equal(polygons, [[10, 20, 4, 5], [1, 1, 4, 8], [np.nan] * 4])
    with pytest.raises(AnnotationError, match="gt.txt, line 2: expected 4 values"):
        parse_rectangles("1,2,3,4\n1,2,3\n", "gt.txt")
