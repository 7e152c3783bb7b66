"""TrackingSampler: frame-id modes, visibility, dataset mix, reproducibility and errors, on in-memory datasets."""
import warnings

import numpy as np
import pytest
import torch

from lib.train.data.sampler import SampleError, TrackingSampler, sample_ids


class FakeVideos:
    """BaseVideoDataset API over in-memory sequences; a frame's box encodes (frame id, sequence id)."""

    def __init__(self, visible, valid=None, name="fake", image_dataset=False, broken=()):
        self.visible = [torch.tensor(v, dtype=torch.bool) for v in visible]
        self.valid = [torch.tensor(v, dtype=torch.bool) for v in valid] if valid else self.visible
        self.name, self.image_dataset, self.broken = name, image_dataset, set(broken)
        self.loads = []

    def get_name(self):
        return self.name

    def is_video_sequence(self):
        return not self.image_dataset

    def get_num_sequences(self):
        return len(self.visible)

    def get_sequence_info(self, seq_id):
        n = len(self.visible[seq_id])
        boxes = torch.stack([torch.arange(n, dtype=torch.float32), torch.full((n,), float(seq_id)),
                             torch.full((n,), 4.0), torch.full((n,), 4.0)], dim=1)
        return {"bbox": boxes, "valid": self.valid[seq_id], "visible": self.visible[seq_id]}

    def get_frames(self, seq_id, frame_ids, anno):
        self.loads.append((seq_id, list(frame_ids)))
        for fid in frame_ids:
            if (seq_id, fid) in self.broken:
                raise OSError(f"/data/{self.name}/{seq_id}/{fid:08d}.jpg: truncated JPEG file")
        frames = [np.full((4, 4, 3), fid % 256, np.uint8) for fid in frame_ids]
        return frames, {"bbox": [anno["bbox"][fid] for fid in frame_ids]}, {"object_class_name": f"c{seq_id}"}


def ids_of(sample, part):
    return [int(box[0]) for box in sample[f"{part}_anno"]]


def seq_of(sample, part="search"):
    return int(sample[f"{part}_anno"][0][1])


def sampler(datasets, mode="causal", nt=1, ns=1, max_gap=10, **kwargs):
    return TrackingSampler(datasets, kwargs.pop("p", None), 1000, max_gap, ns, nt, None, mode, **kwargs)


def draws(s, n=300, epoch=0):
    return [s[(epoch, i)] for i in range(n)]


ALTERNATING = [[i % 2 == 0 for i in range(60)]]  # even frames visible


def test_sample_ids_respects_range_mask_and_replacement():
    import random
    rng = random.Random(0)
    mask = np.array([True, False, True, True, False])
    picks = [i for _ in range(200) for i in sample_ids(mask, rng, 3, 1, 4)]
    assert set(picks) == {2, 3}
    assert sample_ids(mask, rng, 0) == [] and sample_ids(mask, rng, 1, 4, 10) is None
    assert sample_ids(mask, rng, 2, -5, 1) in ([0, 0],)


def test_causal_search_follows_the_template_within_the_gap():
    s = sampler([FakeVideos(ALTERNATING)], nt=2, ns=2, max_gap=10)
    for sample in draws(s):
        t = ids_of(sample, "template")
        searches = ids_of(sample, "search")
        assert all(i % 2 == 0 for i in t + searches)  # visible only
        assert t[0] - 10 <= t[1] < t[0]  # extra template before the base, within the gap
        assert all(t[0] < i < t[0] + 10 for i in searches)


def test_gap_grows_until_a_search_frame_is_found():
    visible = [i % 30 == 0 for i in range(200)]  # visible frames 30 apart, max_gap 5
    sample_list = draws(sampler([FakeVideos([visible])], max_gap=5), n=100)
    for x in sample_list:
        template, search = ids_of(x, "template")[0], ids_of(x, "search")[0]
        assert visible[template] and visible[search] and search > template


def test_interval_frames_lie_around_the_base_in_any_order():
    sample_list = draws(sampler([FakeVideos(ALTERNATING)], "interval", nt=2, ns=1, max_gap=10))
    later = 0
    for sample in sample_list:
        t, s = ids_of(sample, "template"), ids_of(sample, "search")
        assert all(i % 2 == 0 for i in t + s)
        assert abs(t[1] - t[0]) < 10 + 1 and abs(s[0] - t[0]) < 10 + 1
        later += s[0] > t[0]
    assert 0 < later < len(sample_list)  # search frames both before and after the template


