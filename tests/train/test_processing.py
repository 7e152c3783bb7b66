"""Crop geometry (lib.utils.crop), TrackingProcessing and the heat-map labels."""
import math
import random

import cv2
import numpy as np
import pytest
import torch

from lib.train.data.labels import gaussian_heatmap, gaussian_radius
from lib.train.data.processing import TrackingProcessing
from lib.train.data.transforms import (Compose, Normalize, RandomHorizontalFlip, RandomHorizontalFlip_Norm,
                                       ToGrayscale, ToTensor, ToTensorAndJitter)
from lib.utils.crop import (clip_box, crop_origin, crop_resize, crop_side, map_box_back, sample_target,
                            transform_image_to_crop)


def reference_sample_target(image, box, factor, out):
    """The official algorithm written plainly: pad the whole crop (right/bottom pad + 1), resize a 0/1 mask."""
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    x1, y1 = round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - image.shape[1] + 1, 0), max(y2 - image.shape[0] + 1, 0)
    inner = image[y1 + y1_pad:y2 - y2_pad, x1 + x1_pad:x2 - x2_pad]
    padded = cv2.copyMakeBorder(inner, y1_pad, y2_pad, x1_pad, x2_pad, cv2.BORDER_CONSTANT)
    att = np.ones((side, side))
    att[y1_pad:side - y2_pad, x1_pad:side - x2_pad] = 0
    return cv2.resize(padded, (out, out)), out / side, cv2.resize(att, (out, out)).astype(bool)


def _window_meets_frame(box, factor, height, width):
    side = crop_side(box[2], box[3], factor)
    x1, y1 = crop_origin(box, side)
    return x1 + side > 0 and y1 + side > 0 and x1 < width - 1 and y1 < height - 1


