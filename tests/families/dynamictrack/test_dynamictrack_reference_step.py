"""DynamicTrack's reference step (benchmark_speed.py --reference) without the official repository: a stand-in
checkout with the release's blockers (stark_s.py running the step-1 model while the tracker calls the step-2
`forward_transformer(..., need_second)` of the file's commented-out half; `torchvision.models.utils`; an ImageNet
download when `is_main_process()`; `.cuda()` in the heads) must run, untouched, through the step file and the speed
worker, with the tracker's per-frame calls on either route.

Against the real release (chenxlin222/DynamicTrack tracker_code), `benchmark_speed.py --reference <checkout>
--models dynamictrack:baseline_step2` ran and reported a max |diff| of 1.5e-7; with the router forced either way
both sides took the same route (differences 9e-8)."""
import json

import pytest
import torch
import torch.nn.functional as F

from lib.families import get_family
from tests.fixtures.official_checkout import checksums, run_in, run_worker, step_script, write_checkout

STEP_FILE = get_family("dynamictrack").reference_step

MODEL = """
import torch
from torch import nn

from .backbone import build_backbone
from .head import Head


class AdaptiveRouter(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.layer1 = nn.Linear(channels, 1)

    def forward(self, xs):
        return self.layer1(xs.mean(0)).sigmoid()


class STARKS(nn.Module):
    def __init__(self, backbone1, backbone2, dynamic):
        super().__init__()
        self.backbone1, self.backbone2 = backbone1, backbone2
        self.box_head1, self.box_head2 = Head(), Head()
        self.dynamic = dynamic
        if dynamic:
            self.router = AdaptiveRouter(4)
            self.dy_thres = 0.5

    def forward_backbone1(self, input):
        return self.backbone1(input)

    def forward_backbone2(self, input):
        return self.backbone2(input)
FORWARD_TRANSFORMER

def build_starks(cfg):
    return STARKS(*build_backbone(cfg), cfg.MODEL.BACKBONE.Dynamic)
"""
STEP1_FORWARD = """
    def forward_transformer(self, seq_dict, feat_dict, feat_dict_list, run_box_head=True, run_cls_head=False):
        return [self.box_head1(seq_dict[0]["feat"], seq_dict[0]["mask"])]
"""
STEP2_FORWARD = """
    # for testing; the training variant stays commented out
    def forward_transformer(self, seq_dict, feat_dict_list, need_second, run_box_head=True, run_cls_head=False):
        head = self.box_head2 if need_second else self.box_head1
        out = {"pred_boxes": head(seq_dict["feat"], seq_dict["mask"])}
        return out, out["pred_boxes"], seq_dict["feat"]
"""


def commented(text: str) -> str:
    return "\n".join(f"# {line}" if line else "#" for line in text.splitlines())


# The active step-1 model, then the step-2 model commented out below the release's marker line.
STARK_S = ("############### step1\n" + MODEL.replace("FORWARD_TRANSFORMER", STEP1_FORWARD) + "\n\n#############step2\n"
           + commented(MODEL.replace("FORWARD_TRANSFORMER", STEP2_FORWARD)) + "\n")
FILES = {
    "lib/__init__.py": "",
    "lib/models/__init__.py": "",
    "lib/models/dynamictrack/__init__.py": "from .stark_s import build_starks, AdaptiveRouter\n",
    "lib/models/dynamictrack/stark_s.py": STARK_S,
    "lib/models/dynamictrack/backbone.py": """
        import torch
        from torch import nn
        from torchvision.models.utils import load_state_dict_from_url

        from lib.utils.misc import is_main_process


        class Backbone(nn.Module):
            def __init__(self):
                super().__init__()
                if is_main_process():
                    raise RuntimeError("would download ImageNet weights with load_state_dict_from_url")
                self.body = nn.Conv2d(3, 4, kernel_size=2, stride=2)

            def forward(self, input):
                feat = self.body(input.tensors).flatten(2).permute(2, 0, 1)
                return {"feat": feat, "mask": input.mask[:, ::2, ::2].flatten(1), "pos": torch.zeros_like(feat)}


        def build_backbone(cfg):
            return Backbone(), Backbone()
        """,
    "lib/models/dynamictrack/head.py": """
        import torch
        from torch import nn


        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.coord = torch.ones(4).cuda()

            def forward(self, feat, mask):
                pooled = (feat * ~mask.T[..., None]).sum(0)
                return (self.fc(pooled).sigmoid() * self.coord).view(-1, 1, 4)
        """,
    "lib/utils/__init__.py": "",
    "lib/utils/misc.py": """
        class NestedTensor:
            def __init__(self, tensors, mask):
                self.tensors, self.mask = tensors, mask


        def is_main_process():
            return True
        """,
    "lib/utils/merge.py": """
        import torch


        def merge_template_search(inp_list):
            return {"feat": torch.cat([x["feat"] for x in inp_list], dim=0),
                    "mask": torch.cat([x["mask"] for x in inp_list], dim=1),
                    "pos": torch.cat([x["pos"] for x in inp_list], dim=0)}
        """,
    "lib/config/__init__.py": "",
    "lib/config/dynamictrack/config.py": """
        from types import SimpleNamespace

        cfg = SimpleNamespace(MODEL=SimpleNamespace(BACKBONE=SimpleNamespace(Dynamic=True)),
                              TRAIN=SimpleNamespace(Training=False))


        def update_config_from_file(filename):
            cfg.file = filename
        """,
}


