"""SDSTrack's reference step (benchmark_speed.py --reference) without the official repository: a stand-in checkout
with the release's call pattern (6-channel crops, `infer=True` for the single output dict, the CE mask made once
from the initial box, the Hann-windowed `box_head.cal_bbox` per frame) and its import blocker (`lib.train.data`
importing `torch._six`) must run, untouched, through the step file and the speed worker.

Against the real release (hoqolo/SDSTrack), the benchmark's comparison on cvpr2024_rgbd (with a 6-channel synthetic
frame) gave a max |diff| of 4.5e-6, on head_input; score_map, peak_box and peak_score differ by under 1e-6."""
import math

import pytest
import torch
import torch.nn.functional as F

from lib.families import get_family
from tests.fixtures.official_checkout import checksums, run_in, run_worker, step_script, write_checkout

STEP_FILE = get_family("sdstrack").reference_step
STRIDE, TEMPLATE_SIZE, SEARCH_SIZE, CHANNELS = 4, 8, 16, 5  # stand-in network: one strided conv, 5 output maps
FEAT = SEARCH_SIZE // STRIDE

FILES = {
    "lib/__init__.py": "",
    "lib/config/__init__.py": "",
    "lib/config/sdstrack/__init__.py": "",
    "lib/config/sdstrack/config.py": f"""
        from types import SimpleNamespace

        cfg = SimpleNamespace(MODEL=SimpleNamespace(BACKBONE=SimpleNamespace(CE_LOC=[1], STRIDE={STRIDE})),
                              TEST=SimpleNamespace(TEMPLATE_SIZE={TEMPLATE_SIZE}, SEARCH_SIZE={SEARCH_SIZE}))


        def update_config_from_file(filename):
            cfg.file = filename
        """,
    "lib/train/__init__.py": "",
    "lib/train/data/__init__.py": "from torch._six import string_classes\n",
    "lib/train/data/processing_utils.py": """
        import torch


        def transform_image_to_crop(box_in, box_extract, resize_factor, crop_sz, normalize=False):
            box_extract_center = box_extract[0:2] + 0.5 * box_extract[2:4]
            box_in_center = box_in[0:2] + 0.5 * box_in[2:4]
            box_out_center = (crop_sz - 1) / 2 + (box_in_center - box_extract_center) * resize_factor
            box_out_wh = box_in[2:4] * resize_factor
            box_out = torch.cat((box_out_center - 0.5 * box_out_wh, box_out_wh))
            return box_out / crop_sz[0] if normalize else box_out
        """,
    "lib/utils/__init__.py": "",
    "lib/utils/ce_utils.py": """
        calls = []


        def generate_mask_cond(cfg, bs, device, gt_bbox):
            calls.append(gt_bbox.shape)
            return gt_bbox.to(device)  # the stand-in's 'mask' is the template box itself
        """,
    "lib/test/utils/__init__.py": "",
    "lib/test/utils/hann.py": """
        import math
        import torch


        def hann1d(sz, centered=True):
            return 0.5 * (1 - torch.cos((2 * math.pi / (sz + 1)) * torch.arange(1, sz + 1).float()))


        def hann2d(sz, centered=True):
            return hann1d(sz[0].item()).reshape(1, 1, -1, 1) * hann1d(sz[1].item()).reshape(1, 1, 1, -1)
        """,
    "lib/models/__init__.py": "from .sdstrack.sdstrack import build_sdstrack\n",
    "lib/models/sdstrack/__init__.py": "from .sdstrack import build_sdstrack\n",
    "lib/models/sdstrack/sdstrack.py": f"""
        import torch
        from torch import nn


        class CenterHead(nn.Module):
            feat_sz = {FEAT}

            def cal_bbox(self, score_map_ctr, size_map, offset_map, return_score=False):
                max_score, idx = torch.max(score_map_ctr.flatten(1), dim=1, keepdim=True)
                idx_y, idx_x = idx // self.feat_sz, idx % self.feat_sz
                idx = idx.unsqueeze(1).expand(idx.shape[0], 2, 1)
                size = size_map.flatten(2).gather(dim=2, index=idx)
                offset = offset_map.flatten(2).gather(dim=2, index=idx).squeeze(-1)
                bbox = torch.cat([(idx_x.to(torch.float) + offset[:, :1]) / self.feat_sz,
                                  (idx_y.to(torch.float) + offset[:, 1:]) / self.feat_sz, size.squeeze(-1)], dim=1)
                return (bbox, max_score) if return_score else bbox


        class SDSTrack(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Conv2d(6, {CHANNELS}, {STRIDE}, {STRIDE})
                self.box_head = CenterHead()

            def forward(self, template, search, ce_template_mask=None, ce_keep_rate=None, return_last_attn=False,
                        infer=False):
                tokens = [self.backbone(t).flatten(2).transpose(1, 2) for t in (template, search)]
                maps = self.backbone(search)
                out = {{"score_map": torch.sigmoid(maps[:, :1] + ce_template_mask.sum()),
                       "size_map": torch.sigmoid(maps[:, 1:3]), "offset_map": torch.sigmoid(maps[:, 3:5]),
                       "backbone_feat": torch.cat(tokens, dim=1)}}
                return out if infer else [out]


        def build_sdstrack(cfg, training=True):
            return SDSTrack()
        """,
}


