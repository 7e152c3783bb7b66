"""Natural-statistics training content and the held-out real-content split.

The quickstart trains on the generator and is judged on photographs composed by another procedure; these tests pin
what each promises: natural content has the spectrum of photographs and leaves classic sequences untouched, and the
photo split reads back through the TNL2K reader, deterministic and resumable, with boxes inside the frames.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest

from lib.synthetic import generate
from lib.synthetic.natural import natural_image, pink_noise
from lib.synthetic.photo_split import photo_paths, write_photo_split
from lib.test.evaluation.readers import TNL2KDataset


def _spectrum_slope(gray: np.ndarray) -> float:
    """Slope of log radial power against log frequency (photographs: about -2)."""
    f = np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean()))) ** 2
    h, w = gray.shape
    yy, xx = np.indices(f.shape)
    r = np.hypot(yy - h // 2, xx - w // 2).astype(int)
    power = np.bincount(r.ravel(), f.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    radii = np.arange(4, min(h, w) // 2)
    return float(np.polyfit(np.log(radii), np.log(power[radii]), 1)[0])


def test_natural_images_have_the_power_spectrum_of_photographs():
    slopes = [_spectrum_slope(cv2.cvtColor(natural_image(np.random.default_rng(s), 240, 320), cv2.COLOR_BGR2GRAY)
                              .astype(np.float64)) for s in range(4)]
    photos = [_spectrum_slope(cv2.imread(p, cv2.IMREAD_GRAYSCALE)[:240, :320].astype(np.float64))
              for p in photo_paths()[:4]]
    assert all(-3.8 < s < -1.8 for s in slopes + photos), (slopes, photos)  # a flat or white spectrum fails
    assert abs(np.mean(slopes) - np.mean(photos)) < 0.6, (slopes, photos)


def test_pink_noise_is_normalised():
    field = pink_noise(np.random.default_rng(0), 64, 96)
    assert field.shape == (64, 96)
    assert abs(field.mean()) < 1e-3 and abs(field.std() - 1) < 1e-3


def test_natural_share_changes_only_the_sequences_it_picks(tmp_path):
    classic = generate("got10k", tmp_path / "classic", seed=5, num_sequences=8, num_frames=6, width=64, height=48)
    mixed = generate("got10k", tmp_path / "mixed", seed=5, num_sequences=8, num_frames=6, width=64, height=48,
                     natural_share=0.5)
    assert classic.keys() == mixed.keys()
    changed = 0
    for name, truth in classic.items():
        np.testing.assert_array_equal(truth.boxes, mixed[name].boxes)  # the motion is the same
        folder = f"{truth.split}/{name}"
        a = (tmp_path / "classic" / folder / "00000001.jpg").read_bytes()
        b = (tmp_path / "mixed" / folder / "00000001.jpg").read_bytes()
        changed += a != b
    assert 0 < changed < 8 + 4  # some sequences (and only those) got natural content
    with pytest.raises(ValueError, match="natural share"):
        generate("got10k", tmp_path / "bad", num_sequences=1, natural_share=1.5)


def test_photo_split_reads_back_and_is_deterministic(tmp_path):
    names = write_photo_split(tmp_path / "a", seed=3, num_sequences=3, num_frames=12, width=96, height=72)
    assert names == ["photo_easy_001", "photo_hard_002", "photo_hard_003"]
    sequences = TNL2KDataset(tmp_path / "a").get_sequence_list()
    assert sorted(s.name for s in sequences) == names
    for seq in sequences:
        gt = np.asarray(seq.ground_truth_rect)
        assert gt.shape == (12, 4)
        assert (gt[:, :2] >= 0).all() and (gt[:, 0] + gt[:, 2] <= 96).all() and (gt[:, 1] + gt[:, 3] <= 72).all()
        assert (gt[0, 2:] > 0).all()
    write_photo_split(tmp_path / "b", seed=3, num_sequences=3, num_frames=12, width=96, height=72)
    for name in names:
        assert (tmp_path / "a" / name / "groundtruth.txt").read_text() == \
            (tmp_path / "b" / name / "groundtruth.txt").read_text()


def test_photo_split_resumes_without_rewriting(tmp_path):
    write_photo_split(tmp_path, seed=1, num_sequences=2, num_frames=5, width=64, height=48)
    frame = tmp_path / "photo_hard_002" / "imgs" / "00001.jpg"
    stamp = frame.stat().st_mtime_ns
    write_photo_split(tmp_path, seed=1, num_sequences=2, num_frames=5, width=64, height=48)
    assert frame.stat().st_mtime_ns == stamp
    assert not list(Path(tmp_path).glob(".*.tmp"))


def test_camera_split_follows_a_region_of_a_still_photo_deterministically(tmp_path):
    names = write_photo_split(tmp_path / "a", seed=2, num_sequences=2, num_frames=10, width=96, height=72,
                              camera=True)
    assert names == ["camera_001", "camera_002"]
    for seq in TNL2KDataset(tmp_path / "a").get_sequence_list():
        gt = np.asarray(seq.ground_truth_rect)
        assert gt.shape == (10, 4) and (gt[:, 2:] > 0).all()
        assert (gt[:, 0] + gt[:, 2] <= 96).all() and (gt[:, 1] + gt[:, 3] <= 72).all()
        assert np.abs(np.diff(gt[:, :2], axis=0)).max() > 0  # the camera moves
    write_photo_split(tmp_path / "b", seed=2, num_sequences=2, num_frames=10, width=96, height=72, camera=True)
    for name in names:
        assert (tmp_path / "a" / name / "groundtruth.txt").read_text() == \
            (tmp_path / "b" / name / "groundtruth.txt").read_text()
