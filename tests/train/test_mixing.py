"""The sampler's extra object (another sequence's object, same class first; only on the scheduled epochs) and the
paste into search crops (lib/train/data/paste.py): occlusion limit, pixels touched, behind the target."""
import random

import numpy as np
import pytest

from lib.train.data.paste import ObjectPaste, content_box, occlusion
from lib.train.data.sampler import EpochSchedule, TrackingSampler
from tests.fixtures.classed_videos import ClassedVideos


def seq_of_box(box):
    return int(round(float(box[2]))) - 24


def raw_sampler(dataset, num_search=2):
    return TrackingSampler([dataset], None, 100, 10, num_search, 1, None, "causal",
                           extra_object_epochs=EpochSchedule(1, 11))


def test_an_epoch_schedule_selects_multiples_of_every_strictly_after_after():
    assert [e for e in range(0, 40) if EpochSchedule(after=1, every=11)(e)] == [11, 22, 33]
    assert [e for e in range(0, 40) if EpochSchedule(after=11, every=11)(e)] == [22, 33]
    with pytest.raises(ValueError):
        EpochSchedule(after=0, every=0)


def test_samples_carry_an_extra_object_only_on_mixing_epochs():
    sampler = raw_sampler(ClassedVideos(["cat", "cat"]))
    for epoch in (0, 1, 10, 12, 21):  # 0: the validation loader's epoch
        assert "search_extra" not in sampler[(epoch, 0)]
    for epoch in (11, 22):
        extra = sampler[(epoch, 0)]["search_extra"]
        assert len(extra.frames) == len(extra.boxes) == 2  # one per search frame


# ------------------------------------------------------------------------------------------------- same class
def test_the_extra_object_is_another_sequence_of_the_targets_class_else_any_other_sequence():
    dataset = ClassedVideos(["cat", "cat", "cat", "dog", "bird"])
    sampler = raw_sampler(dataset)
    fallbacks = 0
    for i in range(150):
        sample = sampler[(11, i)]
        own, extra = seq_of_box(sample["search_anno"][0]), seq_of_box(sample["search_extra"].boxes[0])
        assert extra != own
        if dataset.classes[own] == "cat":
            assert dataset.classes[extra] == "cat"
        elif dataset.classes[own] == "bird":  # no other bird: any other sequence
            fallbacks += 1
    assert fallbacks > 0


def test_a_reader_without_class_information_gives_any_other_sequence():
    sampler = raw_sampler(ClassedVideos(["a", "b", "c"], class_info=False))
    extras = set()
    for i in range(60):
        sample = sampler[(22, i)]
        own, extra = seq_of_box(sample["search_anno"][0]), seq_of_box(sample["search_extra"].boxes[0])
        assert extra != own
        extras.add(extra)
    assert extras == {0, 1, 2}


# ------------------------------------------------------------------------------------------------- paste
def _random_case(rng):
    crop = np.asarray(rng.integers(0, 100, (64, 64, 3)), np.uint8)
    att = np.zeros((64, 64), bool)
    att[:, : int(rng.integers(0, 20))] = True  # padding on the left
    w, h = rng.uniform(6, 30, 2)
    target = (rng.uniform(15, 60 - w), rng.uniform(0, 64 - h), w, h)
    frame = np.asarray(rng.integers(150, 256, (50, 50, 3)), np.uint8)
    box = (rng.uniform(-5, 30), rng.uniform(-5, 30), rng.uniform(5, 30), rng.uniform(5, 30))
    return crop, att, target, frame, box


@pytest.mark.parametrize("limit", [0.0, 0.2, 0.5])
def test_the_pasted_object_covers_at_most_the_limit_of_the_target_and_nothing_outside_its_region(limit):
    rng, paste = np.random.default_rng(0), ObjectPaste(max_occlusion=limit)
    pasted = 0
    for trial in range(200):
        crop, att, target, frame, box = _random_case(rng)
        before = crop.copy()
        region = paste(crop, att, target, frame, box, False, random.Random(trial))
        changed = (crop != before).any(-1)
        if region is None:
            assert not changed.any()
            continue
        pasted += 1
        content = content_box(att)
        x, y, w, h = target
        visible = (max(content[0], x), max(content[1], y), min(content[2], x + w), min(content[3], y + h))
        assert occlusion(visible, region) <= limit + 1e-12
        x1, y1, x2, y2 = region
        assert content[0] <= x1 < x2 <= content[2] and content[1] <= y1 < y2 <= content[3]
        outside = changed.copy()
        outside[y1:y2, x1:x2] = False
        assert not outside.any()
        assert (crop[y1:y2, x1:x2] >= 150).all()  # the object's pixels (all >= 150 in its frame)
    assert pasted > 100


def test_reverse_puts_the_object_behind_the_target():
    rng, paste = np.random.default_rng(1), ObjectPaste(max_occlusion=0.5, behind_prob=1.0)
    overlapping = 0
    for trial in range(200):
        crop, att, target, frame, box = _random_case(rng)
        before = crop.copy()
        region = paste(crop, att, target, frame, box, False, random.Random(trial))
        if region is None:
            continue
        x, y, w, h = target
        rows, cols = slice(int(np.floor(y)), int(np.ceil(y + h))), slice(int(np.floor(x)), int(np.ceil(x + w)))
        assert np.array_equal(crop[rows, cols], before[rows, cols])
        overlapping += occlusion((x, y, x + w, y + h), region) > 0
    assert overlapping > 20


def test_an_extra_object_without_a_paste_or_with_classification_sampling_is_an_error():
    from lib.train.data.processing import TrackingProcessing

    processing = TrackingProcessing({"template": 2.0, "search": 4.0}, {"template": 32, "search": 64},
                                    {"template": 0.0, "search": 0.0}, {"template": 0.0, "search": 0.0},
                                    {"template": None, "search": None})
    sample = raw_sampler(ClassedVideos(["cat", "cat"]))[(11, 0)]
    with pytest.raises(ValueError, match="search_extra"):
        processing(sample, random.Random(0))
    with pytest.raises(ValueError, match="train_cls"):
        TrackingSampler([ClassedVideos(["cat"])], None, 10, [10], 1, 2, None, "trident", train_cls=True,
                        extra_object_epochs=EpochSchedule(1, 11))
