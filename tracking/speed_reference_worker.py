"""Helper process of `benchmark_speed.py --reference`: times the official code's tracking step.

Started by the benchmark with PYTHONPATH = the official repository (whose package is also called `lib`, so it
cannot share a process with ours). It loads the weights and inputs the benchmark saved, builds the official
network, encodes the templates once and then, for each request line on stdin (`run N`), runs N steps and answers
one JSON line of per-step wall and CPU milliseconds. The outputs of one step are saved for the equality check.

Supported: researchmm/Stark (stark_s, stark_st2) and botaoye/OSTrack (ostrack).
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
import types

import torch


def load_config(script: str, config_file: str):
    module = importlib.import_module(f"lib.config.{script}.config")
    module.update_config_from_file(config_file)
    return module.cfg


def stark_import_compat() -> None:
    """Stark imports `torchvision.models.utils`, which torchvision removed (0.14; it moved to torch.hub), and
    `yacs` for its Swin configs, which the models timed here never read: stand-ins keep the imports working."""
    utils = types.ModuleType("torchvision.models.utils")
    utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url
    sys.modules.setdefault("torchvision.models.utils", utils)
    if importlib.util.find_spec("yacs") is None:
        from easydict import EasyDict

        yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")
        config.CfgNode = EasyDict
        yacs.config = config
        sys.modules.update({"yacs": yacs, "yacs.config": config})


def stark_step(script: str, cfg, inputs: dict):
    stark_import_compat()
    if not torch.cuda.is_available():  # its corner head moves its coordinate grids with .cuda()
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
    import lib.models.stark.backbone as backbone
    from lib.utils.merge import merge_template_search
    from lib.utils.misc import NestedTensor

    backbone.is_main_process = lambda: False  # no ImageNet download: the benchmark loads its own weights
    models = importlib.import_module("lib.models.stark")
    net = models.build_starks(cfg) if script == "stark_s" else models.build_starkst(cfg)
    load_weights(net, inputs["weights"])
    template = net.forward_backbone(NestedTensor(inputs["template"], inputs["template_mask"]))
    templates = [template] * cfg.DATA.TEMPLATE.get("NUMBER", 1)  # the first template in every slot, as at initialisation
    search = NestedTensor(inputs["search"], inputs["search_mask"])

    def step():
        seq_dict = merge_template_search(templates + [net.forward_backbone(search)])
        out, _, _ = net.forward_transformer(seq_dict=seq_dict, run_box_head=True, run_cls_head=script != "stark_s")
        return out

    return step


def ostrack_step(script: str, cfg, inputs: dict):
    six = types.ModuleType("torch._six")  # removed from torch (2.0); its training loader still imports it
    six.string_classes, six.int_classes = (str, bytes), int
    sys.modules.setdefault("torch._six", six)
    from lib.models.ostrack import build_ostrack
    from lib.train.data.processing_utils import transform_image_to_crop
    from lib.utils.ce_utils import generate_mask_cond

    net = build_ostrack(cfg, training=False)
    load_weights(net, inputs["weights"])
    ce_mask = None
    if cfg.MODEL.BACKBONE.CE_LOC:  # as the official tracker's initialize
        box = torch.tensor(inputs["init_box"])
        size = torch.Tensor([cfg.TEST.TEMPLATE_SIZE] * 2)
        template_box = transform_image_to_crop(box, box, inputs["template_resize_factor"], size, normalize=True)
        ce_mask = generate_mask_cond(cfg, 1, "cpu", template_box.view(1, 4))

    def step():
        return net.forward(template=inputs["template"], search=inputs["search"],
                           ce_template_mask=ce_mask)

    return step


STEPS = {"stark_s": stark_step, "stark_st2": stark_step, "ostrack": ostrack_step}


def load_weights(net: torch.nn.Module, path: str) -> None:
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["net"], strict=True)
    net.eval()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, choices=sorted(STEPS))
    parser.add_argument("--config_file", required=True)
    parser.add_argument("--workdir", required=True, help="folder with inputs.pt (written by the benchmark)")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    replies, sys.stdout = sys.stdout, sys.stderr  # the official code prints; stdout carries the replies only
    torch.set_num_threads(args.threads)
    cfg = load_config(args.script, args.config_file)
    inputs = torch.load(os.path.join(args.workdir, "inputs.pt"), weights_only=True)
    inputs["weights"] = os.path.join(args.workdir, "weights.pth.tar")
    with torch.no_grad():
        step = STEPS[args.script](args.script, cfg, inputs)
        out = step()
        torch.save({k: v for k, v in out.items() if isinstance(v, torch.Tensor)},
                   os.path.join(args.workdir, "official_out.pt"))
        print(json.dumps({"ready": True}), file=replies, flush=True)
        for line in sys.stdin:
            runs = int(line.split()[1])
            wall, cpu = [], []
            for _ in range(runs):
                w, c = time.perf_counter(), time.process_time()
                step()
                wall.append((time.perf_counter() - w) * 1000.0)
                cpu.append((time.process_time() - c) * 1000.0)
            print(json.dumps({"wall_ms": wall, "cpu_ms": cpu}), file=replies, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
