"""MSTGT mixed sampling (DA.imix*) as configured: the official epochs, pasted pixels reaching the network's search
input with the labels unchanged, batches unchanged when it is off, unsupported values rejected."""
import pytest
import torch

from lib.config.node import ConfigError
from lib.families import get_family, load_config
from lib.families.mstgt.config import check_mixing_keys
from lib.train.data.loader import build_processing, build_sampler, collate_stack1
from tests.fixtures.classed_videos import ClassedVideos

FAMILY = get_family("mstgt")


def pipeline(imix: bool, options: dict | None = None):
    cfg = load_config("mstgt", "tiny", ["DA.imix", str(imix), "DATA.TRAIN.DATASETS_NAME", "[LASOT]",
                                       "DATA.TRAIN.DATASETS_RATIO", "[1]"])
    options = FAMILY.data_options(cfg, "mstgt") if options is None else options
    processing = build_processing(cfg, True, options["processing"])
    dataset = ClassedVideos(["cat", "cat", "cat", "dog", "dog"])
    return cfg, build_sampler(cfg, cfg.DATA.TRAIN, [dataset], processing, seed=3, extras=options["sampler"])


def batch(sampler, epoch, n=4):
    return collate_stack1([sampler[(epoch, i)] for i in range(n)])


# ------------------------------------------------------------------------------------------------- schedule
def test_the_official_settings_mix_on_epochs_11_22_and_so_on():
    cfg = load_config("mstgt", "MSTGT-full-256")
    schedule = FAMILY.data_options(cfg, "mstgt")["sampler"]["extra_object_epochs"]
    assert [e for e in range(0, 151) if schedule(e)] == list(range(11, 144, 11))


# ------------------------------------------------------------------------------------------------- end to end
def test_pasted_pixels_reach_the_search_input_of_the_network_and_the_labels_stay():
    cfg, mixed = pipeline(True)
    _, plain = pipeline(False)
    with_paste, without = batch(mixed, 11), batch(plain, 11)
    for key in ("template_images", "template_att", "search_anno", "search_att", "search_label"):
        assert torch.equal(with_paste[key], without[key]), key
    differs = (with_paste["search_images"] != without["search_images"]).any(2)  # (frames, batch, H, W)
    assert differs.flatten(2).any(-1).all()  # every search crop of every sample got the object

    torch.manual_seed(0)
    net = FAMILY.build_model(cfg, True)
    seen = []
    net.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    actor = FAMILY.build_actor(net, cfg, "mstgt")
    actor(with_paste)
    assert torch.equal(torch.stack(seen[0]), with_paste["search_images"])


def test_off_gives_todays_batches_and_on_changes_nothing_outside_mixing_epochs():
    cfg = load_config("mstgt", "tiny", ["DA.imix", "False"])
    today = {"sampler": {}, "processing": {"heatmap_stride": cfg.MODEL.BACKBONE.STRIDE,
                                           "search_factor_range": tuple(cfg.DA.sfactor),
                                           "border_prob": cfg.DA.border_prob}}
    _, reference = pipeline(False, today)
    _, off = pipeline(False)
    _, on = pipeline(True)
    for epoch in (11, 12):
        expected = batch(reference, epoch)
        for sampler in (off,) + ((on,) if epoch == 12 else ()):
            got = batch(sampler, epoch)
            assert got.keys() == expected.keys()
            for key, value in expected.items():
                assert torch.equal(got[key], value) if isinstance(value, torch.Tensor) else got[key] == value, key


def test_unsupported_mixing_values_are_config_errors():
    cfg = load_config("mstgt", "MSTGT-full-256")
    check_mixing_keys(cfg.DA)
    for key, value in (("mix_type", 2), ("update_bbox", True), ("norm_type", "batch"), ("imix_interval", 0),
                       ("imix_occrate", 1.5)):
        bad = load_config("mstgt", "MSTGT-full-256", [f"DA.{key}", str(value)])
        with pytest.raises(ConfigError, match=f"DA.{key}"):
            FAMILY.data_options(bad, "mstgt")