@pytest.fixture
def official(tmp_path):
    return write_checkout(tmp_path / "SDSTrack", FILES)


def weights_and_inputs():
    generator = torch.Generator().manual_seed(0)
    state = {"backbone.weight": torch.randn(CHANNELS, 6, STRIDE, STRIDE, generator=generator) * 0.1,
             "backbone.bias": torch.randn(CHANNELS, generator=generator)}
    inputs = {"template": torch.randn(1, 6, TEMPLATE_SIZE, TEMPLATE_SIZE, generator=generator),
              "search": torch.randn(1, 6, SEARCH_SIZE, SEARCH_SIZE, generator=generator),
              "init_box": [20.0, 10.0, 8.0, 6.0], "template_resize_factor": 0.5}
    return state, inputs


def expected_outputs(state, inputs) -> dict[str, torch.Tensor]:
    """The stand-in's tracking step: its score map lifted by the sum of the normalised template box (what its
    generate_mask_cond returns), then the official decoding at the peak of score x Hann window."""
    w, h = (v * inputs["template_resize_factor"] for v in inputs["init_box"][2:])
    centre = (TEMPLATE_SIZE - 1) / 2
    box_sum = (2 * centre + (w + h) / 2) / TEMPLATE_SIZE  # x1 + y1 + w + h of the box in the template crop
    maps = F.conv2d(inputs["search"], state["backbone.weight"], state["backbone.bias"], stride=STRIDE)
    score = torch.sigmoid(maps[:, :1] + box_sum)
    hann = 0.5 * (1 - torch.cos(2 * math.pi / (FEAT + 1) * torch.arange(1, FEAT + 1).float()))
    peak_score, index = (score * hann[:, None] * hann[None, :]).flatten(1).max(dim=1, keepdim=True)
    y, x = divmod(int(index), FEAT)
    size, offset = torch.sigmoid(maps[0, 1:3, y, x]), torch.sigmoid(maps[0, 3:5, y, x])
    peak_box = torch.stack([(x + offset[0]) / FEAT, (y + offset[1]) / FEAT, size[0], size[1]])[None]
    return {"score_map": score, "head_input": maps, "peak_box": peak_box, "peak_score": peak_score}


def assert_outputs(got: dict, want: dict) -> None:
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, msg=key)


def test_the_step_runs_the_release_untouched_with_the_mask_made_once(official, tmp_path):
    state, inputs = weights_and_inputs()
    torch.save({"state": state, "inputs": inputs}, tmp_path / "case.pt")
    before = checksums(official)
    script = step_script(STEP_FILE, tmp_path / "case.pt", f"""
        from lib.config.sdstrack.config import cfg
        from lib.utils import ce_utils
        step = module.build_step("sdstrack", cfg, case["inputs"],
                                 lambda net: net.load_state_dict(case["state"], strict=True))
        outs = [step() for _ in range(3)]
        torch.save({{"outs": outs, "mask_calls": len(ce_utils.calls)}}, {str(tmp_path / "outs.pt")!r})
        """)
    result = run_in(official, ["-c", script])
    assert result.returncode == 0, result.stderr
    saved = torch.load(tmp_path / "outs.pt", weights_only=True)
    assert saved["mask_calls"] == 1
    for out in saved["outs"]:
        assert_outputs(out, expected_outputs(state, inputs))
    assert checksums(official) == before


def test_the_speed_worker_times_it_and_saves_the_first_steps_outputs(official, tmp_path):
    state, inputs = weights_and_inputs()
    saved = run_worker(official, "sdstrack", STEP_FILE, official / "experiments" / "sdstrack" / "cvpr2024_rgbd.yaml",
                       state, inputs, tmp_path / "work")
    assert_outputs(saved, expected_outputs(state, inputs))