@pytest.fixture
def official(tmp_path):
    return write_checkout(tmp_path / "tracker_code", FILES)


def weights(heavy: bool) -> dict[str, torch.Tensor]:
    """Random layers; the router's score is sigmoid(-5) (heavy) or sigmoid(5) (light) whatever the crop."""
    generator = torch.Generator().manual_seed(0)
    state = {f"{name}.{p}": torch.randn(*shape, generator=generator)
             for name, shapes in (("backbone1.body", ((4, 3, 2, 2), (4,))), ("backbone2.body", ((4, 3, 2, 2), (4,))),
                                  ("box_head1.fc", ((4, 4), (4,))), ("box_head2.fc", ((4, 4), (4,))))
             for p, shape in zip(("weight", "bias"), shapes)}
    state["router.layer1.weight"] = torch.zeros(1, 4)
    state["router.layer1.bias"] = torch.full((1,), -5.0 if heavy else 5.0)
    return state


def crops() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    search_mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    search_mask[:, 6:] = True  # padding below the frame
    return {"template": torch.randn(1, 3, 4, 4, generator=generator), "template_mask": torch.zeros(1, 4, 4).bool(),
            "search": torch.randn(1, 3, 8, 8, generator=generator), "search_mask": search_mask}


def expected_boxes(state: dict, inputs: dict, heavy: bool) -> torch.Tensor:
    """The tracker's flow: template through branch 1, search through the routed branch, that branch's head."""
    def tokens(branch, image, mask):
        feat = F.conv2d(image, state[f"backbone{branch}.body.weight"], state[f"backbone{branch}.body.bias"], stride=2)
        return feat.flatten(2).permute(2, 0, 1), mask[:, ::2, ::2].flatten(1)

    branch = 2 if heavy else 1
    z, z_mask = tokens(1, inputs["template"], inputs["template_mask"])
    x, x_mask = tokens(branch, inputs["search"], inputs["search_mask"])
    feat, mask = torch.cat([z, x]), torch.cat([z_mask, x_mask], dim=1)
    pooled = (feat * ~mask.T[..., None]).sum(0)
    return F.linear(pooled, state[f"box_head{branch}.fc.weight"], state[f"box_head{branch}.fc.bias"]).sigmoid()[:, None]


def test_the_step_runs_the_release_untouched_on_either_route(official, tmp_path):
    inputs = crops()
    torch.save({"inputs": inputs, "heavy": weights(True), "light": weights(False)}, tmp_path / "case.pt")
    before = checksums(official)
    script = step_script(STEP_FILE, tmp_path / "case.pt", f"""
        from lib.config.dynamictrack.config import cfg
        cuda = torch.Tensor.cuda
        result = {{}}
        for route in ("heavy", "light"):
            step = module.build_step("dynamictrack", cfg, case["inputs"],
                                     lambda net: net.load_state_dict(case[route], strict=True))
            result[route] = [[bool(o["heavy_route"]), o["pred_boxes"].tolist()] for o in (step(), step())]
        result["cuda_restored"] = torch.Tensor.cuda is cuda
        print(json.dumps(result))
        """)
    result = run_in(official, ["-c", script])
    assert result.returncode == 0, result.stderr
    outs = json.loads(result.stdout.strip().splitlines()[-1])
    assert outs.pop("cuda_restored")
    for route, frames in outs.items():
        heavy = route == "heavy"
        want = expected_boxes(weights(heavy), inputs, heavy)
        for heavy_route, boxes in frames:
            assert heavy_route == heavy
            torch.testing.assert_close(torch.tensor(boxes), want)
    assert checksums(official) == before


def test_the_speed_worker_times_it_and_saves_the_first_steps_outputs(official, tmp_path):
    inputs, state = crops(), weights(True)
    saved = run_worker(official, "dynamictrack", STEP_FILE, official / "baseline_step2.yaml", state, inputs,
                       tmp_path / "work")
    torch.testing.assert_close(saved["pred_boxes"], expected_boxes(state, inputs, True))
    assert bool(saved["heavy_route"])