def test_order_mode_sorts_frames_forward_or_backward():
    sample_list = draws(sampler([FakeVideos(ALTERNATING)], "order", nt=2, ns=1, max_gap=20))
    directions = set()
    for sample in sample_list:
        ids = ids_of(sample, "template") + ids_of(sample, "search")
        assert all(i % 2 == 0 for i in ids) and max(ids) - min(ids) < 40
        if ids == sorted(ids) and ids != sorted(ids, reverse=True):
            directions.add("forward")
        elif ids == sorted(ids, reverse=True) and ids != sorted(ids):
            directions.add("backward")
        else:
            assert ids == sorted(ids)  # all equal
    assert directions == {"forward", "backward"}


@pytest.mark.parametrize("mode", ["trident", "trident_pro", "stark"])
def test_trident_modes_place_the_dynamic_template_next_to_the_search(mode):
    visible = [[i % 2 == 0 for i in range(80)]]
    valid = [[i % 4 != 3 for i in range(80)]]  # some invisible frames are still annotated
    s = sampler([FakeVideos(visible, valid)], mode, nt=2, ns=1, max_gap=[6])
    dynamic_ids = []
    for sample in draws(s):
        (first, dynamic), (search,) = ids_of(sample, "template"), ids_of(sample, "search")
        assert first % 2 == 0 and search % 2 == 0
        if first >= search:
            assert search <= dynamic < search + 6
        else:
            assert search - 6 <= dynamic < search
        dynamic_ids.append(dynamic)
    invisible = [i for i in dynamic_ids if i % 2]
    if mode == "trident":
        assert not invisible
    elif mode == "trident_pro":
        assert invisible and any(i % 4 == 3 for i in invisible)
    else:
        assert invisible and all(i % 4 != 3 for i in invisible)


def test_only_long_enough_sequences_with_enough_visible_frames_are_used():
    visible = [[True] * 19, [i < 4 for i in range(50)], [True] * 30]
    assert {seq_of(x) for x in draws(sampler([FakeVideos(visible)]), n=100)} == {2}


def test_a_dataset_without_usable_sequences_fails_clearly():
    s = sampler([FakeVideos([[True] * 10], name="tiny")], max_sequence_draws=50)
    with pytest.raises(SampleError, match="dataset tiny: no sequence with at least 20 frames"):
        s[0]


def test_image_datasets_are_one_frame_sequences():
    images = FakeVideos([[True], [True]], name="images", image_dataset=True)
    for sample in draws(sampler([images], nt=2, ns=1), n=20):
        assert ids_of(sample, "template") == [0, 0] and ids_of(sample, "search") == [0]
    assert all(ids == [0] for _, ids in images.loads)  # the frame is read once per sample


def test_datasets_are_mixed_by_ratio():
    a, b = FakeVideos(ALTERNATING, name="a"), FakeVideos(ALTERNATING, name="b")
    names = [x["dataset"] for x in draws(sampler([a, b], p=[1, 3]), n=800)]
    assert abs(names.count("a") / len(names) - 0.25) < 0.05
    assert {x["dataset"] for x in draws(sampler([a, b], p=[1, 0]), n=50)} == {"a"}
    with pytest.raises(ValueError, match="one non-negative ratio per dataset"):
        sampler([a, b], p=[1])


def _same(x, y):
    return all(ids_of(x, p) == ids_of(y, p) and seq_of(x, p) == seq_of(y, p) for p in ("template", "search"))


def test_samples_are_reproducible_per_seed_epoch_and_index():
    data = FakeVideos([[True] * 40 for _ in range(5)])
    s = sampler([data], seed=3)
    again = sampler([data], seed=3)
    assert all(_same(s[(2, i)], again[(2, i)]) for i in range(20))
    assert not all(_same(s[(2, i)], s[(2, i + 1)]) for i in range(20))
    assert not all(_same(s[(2, i)], s[(3, i)]) for i in range(20))
    assert not all(_same(s[(2, i)], sampler([data], seed=4)[(2, i)]) for i in range(20))
    s.set_epoch(2)
    assert all(_same(s[i], again[(2, i)]) for i in range(20))


