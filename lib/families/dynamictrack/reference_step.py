"""The official DynamicTrack tracking step (chenxlin222/DynamicTrack, folder tracker_code), for
`benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch, the standard library and the official code, never TrackZoo modules.

Per frame the official tracker (lib/test/tracker/stark_s.py), with the template encoded once by
`forward_backbone1`, runs `forward_backbone1` on the search crop, the router on those tokens, `forward_backbone2`
when the score is below the threshold (the heavy route), then `forward_transformer(seq_dict, feat_dict_list,
need_second)` on [template tokens; search tokens of the chosen branch]: transformer2 + head2 when heavy, else
transformer1 + head1. These calls are repeated here; the tracker file itself is not imported (it imports
`lib.models.stark`, which the release renamed to `lib.models.dynamictrack`, and moves the network to CUDA).

Route: the released tracker scores with a second router of its own, never loaded, against a hard-coded threshold
1.0, i.e. it always takes the heavy route. Here the network's router (the checkpoint's, which our tracker uses too)
decides at the model's own `dy_thres` (0.5, our TEST.ROUTER_THRESHOLD default), so that both implementations take
the same route on the same weights; the cost per route is unchanged. The step also returns `heavy_route`.

The release does not run as published; its blockers are patched here, in this process only (the checkout is never
edited):
- `stark_s.py` runs the step-1 model, whose `forward_transformer` lacks the `need_second` argument the tracker
  passes; the step-2 model is the commented-out second half of the same file (the authors switched by commenting):
  that half is uncommented in memory and run as the module `lib.models.dynamictrack.stark_s_step2`;
- resnet.py imports `torchvision.models.utils`, removed from torchvision (0.14; it moved to torch.hub): a stand-in;
- the backbones download ImageNet weights when `is_main_process()`: switched off (the benchmark loads its own);
- the corner heads put their coordinate grids on the GPU with `.cuda()`: a no-op while the network is built (the
  comparison runs on the CPU).
"""
import contextlib
import importlib
import sys
import types
from typing import Callable, Iterator

import torch

PACKAGE = "lib.models.dynamictrack"
STEP2_MARKER = "#############step2"  # the line of stark_s.py above the commented-out step-2 model


def import_compat() -> None:
    utils = types.ModuleType("torchvision.models.utils")
    utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url
    sys.modules.setdefault("torchvision.models.utils", utils)
    importlib.import_module(f"{PACKAGE}.backbone").is_main_process = lambda: False


@contextlib.contextmanager
def tensors_stay_on_cpu() -> Iterator[None]:
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = cuda


def uncomment(line: str) -> str:
    """One level of `# ` off (nested comments stay comments)."""
    return line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line


def load_step2_model() -> types.ModuleType:
    """The step-2 half of stark_s.py, uncommented, as a module of the official package (line numbers kept, so that
    tracebacks point into the file)."""
    path = importlib.import_module(f"{PACKAGE}.stark_s").__file__
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == STEP2_MARKER), None)
    if start is None:
        raise ImportError(f"{path}: no '{STEP2_MARKER}' line above a commented-out step-2 model")
    source = "\n" * start + "\n".join(uncomment(line) for line in lines[start:]) + "\n"
    name = f"{PACKAGE}.stark_s_step2"
    module = types.ModuleType(name)
    module.__file__, module.__package__ = path, PACKAGE
    sys.modules[name] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def build_step(script: str, cfg, inputs: dict, load_weights: Callable[[torch.nn.Module], None]
               ) -> Callable[[], dict]:
    """As the official tracker: the template encoded once by the light backbone, then per frame the light backbone,
    the router, the heavy backbone when routed there, and the chosen branch's transformer and corner head."""
    import_compat()
    from lib.utils.merge import merge_template_search
    from lib.utils.misc import NestedTensor

    with tensors_stay_on_cpu():
        net = load_step2_model().build_starks(cfg)
    load_weights(net)
    dynamic, training = cfg.MODEL.BACKBONE.Dynamic, cfg.TRAIN.Training
    template = net.forward_backbone1(NestedTensor(inputs["template"], inputs["template_mask"]))
    search = NestedTensor(inputs["search"], inputs["search_mask"])

    def step() -> dict:
        light = net.forward_backbone1(search)
        score = net.router(light["feat"]) if dynamic else None
        need_second = training or not dynamic or bool(score[:, 0] < net.dy_thres)
        feat_dict_list = [template, net.forward_backbone2(search) if need_second else light]
        out, _, _ = net.forward_transformer(seq_dict=merge_template_search(feat_dict_list),
                                            feat_dict_list=feat_dict_list, need_second=need_second,
                                            run_box_head=True)
        return {**out, "heavy_route": torch.tensor(need_second)}

    return step
