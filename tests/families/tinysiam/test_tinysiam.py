"""TinySiam's own parts: the normalised correlations (against OpenCV's TM_CCOEFF_NORMED), the template kernel
computed once, the pixel-level match in the score map, and the config checks. The family's training and tracking
steps run in tests/conformance."""
import cv2
import numpy as np
import pytest
import torch

from lib.config.node import ConfigError
from lib.families import get_family, load_config
from lib.families.tinysiam.model import match_template, normalized_xcorr, window_sums


def test_normalized_xcorr_equals_opencv_tm_ccoeff_normed_per_channel():
    rng = np.random.default_rng(0)
    search = rng.random((2, 15, 17)).astype(np.float32)
    kernel = search[:, 4:9, 6:11] + 0.1 * rng.random((2, 5, 5)).astype(np.float32)
    ours = normalized_xcorr(torch.from_numpy(search)[None], torch.from_numpy(kernel)[None])[0].numpy()
    for c in range(2):
        expected = cv2.matchTemplate(search[c], kernel[c], cv2.TM_CCOEFF_NORMED)  # windows inside the search only
        np.testing.assert_allclose(ours[c, 2:-2, 2:-2], expected, atol=1e-4)
    assert ours[:, 6, 8].min() > 0.95  # the window the kernel was cut from


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (9, 11)])
def test_match_template_equals_opencv_tm_ccoeff_normed_on_colour(shape):
    rng = np.random.default_rng(2)
    search = rng.random((23, 29, 3)).astype(np.float32)
    search[:6, :8] = 0.5  # a flat corner: zero variance must not divide by zero
    h, w = shape
    kernel = search[6:6 + h, 9:9 + w] + 0.1 * rng.random((h, w, 3)).astype(np.float32)
    expected = cv2.matchTemplate(search, kernel, cv2.TM_CCOEFF_NORMED)  # windows inside the search only
    ours = match_template(torch.from_numpy(search).permute(2, 0, 1)[None],
                          torch.from_numpy(kernel).permute(2, 0, 1)[None])[0, 0].numpy()
    assert ours.shape == search.shape[:2]
    np.testing.assert_allclose(ours[h // 2:h // 2 + expected.shape[0], w // 2:w // 2 + expected.shape[1]], expected,
                               atol=1e-4)
    assert ours[6 + h // 2, 9 + w // 2] > 0.9  # the window the kernel was cut from


def test_match_template_of_a_flat_kernel_is_zero_everywhere():
    torch.manual_seed(0)
    search = torch.rand(2, 3, 60, 60) * 4 - 2
    # A uniform black target (its normalised red value): its mean's rounding must not score busy windows.
    kernel = torch.full((1, 3, 9, 9), (0 - 0.485) / 0.229)
    assert match_template(search, kernel).abs().max() == 0


def test_window_sums_weight_each_zero_padded_window_by_the_outer_product():
    x = torch.randn(2, 3, 11, 13, dtype=torch.float64)
    for window in ([1.0], [1.0, 1.0, 1.0], [0.25, 0.75, 1.0, 0.75, 0.25]):
        window = torch.tensor(window, dtype=torch.float64)
        k = len(window)
        expected = torch.nn.functional.conv2d(x.reshape(6, 1, 11, 13), torch.outer(window, window)[None, None],
                                              padding=k // 2).view_as(x)
        torch.testing.assert_close(window_sums(x, window), expected)


def test_the_weighted_correlation_is_the_weighted_correlation_coefficient():
    rng = np.random.default_rng(1)
    search, kernel = rng.random((1, 2, 9, 9)), rng.random((1, 2, 5, 5))
    window = np.array([0.25, 0.75, 1.0, 0.75, 0.25])
    ours = normalized_xcorr(torch.from_numpy(search), torch.from_numpy(kernel), torch.from_numpy(window))
    weights = np.outer(window, window)
    for c in range(2):
        patch = search[0, c, 1:6, 3:8]  # the window centred on cell (3, 5)
        cov = np.cov(patch.ravel(), kernel[0, c].ravel(), aweights=weights.ravel())
        assert float(ours[0, c, 3, 5]) == pytest.approx(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-4)  # eps


@pytest.mark.parametrize("kernel_window", ["uniform", "hann"])
def test_tracking_with_the_kernel_computed_once_equals_the_training_forward(kernel_window):
    cfg = load_config("tinysiam", "tiny", ["MODEL.KERNEL_WINDOW", kernel_window])
    net = get_family("tinysiam").build_model(cfg, False).eval()
    template = torch.randn(2, 3, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.TEMPLATE.SIZE)
    search = torch.randn(2, 3, cfg.DATA.SEARCH.SIZE, cfg.DATA.SEARCH.SIZE)
    with torch.no_grad():
        joint = net(template, search)
        stepped = net.track(net.template_kernel(template), search)
    for key in ("pred_boxes", "score_map", "size_map", "offset_map"):
        torch.testing.assert_close(stepped[key], joint[key])
    assert joint["score_map"].shape[-1] == cfg.DATA.SEARCH.SIZE // cfg.MODEL.BACKBONE.STRIDE


@pytest.mark.parametrize("opts,key", [(["MODEL.KERNEL", "4"], "MODEL.KERNEL"),
                                      (["MODEL.KERNEL", "11"], "MODEL.KERNEL"),
                                      (["MODEL.BACKBONE.STRIDE", "16"], "MODEL.BACKBONE.STRIDE"),
                                      (["DATA.SEARCH.SIZE", "140"], "DATA.SEARCH.SIZE")])
def test_inconsistent_sizes_fail_naming_the_key(opts, key):
    cfg = load_config("tinysiam", "tiny", opts)
    with pytest.raises(ConfigError, match=key):
        get_family("tinysiam").build_model(cfg, False)


def fake_step(peaks: list[float], feat_sz: int):
    """A network step whose score map for search crop i peaks at the centre cell with value peaks[i]."""
    def track(kernel, search):
        n = search.shape[0]
        score = torch.full((n, 1, feat_sz, feat_sz), 0.01)
        score[:, 0, feat_sz // 2, feat_sz // 2] = torch.tensor(peaks[:n])
        return {"score_map": score, "size_map": torch.full((n, 2, feat_sz, feat_sz), 0.05),
                "offset_map": torch.zeros(n, 2, feat_sz, feat_sz), "pred_boxes": torch.zeros(n, 1, 4)}
    return track


@pytest.mark.parametrize("peaks,expected_scale", [([0.5, 0.6, 0.9], 1.1), ([0.9, 0.6, 0.5], 1 / 1.1),
                                                  ([0.5, 0.6, 0.61], 1.0)])
def test_scale_search_takes_the_best_penalised_scale_and_part_of_its_size_change(peaks, expected_scale):
    from lib.test.parameter import TrackerParams

    # The fake network's peaks alone decide (the pixel match would add a map of its own).
    opts = ["TEST.SCALE_STEP", "0.1", "TEST.SCALE_PENALTY", "0.97", "TEST.SIZE_RATE", "0.5", "TEST.PIXEL_WEIGHT", "0"]
    params = TrackerParams.create("tinysiam", "tiny", load_weights=False, opts=opts)
    tracker = params.family.build_tracker(params)
    feat_sz = params.search_size // params.cfg.MODEL.BACKBONE.STRIDE
    tracker.net.track = fake_step(peaks, feat_sz)
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker.initialize(frame, {"init_bbox": [140.0, 100.0, 40.0, 30.0]})
    box = tracker.track(frame)["target_bbox"]
    assert tracker.state.scale == pytest.approx(expected_scale)
    change = 1 + 0.5 * (expected_scale - 1)  # SIZE_RATE of the scale change; the size head (0.05) is not read
    assert box[2:] == pytest.approx([40.0 * change, 30.0 * change], rel=1e-5)
    assert box[0] + box[2] / 2 == pytest.approx(160.0, abs=1e-3) and box[1] + box[3] / 2 == pytest.approx(115.0,
                                                                                                           abs=1e-3)


def test_an_unknown_correlation_fails_naming_the_key_and_the_choices():
    with pytest.raises(ConfigError, match="MODEL.CORRELATION.*'normalized', 'raw'"):
        load_config("tinysiam", "tiny", ["MODEL.CORRELATION", "cosine"])


@pytest.mark.parametrize("scale_step", [0.0, 0.1])
def test_a_target_partly_out_of_view_keeps_its_size_for_the_scale_search(scale_step):
    from lib.test.parameter import TrackerParams

    params = TrackerParams.create("tinysiam", "tiny", load_weights=False,
                                  opts=["TEST.SCALE_STEP", str(scale_step), "TEST.MIN_SCORE", "0",
                                        "TEST.PIXEL_WEIGHT", "0"])
    tracker = params.family.build_tracker(params)
    feat_sz = params.search_size // params.cfg.MODEL.BACKBONE.STRIDE
    tracker.net.track = fake_step([0.5, 0.9, 0.5], feat_sz)  # scale 1, peak at the centre, size head 0.05
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker.initialize(frame, {"init_bbox": [300.0, 100.0, 40.0, 30.0]})  # 20 px of it beyond the right edge
    reported = tracker.track(frame)["target_bbox"]
    assert reported[0] + reported[2] <= 320  # what is reported stays in the frame
    if scale_step:
        assert tracker.state.box == pytest.approx([300.0, 100.0, 40.0, 30.0], abs=1e-3)
    else:  # the size head's decoding keeps the clipped box, as OSTrack does
        assert tracker.state.box == pytest.approx(reported)


@pytest.mark.parametrize("pixel_weight", [0.0, 0.5])
def test_the_pixel_match_finds_the_target_where_the_network_map_is_flat(pixel_weight):
    from lib.test.parameter import TrackerParams

    opts = ["TEST.SCALE_STEP", "0", "TEST.MIN_SCORE", "0", "TEST.PIXEL_WEIGHT", str(pixel_weight)]
    params = TrackerParams.create("tinysiam", "tiny", load_weights=False, opts=opts)
    tracker = params.family.build_tracker(params)
    feat_sz = params.search_size // params.cfg.MODEL.BACKBONE.STRIDE
    tracker.net.track = fake_step([0.02], feat_sz)  # all but flat: a faint peak at the centre cell
    rng = np.random.default_rng(3)
    background = rng.integers(0, 60, (240, 320, 3), dtype=np.uint8)
    target = rng.integers(100, 255, (30, 40, 3), dtype=np.uint8)
    first, second = background.copy(), background.copy()
    first[100:130, 140:180] = target
    second[124:154, 164:204] = target  # moved by (24, 24) pixels
    tracker.initialize(first, {"init_bbox": [140.0, 100.0, 40.0, 30.0]})
    box = tracker.track(second)["target_bbox"]
    centre = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])
    # One cell in frame pixels: the fake offset map is 0, so a position is known to its cell.
    cell = params.cfg.MODEL.BACKBONE.STRIDE * params.search_factor * np.sqrt(40.0 * 30.0) / params.search_size
    expected = [184.0, 139.0] if pixel_weight else [160.0, 115.0]  # the moved target; the network's centre peak
    assert np.abs(centre - expected).max() < cell + 1