def test_a_broken_frame_raises_naming_dataset_sequence_and_frames():
    data = FakeVideos([[True] * 30], name="got10k_train", broken=[(0, f) for f in range(30)])
    with pytest.raises(SampleError, match=r"dataset got10k_train, sequence 0, frames \[\d+, \d+\].*truncated JPEG"):
        sampler([data])[0]


def test_a_malformed_frame_is_reported():
    class NoneFrames(FakeVideos):
        def get_frames(self, seq_id, frame_ids, anno):
            frames, boxes, meta = super().get_frames(seq_id, frame_ids, anno)
            return [None] * len(frames), boxes, meta

    with pytest.raises(SampleError, match="is not an HxWx3 image"):
        sampler([NoneFrames([[True] * 30])])[0]


def test_rejected_samples_are_redrawn_with_a_warning_then_an_error():
    calls = []

    def reject_first_five(data, rng):
        calls.append(1)
        return {"valid": len(calls) > 5, **data}

    s = TrackingSampler([FakeVideos(ALTERNATING)], None, 10, 10, 1, 1, reject_first_five, warn_after=3)
    with pytest.warns(RuntimeWarning, match="3 attempts without a valid sample"):
        assert s[0]["valid"]
    assert len(calls) == 6
    never = TrackingSampler([FakeVideos(ALTERNATING)], None, 10, 10, 1, 1, lambda d, r: {"valid": False},
                            warn_after=1000, max_attempts=20)
    with pytest.raises(SampleError, match="no valid sample in 20 attempts.*rejected by processing"):
        never[0]


def test_processing_errors_carry_the_sample_context():
    def broken(data, rng):
        raise ZeroDivisionError("bad box")

    s = TrackingSampler([FakeVideos(ALTERNATING, name="lasot")], None, 10, 10, 1, 1, broken)
    with pytest.raises(SampleError, match="processing failed for dataset lasot, sequence 0.*bad box"):
        s[0]


def test_classification_samples_mix_positives_and_negatives():
    visible = [[not (20 <= i < 30) for i in range(60)]]  # frames 20..29: target invisible
    s = sampler([FakeVideos(visible)], "trident", nt=2, ns=1, max_gap=[10], train_cls=True)
    labels = []
    for sample in draws(s, n=200):
        label = float(sample["label"][0])
        labels.append(label)
        search = sample["search_anno"][0]
        if label == 0:
            # An invisible frame of the same video, with the official centre box (W/8 x H/8 of a 4x4 frame).
            assert 20 <= int(sample["search_images"][0][0, 0, 0]) < 30
            assert tuple(search) == (int(2 - 0.25), int(2 - 0.25), int(0.5), int(0.5))
        else:
            assert visible[0][int(search[0])]
    assert 0.35 < np.mean(labels) < 0.65


def test_classification_negatives_come_from_elsewhere_when_the_target_is_always_visible():
    data = FakeVideos([[True] * 30 for _ in range(4)])
    s = sampler([data], "stark", nt=2, ns=1, max_gap=[10], train_cls=True, pos_prob=0.0)
    for sample in draws(s, n=40):
        assert float(sample["label"][0]) == 0.0
        search_frame = int(sample["search_images"][0][0, 0, 0])
        assert int(sample["search_anno"][0][0]) == search_frame  # its own box, not a centre box
    assert len({seq_of(x) for x in draws(s, n=40)}) > 1


def test_constructor_rejects_inconsistent_settings():
    data = [FakeVideos(ALTERNATING)]
    with pytest.raises(ValueError, match="valid modes: causal, interval, order, trident"):
        sampler(data, "random")
    with pytest.raises(ValueError, match="draws 2 templates and 1 search frame"):
        sampler(data, "trident", nt=1, ns=1, max_gap=[200])
    with pytest.raises(ValueError, match="train_cls needs"):
        sampler(data, "causal", train_cls=True)
    with pytest.raises(ValueError, match="takes one max_gap"):
        sampler(data, "causal", max_gap=[100, 200])
    assert sampler(data, "causal", max_gap=[50]).max_gap == 50
    assert sampler(data, "trident", nt=2, max_gap=100).max_gap == [100]


def test_samples_per_epoch_is_the_length():
    assert len(sampler([FakeVideos(ALTERNATING)])) == 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler([FakeVideos(ALTERNATING)])[(0, 5)]