def test_sample_target_matches_the_official_algorithm_pixel_for_pixel():
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 300:
        height, width = (int(v) for v in rng.integers(20, 90, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        w, h = rng.uniform(1, width), rng.uniform(1, height)
        box = [rng.uniform(-w, width), rng.uniform(-h, height), w, h]
        factor, out = float(rng.choice([0.7, 2.0, 4.0, 5.0])), int(rng.choice([8, 16, 37, 64]))
        # The official slicing wraps around for windows wholly outside the usable frame; ours gives zeros.
        if not _window_meets_frame(box, factor, height, width):
            continue
        crop, factor_out, att = sample_target(image, box, factor, out)
        ref_crop, ref_factor, ref_att = reference_sample_target(image, box, factor, out)
        assert np.array_equal(crop, ref_crop) and factor_out == ref_factor and np.array_equal(att, ref_att), box
        checked += 1


def test_mirrored_crop_equals_the_crop_of_the_flipped_frame():
    rng = np.random.default_rng(1)
    checked = 0
    while checked < 200:
        height, width = (int(v) for v in rng.integers(20, 90, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        w, h = rng.uniform(1, width), rng.uniform(1, height)
        box = [rng.uniform(-w, width), rng.uniform(-h, height), w, h]
        factor, out = float(rng.choice([2.0, 5.0])), int(rng.choice([16, 37]))
        flipped_box = [width - 1 - box[0] - w, box[1], w, h]
        if not _window_meets_frame(flipped_box, factor, height, width):
            continue
        ref_crop, _, ref_att = reference_sample_target(np.ascontiguousarray(image[:, ::-1]), flipped_box, factor,
                                                       out)
        side = crop_side(w, h, factor)
        crop, att = crop_resize(image, *crop_origin(flipped_box, side), side, out, mirrored=True)
        assert np.array_equal(crop, ref_crop) and np.array_equal(att, ref_att)
        checked += 1


def test_att_mask_marks_exactly_the_pixels_drawn_from_padding():
    image = np.full((60, 80, 3), 200, np.uint8)
    for box, out in (([-10.0, 5.0, 30.0, 30.0], 30), ([60.0, 40.0, 25.0, 25.0], 50), ([-5.0, -8.0, 20.0, 24.0], 64)):
        crop, _, att = sample_target(image, box, 2.0, out)
        assert att.any() and not att.all()
        # Any bilinear tap on padding (zeros) pulls the value below 200; taps inside the frame keep it.
        assert np.array_equal(att, crop[..., 0] < 200)
    crop, _, att = sample_target(image, [30.0, 20.0, 10.0, 10.0], 2.0, 16)
    assert not att.any() and (crop == 200).all()


def test_sample_target_crops_an_instance_mask_with_the_image():
    image = np.zeros((40, 50, 3), np.uint8)
    mask = np.zeros((40, 50), np.float32)
    mask[10:20, 15:30] = 1.0
    image[10:20, 15:30] = 255
    crop, _, att, mask_crop = sample_target(image, [15.0, 10.0, 15.0, 10.0], 3.0, 40, mask=mask)
    assert mask_crop.dtype == np.float32 and mask_crop.shape == (40, 40)
    assert np.array_equal(mask_crop > 0.5, crop[..., 0] > 127)


def test_sample_target_rejects_an_empty_box():
    with pytest.raises(ValueError, match="too small"):
        sample_target(np.zeros((10, 10, 3), np.uint8), [1, 1, 0, 5], 2.0, 8)


def test_transform_image_to_crop_formula():
    # Extract box centre (30, 40); box centre (35, 38); scale 2; crop 64 -> centre 31.5 + (5, -2) * 2.
    box = transform_image_to_crop([30, 33, 10, 10], [20, 30, 20, 20], 2.0, 64, normalize=False)
    assert np.allclose(box, [41.5 - 10, 27.5 - 10, 20, 20])
    assert np.allclose(transform_image_to_crop([30, 33, 10, 10], [20, 30, 20, 20], 2.0, 64), box / 64)


def test_map_box_back_inverts_the_crop_mapping():
    state = [100.0, 50.0, 40.0, 20.0]
    side = crop_side(40, 20, 4.0)
    resize_factor = 128 / side
    box = [110.0, 55.0, 30.0, 12.0]
    x, y, w, h = transform_image_to_crop(box, state, resize_factor, 128, normalize=False)
    # The crop mapping puts the centre at (S-1)/2 while map_box_back uses S/2: half a crop pixel apart.
    centre = [x + w / 2 + 0.5, y + h / 2 + 0.5, w, h]
    assert np.allclose(map_box_back(centre, state, resize_factor, 128), box)


def test_clip_box_keeps_the_box_inside_with_margin():
    assert clip_box([-5, 10, 20, 30], 100, 200) == [0, 10, 15, 30]
    assert clip_box([195, 95, 30, 30], 100, 200, margin=10) == [190, 95 - 5, 10, 10]


# ------------------------------------------------------------------------------------------------ processing
def _scene(height=120, width=160, box=(60, 40, 24, 30)):
    """Dark frame with a bright filled box covering pixel columns x..x+w-1 and rows y..y+h-1."""
    frame = np.full((height, width, 3), 20, np.uint8)
    x, y, w, h = box
    frame[y:y + h, x:x + w] = 230
    return frame, [float(v) for v in box]


def _processing(center_jitter=0.0, scale_jitter=0.0, joint=None, per_crop=None, **kwargs):
    per_crop = per_crop or Compose(ToTensor(), Normalize([0, 0, 0], [1, 1, 1]))
    return TrackingProcessing(
        search_area_factor={"template": 2.0, "search": 4.0}, output_sz={"template": 32, "search": 64},
        center_jitter_factor={"template": 0.0, "search": center_jitter},
        scale_jitter_factor={"template": 0.0, "search": scale_jitter},
        transform={"template": per_crop, "search": per_crop}, joint_transform=joint, **kwargs)


def _data(frame, box, n_search=1):
    return {"template_images": [frame], "template_anno": [box], "search_images": [frame] * n_search,
            "search_anno": [box] * n_search, "dataset": "fake", "test_class": None}


def _bright_box(image_chw):
    """(x0, y0, x1, y1) in crop pixels (corner convention) of the pixels brighter than mid-level."""
    ys, xs = np.nonzero(image_chw[0] > 0.5)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def _check_boxes_match(out, box_width, mirrored=False):
    """Each returned box must frame the bright pixels of its crop, up to the official geometry's conventions:
    - thresholding a bilinear edge: 0.5 crop px;
    - boxes are centred on (S-1)/2 (pixel centres) while the bright extent is measured on pixel edges: 0.5 crop
      px (the per-crop flip x -> 1 - x - w turns that half pixel to the other side);
    - the crop origin is rounded while the box assumes the exact centre: up to 0.5 frame px;
    - a frame mirror maps pixel columns c -> W-1-c: one frame px off mirroring the box's extent."""
    for part, size in (("template", 32), ("search", 64)):
        for image, anno in zip(out[f"{part}_images"].numpy(), out[f"{part}_anno"].numpy()):
            scale = anno[2] * size / box_width  # crop pixels per frame pixel
            tolerance = 1.0 + scale * (0.5 + mirrored) + 1e-4
            x0, y0, w, h = anno * size
            expected = np.clip([x0, y0, x0 + w, y0 + h], 0, size)  # the crop may cut the box
            found = _bright_box(image)
            assert np.abs(found - expected).max() <= tolerance, (part, found, expected, tolerance)


@pytest.mark.parametrize("jitter", [(0.0, 0.0), (3.0, 0.25)])
def test_returned_boxes_match_the_box_drawn_in_the_crop(jitter):
    frame, box = _scene()
    processing = _processing(*jitter)
    rng = random.Random(0)
    for _ in range(20):
        out = processing(_data(frame, box), rng)
        assert out["valid"]
        _check_boxes_match(out, box[2])


@pytest.mark.parametrize("mirrored,crop_flipped", [(True, False), (False, True), (True, True)])
def test_flips_move_image_and_box_together(mirrored, crop_flipped):
    frame, box = _scene(box=(20, 50, 30, 20))  # off-centre, so a flip without the box would be caught
    joint = Compose(RandomHorizontalFlip(1.0)) if mirrored else None
    per_crop = Compose(ToTensor(), RandomHorizontalFlip_Norm(1.0 if crop_flipped else 0.0),
                       Normalize([0, 0, 0], [1, 1, 1]))
    processing = _processing(3.0, 0.25, joint=joint, per_crop=per_crop)
    rng = random.Random(1)
    for _ in range(10):
        _check_boxes_match(processing(_data(frame, box), rng), box[2], mirrored)


def test_output_shapes_types_and_pass_through_keys():
    frame, box = _scene()
    out = _processing(heatmap_stride=16)(_data(frame, box, n_search=2), random.Random(0))
    assert out["valid"] and out["dataset"] == "fake" and out["test_class"] is None
    assert out["template_images"].shape == (1, 3, 32, 32) and out["template_images"].dtype == torch.float32
    assert out["search_images"].shape == (2, 3, 64, 64)
    assert out["search_anno"].shape == (2, 4) and out["template_att"].shape == (1, 32, 32)
    assert out["search_att"].dtype == torch.bool
    assert out["search_label"].shape == (2, 4, 4)
    assert "search_masks" not in out


def test_normalisation_by_out_minus_one():
    frame, box = _scene()
    by_out = _processing()(_data(frame, box), random.Random(0))
    by_out_minus_one = _processing(norm_by="out-1")(_data(frame, box), random.Random(0))
    assert torch.allclose(by_out["search_anno"] * 64 / 63, by_out_minus_one["search_anno"])


def test_grayscale_makes_every_channel_equal():
    frame, box = _scene()
    frame[..., 0] = 90  # colour the frame
    out = _processing(joint=Compose(ToGrayscale(1.0)))(_data(frame, box), random.Random(0))
    for part in ("template", "search"):
        images = out[f"{part}_images"]
        assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])


def test_brightness_jitter_scales_pixel_values():
    frame = np.full((50, 60, 3), 100, np.uint8)
    per_crop = Compose(ToTensorAndJitter(0.2), Normalize([0, 0, 0], [1, 1, 1]))
    out = _processing(per_crop=per_crop)(_data(frame, [20.0, 15.0, 10.0, 10.0]), random.Random(3))
    values = out["template_images"][0][~out["template_att"][0].expand(3, -1, -1)]
    factor = values.unique().item() * 255 / 100
    assert 0.8 <= factor <= 1.2 and abs(factor - 1) > 1e-4


def test_crops_with_no_image_are_rejected_and_the_stride_check_is_optional():
    frame, _ = _scene()
    gone = [500.0, 400.0, 20.0, 20.0]  # far outside the frame: the crop is all padding
    assert not _processing()(_data(frame, gone), random.Random(0))["valid"]
    # Search crop whose image part is only its last 2 columns: not all padding, but all padding at stride 16.
    side = 64  # factor 4 x sqrt(16 * 16)
    edge = [-side / 2 - 8 + 2 - 1, 40.0, 16.0, 16.0]  # x1 = -62 -> columns 62, 63 read frame columns 0, 1
    data = _data(frame, [60.0, 40.0, 16.0, 16.0])
    data["search_anno"] = [edge]
    out = _processing(reject_padding=False)(data, random.Random(0))
    att = out["search_att"][0]
    assert out["valid"] and not att.all() and att[::16, ::16].all()
    assert not _processing()(data, random.Random(0))["valid"]


def test_zero_sized_box_is_invalid():
    frame, box = _scene()
    data = _data(frame, box)
    data["search_anno"] = [[10.0, 10.0, 0.0, 5.0]]
    assert not _processing()(data, random.Random(0))["valid"]


def test_instance_masks_are_cropped_when_asked():
    frame, box = _scene()
    mask = np.zeros(frame.shape[:2], np.float32)
    mask[40:70, 60:84] = 1.0
    data = _data(frame, box)
    data["template_masks"], data["search_masks"] = [mask], [None]
    out = _processing(with_masks=True)(data, random.Random(0))
    assert out["template_masks"].shape == (1, 32, 32) and out["template_masks"].max() > 0.9
    assert torch.equal(out["template_masks"][0] > 0.5, out["template_images"][0, 0] > 0.5)
    assert out["search_masks"].abs().sum() == 0  # the dataset gave no mask for this frame


def test_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="norm_by"):
        _processing(norm_by="half")
    with pytest.raises(ValueError, match="template"):
        TrackingProcessing({"search": 4.0}, {"template": 32, "search": 64}, {"template": 0, "search": 0},
                           {"template": 0, "search": 0}, {"template": None, "search": None})


# ------------------------------------------------------------------------------------------------ heat map
def test_gaussian_radius_is_cornernets_formula():
    w, h, m = 5.0, 3.0, 0.7
    r1 = (h + w + math.sqrt((h + w) ** 2 - 4 * w * h * (1 - m) / (1 + m))) / 2
    r2 = (2 * (h + w) + math.sqrt(4 * (h + w) ** 2 - 16 * (1 - m) * w * h)) / 2
    r3 = (-2 * m * (h + w) + math.sqrt(4 * m * m * (h + w) ** 2 - 16 * m * (m - 1) * w * h)) / 2
    assert gaussian_radius(w, h, m) == pytest.approx(min(r1, r2, r3), rel=1e-6)


def test_heatmap_peak_sits_at_the_box_centre_cell():
    feat = 16
    box = np.array([0.30, 0.55, 0.25, 0.125])  # centre (0.425, 0.6125) -> cells (6.8, 9.8) -> (7, 10)
    heatmap = gaussian_heatmap(box, feat)
    assert heatmap.shape == (feat, feat) and heatmap.dtype == np.float32
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (10, 7) and heatmap.max() == 1.0
    radius = int(gaussian_radius(4.0, 2.0))
    sigma = (2 * radius + 1) / 6
    assert heatmap[10, 7 + radius] == pytest.approx(math.exp(-radius ** 2 / (2 * sigma ** 2)), rel=1e-6)
    assert heatmap[10, 7 + radius + 1] == 0 and (heatmap > 0).sum() == (2 * radius + 1) ** 2


def test_heatmap_near_the_border_is_truncated():
    heatmap = gaussian_heatmap([-0.4, -0.4, 0.9, 0.9], 16)  # centre cell (1, 1); 14.4 cells wide -> radius 3
    assert int(gaussian_radius(14.4, 14.4)) == 3
    assert heatmap[1, 1] == 1.0 and heatmap[0, 0] > 0 and (heatmap > 0).sum() == 5 * 5
    off_grid = gaussian_heatmap([1.2, 0.5, 0.1, 0.1], 8)  # centre right of the grid
    assert off_grid.max() < 1.0


def test_processing_heatmap_follows_the_search_box():
    frame, box = _scene()
    out = _processing(3.0, 0.25, heatmap_stride=16)(_data(frame, box), random.Random(5))
    x, y, w, h = out["search_anno"][0].tolist()
    peak = np.unravel_index(out["search_label"][0].numpy().argmax(), (4, 4))
    assert peak == (round((y + h / 2) * 4), round((x + w / 2) * 4))
