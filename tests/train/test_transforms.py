"""Joint and per-crop transforms: official arithmetic, consistent flips of image, box and masks."""
import random

import numpy as np
import pytest
import torch

from lib.train.data.transforms import (Compose, CropRecord, Normalize, RandomHorizontalFlip,
                                       RandomHorizontalFlip_Norm, SampleAugment, ToGrayscale, ToTensor,
                                       ToTensorAndJitter, mirror_box, render)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _record(seed=0, size=(6, 9)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    att = np.zeros(size, bool)
    att[:, :2] = True
    mask = np.zeros(size, np.float32)
    mask[1:3, 5:8] = 1.0
    return CropRecord(image, (0.5, 0.1, 0.3, 0.4), att, mask)


def _render(rec):
    out = np.empty((3,) + rec.image.shape[:2], np.float32)
    att, mask = render(rec, out)
    return out, att, mask


def _torch_official(image, brightness):
    """The official tensor transforms: ToTensorAndJitter / ToTensor, then Normalize, in float32 torch ops."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
    x = x.div(255) if brightness is None else x.mul(brightness / 255.0).clamp(0.0, 1.0)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    return ((x - mean) / std).numpy()


@pytest.mark.parametrize("brightness", [None, 0.83, 1.0, 1.17])
def test_rendered_values_equal_the_official_tensor_arithmetic(brightness):
    rec = _record()
    rec.image[0, :4, 0] = [0, 1, 254, 255]
    rec.brightness, rec.mean, rec.std = brightness, MEAN, STD
    out, att, mask = _render(rec)
    assert np.array_equal(out, _torch_official(rec.image, brightness))
    assert np.array_equal(att, rec.att) and np.array_equal(mask, rec.mask)


def test_render_flip_moves_image_att_and_mask_together():
    rec = _record()
    plain, att, mask = _render(rec)
    rec.flip = True
    flipped, att_f, mask_f = _render(rec)
    assert np.array_equal(flipped, plain[:, :, ::-1])
    assert np.array_equal(att_f, att[:, ::-1]) and np.array_equal(mask_f, mask[:, ::-1])


def test_render_grayscale_replicates_the_luma():
    rec = _record()
    rec.grayscale = True
    out, _, _ = _render(rec)
    r, g, b = (rec.image[..., c].astype(np.float64) for c in range(3))
    luma = np.round(0.299 * r + 0.587 * g + 0.114 * b)  # ITU-R BT.601, what RGB2GRAY computes
    assert np.abs(out[0] * 255 - luma).max() <= 1.0
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])


def test_per_crop_flip_maps_the_normalised_box():
    rec = _record()
    RandomHorizontalFlip_Norm(1.0)(rec, random.Random(0))
    assert rec.flip and np.allclose(rec.bbox, (1 - 0.5 - 0.3, 0.1, 0.3, 0.4))
    RandomHorizontalFlip_Norm(1.0)(rec, random.Random(0))
    assert not rec.flip and np.allclose(rec.bbox, (0.5, 0.1, 0.3, 0.4))
    untouched = _record()
    RandomHorizontalFlip_Norm(0.0)(untouched, random.Random(0))
    assert not untouched.flip and untouched.bbox == (0.5, 0.1, 0.3, 0.4)


def test_mirror_box_follows_pixel_columns():
    # Columns 2..5 of a 10-wide frame become columns 4..7; the official flip maps x -> W-1-x-w.
    assert mirror_box((2.0, 3.0, 3.0, 4.0), 10) == (4.0, 3.0, 3.0, 4.0)


def test_joint_transforms_roll_once_per_sample():
    counts = {"grey": 0, "mirrored": 0}
    rng = random.Random(0)
    joint = Compose(ToGrayscale(0.3), RandomHorizontalFlip(0.5))
    for _ in range(2000):
        aug = SampleAugment()
        joint(aug, rng)
        counts["grey"] += aug.grayscale
        counts["mirrored"] += aug.mirrored
    assert abs(counts["grey"] / 2000 - 0.3) < 0.04 and abs(counts["mirrored"] / 2000 - 0.5) < 0.04
    aug = SampleAugment()
    Compose(ToGrayscale(0.0), RandomHorizontalFlip(0.0))(aug, rng)
    assert aug == SampleAugment()


def test_brightness_is_drawn_in_range_and_totensor_resets_it():
    rng = random.Random(0)
    values = []
    for _ in range(500):
        rec = _record()
        ToTensorAndJitter(0.2)(rec, rng)
        values.append(rec.brightness)
    assert 0.8 <= min(values) < 0.82 and 1.18 < max(values) <= 1.2
    rec = _record()
    Compose(ToTensorAndJitter(0.2), ToTensor())(rec, rng)
    assert rec.brightness is None


def test_normalize_sets_and_checks_statistics():
    rec = _record()
    Normalize(MEAN, STD)(rec, random.Random(0))
    assert rec.mean == MEAN and rec.std == STD
    with pytest.raises(ValueError, match="3 means"):
        Normalize([0.5], [0.5])
    with pytest.raises(ValueError, match="positive"):
        Normalize(MEAN, [0.2, 0.0, 0.2])
