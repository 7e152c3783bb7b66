"""The schema every family shares: the keys generic code (data pipeline, trainer, tester) reads.

Families extend it in their `add_config(cfg, script)`; every default lives here or there, never in code.
"""
from lib.config.node import CfgNode, ConfigError, at_least, between, positive

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _checked(node: CfgNode, rules: dict) -> CfgNode:
    """Declare the values each key accepts (values that cannot train fail at config load, naming the key)."""
    for key, rule in rules.items():
        node.set_check(key, *rule)
    return node


def _crop(size: int, factor: float, center_jitter: float, scale_jitter: float, number: int = 1) -> CfgNode:
    return _checked(CfgNode({"SIZE": size, "FACTOR": factor, "CENTER_JITTER": center_jitter,
                             "SCALE_JITTER": scale_jitter, "NUMBER": number}),
                    {"SIZE": at_least(1), "FACTOR": positive(), "CENTER_JITTER": at_least(0),
                     "SCALE_JITTER": at_least(0), "NUMBER": at_least(1)})


def _data() -> CfgNode:
    data = CfgNode({
        "MEAN": list(IMAGENET_MEAN),
        "STD": list(IMAGENET_STD),
        # Auxiliary channels after RGB (RGB-D / RGB-T / RGB-E frames, HxWx(3+N)): the modality's name and one
        # mean/std per channel. Empty: RGB only.
        "AUX": CfgNode({"MODALITY": "", "MEAN": [], "STD": []}),
        # Official files give an int (STARK-S, OSTrack) or a list of gaps (STARK-ST trident modes).
        "MAX_SAMPLE_INTERVAL": 200,
        "SAMPLER_MODE": "causal",
        "TRAIN": _checked(CfgNode({"DATASETS_NAME": ["LASOT", "GOT10K_vottrain", "COCO17", "TRACKINGNET"],
                                   "DATASETS_RATIO": [1, 1, 1, 1], "SAMPLE_PER_EPOCH": 60000}),
                          {"SAMPLE_PER_EPOCH": at_least(1)}),
        "VAL": _checked(CfgNode({"DATASETS_NAME": ["GOT10K_votval"], "DATASETS_RATIO": [1],
                                 "SAMPLE_PER_EPOCH": 10000}), {"SAMPLE_PER_EPOCH": at_least(0)}),
        "SEARCH": _crop(320, 5.0, 4.5, 0.5),
        "TEMPLATE": _crop(128, 2.0, 0.0, 0.0),
    })
    data.set_types("MAX_SAMPLE_INTERVAL", (int, list))
    return data


def input_normalisation(data: CfgNode) -> tuple[list[float], list[float]]:
    """Per-channel (mean, std) of the network input from a DATA section: DATA.MEAN/STD for RGB, then
    DATA.AUX.MEAN/STD for the auxiliary modality's channels."""
    aux = data.AUX
    if len(aux.MEAN) != len(aux.STD) or bool(aux.MODALITY) != bool(aux.MEAN):
        raise ConfigError(f"DATA.AUX: MODALITY ({aux.MODALITY!r}) needs one MEAN and one STD per auxiliary channel "
                          f"(got {list(aux.MEAN)} and {list(aux.STD)}); leave all three empty for RGB only")
    return list(data.MEAN) + list(aux.MEAN), list(data.STD) + list(aux.STD)


def input_channels(data: CfgNode) -> int:
    """Channels of the network input: 3 (RGB) plus the auxiliary modality's."""
    return len(input_normalisation(data)[0])


def _train() -> CfgNode:
    train = CfgNode({
        "LR": 0.0001,
        "WEIGHT_DECAY": 0.0001,
        "EPOCH": 500,
        "LR_DROP_EPOCH": 400,
        "BATCH_SIZE": 16,
        "NUM_WORKER": 8,
        "OPTIMIZER": "ADAMW",
        "BACKBONE_MULTIPLIER": 0.1,
        "GIOU_WEIGHT": 2.0,
        "L1_WEIGHT": 5.0,
        "GRAD_CLIP_NORM": 0.1,
        "PRINT_INTERVAL": 50,
        "VAL_EPOCH_INTERVAL": 20,
        "SCHEDULER": CfgNode({"TYPE": "step", "DECAY_RATE": 0.1, "MILESTONES": [], "GAMMA": 0.1,
                              "WARMUP_EPOCHS": 0}),
        # Mixed precision on CUDA: "" (off), "fp16" (with a grad scaler) or "bf16".
        "AMP": False,
        "AMP_DTYPE": "fp16",
        # Staged training: start from a previous run ("script:config[:epoch]") or a checkpoint path,
        # then freeze module-name prefixes, or train only the listed prefixes.
        "INIT_FROM": "",
        "FREEZE": [],
        "TRAINABLE": [],
        # Fraction of the model's state_dict entries outside its heads (top-level modules named *head*) that
        # the INIT_FROM file must provide with the right shapes; lower it to allow a partial initialisation.
        "INIT_MIN_MATCH": 1.0,
        # Save a checkpoint every N epochs (and always the last one).
        "SAVE_EVERY": 1,
        # DDP only: let parameters that get no gradient in a step pass (a branch skipped per batch, a parameter
        # kept only for checkpoint compatibility); costs an extra graph traversal per step.
        "FIND_UNUSED_PARAMETERS": False,
    })
    return _checked(train, {
        "LR": at_least(0), "WEIGHT_DECAY": at_least(0), "EPOCH": at_least(1), "LR_DROP_EPOCH": at_least(1),
        "BATCH_SIZE": at_least(1), "NUM_WORKER": at_least(0), "BACKBONE_MULTIPLIER": at_least(0),
        "GIOU_WEIGHT": at_least(0), "L1_WEIGHT": at_least(0), "GRAD_CLIP_NORM": at_least(0),
        "PRINT_INTERVAL": at_least(1), "VAL_EPOCH_INTERVAL": at_least(1), "SAVE_EVERY": at_least(1),
        "INIT_MIN_MATCH": between(0, 1),
    })


def _test() -> CfgNode:
    return _checked(CfgNode({"TEMPLATE_FACTOR": 2.0, "TEMPLATE_SIZE": 128, "SEARCH_FACTOR": 5.0,
                             "SEARCH_SIZE": 320, "EPOCH": 500}),
                    {"TEMPLATE_FACTOR": positive(), "TEMPLATE_SIZE": at_least(1), "SEARCH_FACTOR": positive(),
                     "SEARCH_SIZE": at_least(1), "EPOCH": at_least(1)})


def get_default_config() -> CfgNode:
    """A fresh, unfrozen copy of the shared schema with an empty MODEL section for the family to fill."""
    return CfgNode({"MODEL": CfgNode(), "DATA": _data(), "TRAIN": _train(), "TEST": _test()})
