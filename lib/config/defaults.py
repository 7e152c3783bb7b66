"""The schema every family shares: the keys generic code (data pipeline, trainer, tester) reads.

Families extend it in their `add_config(cfg, script)`; every default lives here or there, never in code.
"""
from lib.config.node import CfgNode, ConfigError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _crop(size: int, factor: float, center_jitter: float, scale_jitter: float, number: int = 1) -> CfgNode:
    return CfgNode({"SIZE": size, "FACTOR": factor, "CENTER_JITTER": center_jitter,
                    "SCALE_JITTER": scale_jitter, "NUMBER": number})


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
        "TRAIN": CfgNode({"DATASETS_NAME": ["LASOT", "GOT10K_vottrain", "COCO17", "TRACKINGNET"],
                          "DATASETS_RATIO": [1, 1, 1, 1], "SAMPLE_PER_EPOCH": 60000}),
        "VAL": CfgNode({"DATASETS_NAME": ["GOT10K_votval"], "DATASETS_RATIO": [1], "SAMPLE_PER_EPOCH": 10000}),
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
    return CfgNode({
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
        # Save a checkpoint every N epochs (and always the last one).
        "SAVE_EVERY": 1,
        # DDP only: let parameters that get no gradient in a step pass (a branch skipped per batch, a parameter
        # kept only for checkpoint compatibility); costs an extra graph traversal per step.
        "FIND_UNUSED_PARAMETERS": False,
    })


def _test() -> CfgNode:
    return CfgNode({"TEMPLATE_FACTOR": 2.0, "TEMPLATE_SIZE": 128, "SEARCH_FACTOR": 5.0, "SEARCH_SIZE": 320,
                    "EPOCH": 500})


def get_default_config() -> CfgNode:
    """A fresh, unfrozen copy of the shared schema with an empty MODEL section for the family to fill."""
    return CfgNode({"MODEL": CfgNode(), "DATA": _data(), "TRAIN": _train(), "TEST": _test()})
