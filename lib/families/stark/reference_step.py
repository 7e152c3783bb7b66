"""The official STARK tracking step (researchmm/Stark), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch and the official code, never TrackZoo modules.
"""
import importlib
import importlib.util
import sys
import types

import torch


def import_compat() -> None:
    """Stark imports `torchvision.models.utils`, which torchvision removed (0.14; it moved to torch.hub), and
    `yacs` for its Swin configs, which the models timed here never read: stand-ins keep the imports working. Its
    corner head moves its coordinate grids with `.cuda()`, a no-op here without CUDA."""
    utils = types.ModuleType("torchvision.models.utils")
    utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url
    sys.modules.setdefault("torchvision.models.utils", utils)
    if importlib.util.find_spec("yacs") is None:
        from easydict import EasyDict

        yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")
        config.CfgNode = EasyDict
        yacs.config = config
        sys.modules.update({"yacs": yacs, "yacs.config": config})
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *args, **kwargs: self


def build_step(script: str, cfg, inputs: dict, load_weights):
    """As the official tracker: templates encoded once (the first one in every slot), then per frame the
    backbone on the search crop and the transformer + heads on the merged tokens."""
    import_compat()
    import lib.models.stark.backbone as backbone
    from lib.utils.merge import merge_template_search
    from lib.utils.misc import NestedTensor

    backbone.is_main_process = lambda: False  # no ImageNet download: the benchmark loads its own weights
    models = importlib.import_module("lib.models.stark")
    net = models.build_starks(cfg) if script == "stark_s" else models.build_starkst(cfg)
    load_weights(net)
    template = net.forward_backbone(NestedTensor(inputs["template"], inputs["template_mask"]))
    templates = [template] * cfg.DATA.TEMPLATE.get("NUMBER", 1)
    search = NestedTensor(inputs["search"], inputs["search_mask"])

    def step():
        seq_dict = merge_template_search(templates + [net.forward_backbone(search)])
        out, _, _ = net.forward_transformer(seq_dict=seq_dict, run_box_head=True, run_cls_head=script != "stark_s")
        return out

    return step
