"""Evaluation dataset catalog: `get_dataset('lasot', 'uav', ...) -> SequenceList`.

Roots come from `lib.utils.env.env_settings()` (fields `lasot_path`, `got10k_path`, ...), resolved only for the
datasets asked for. `only_present=True` evaluates partial copies of the table-defined benchmarks (e.g. the
synthetic subsets written by tracking/make_synthetic_data.py) instead of failing on the missing sequences.
A family or plugin adds a benchmark with `register_eval_dataset` (and its path field with
`lib.utils.env.register_path_field(..., side="test")`).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from lib.families import UnknownNameError
from lib.test.evaluation.data import SequenceList
from lib.test.evaluation.readers import (EvalDataset, GOT10KDataset, LaSOTDataset, TNL2KDataset,
                                         TrackingNetDataset, lasot_extension_dataset, nfs_dataset, otb_dataset,
                                         uav_dataset)
from lib.test.evaluation.multimodal import (depthtrack_dataset, lasher_dataset, rgbt234_dataset, visevent_dataset,
                                            vot_rgbd2022_dataset)
from lib.utils.env import MissingPathError

__all__ = ["get_dataset", "dataset_names", "build_eval_dataset", "register_eval_dataset"]

EvalBuilder = Callable[[str, bool], EvalDataset]  # (root folder, only_present) -> reader

# name -> (env path field, builder)
_DATASETS: dict[str, tuple[str, EvalBuilder]] = {
    "lasot": ("lasot_path", lambda root, only: LaSOTDataset(root, only_present=only)),
    "lasot_lmdb": ("lasot_lmdb_path", lambda root, only: LaSOTDataset(root, only_present=only, use_lmdb=True)),
    "lasot_extension_subset": ("lasot_extension_subset_path",
                               lambda root, only: lasot_extension_dataset(root, only_present=only)),
    "got10k_test": ("got10k_path", lambda root, only: GOT10KDataset(root, "test")),
    "got10k_val": ("got10k_path", lambda root, only: GOT10KDataset(root, "val")),
    "got10k_ltrval": ("got10k_path", lambda root, only: GOT10KDataset(root, "ltrval")),
    "trackingnet": ("trackingnet_path", lambda root, only: TrackingNetDataset(root, "TEST")),
    "uav": ("uav_path", lambda root, only: uav_dataset(root, only_present=only)),
    "otb": ("otb_path", lambda root, only: otb_dataset(root, only_present=only)),
    "nfs": ("nfs_path", lambda root, only: nfs_dataset(root, only_present=only)),
    "tnl2k": ("tnl2k_path", lambda root, only: TNL2KDataset(root)),
    # multi-modal: HxWx6 frames (RGB, then depth colour map / thermal / event image)
    "depthtrack": ("depthtrack_path", lambda root, only: depthtrack_dataset(root, only_present=only)),
    "vot_rgbd2022": ("vot_rgbd2022_path", lambda root, only: vot_rgbd2022_dataset(root, only_present=only)),
    "lasher": ("lasher_path", lambda root, only: lasher_dataset(root, only_present=only)),
    "rgbt234": ("rgbt234_path", lambda root, only: rgbt234_dataset(root, only_present=only)),
    "visevent": ("visevent_path", lambda root, only: visevent_dataset(root, only_present=only)),
}


def register_eval_dataset(name: str, field: str, build: EvalBuilder) -> None:
    """Make `name` usable in test.py's --dataset: `build(root, only_present)` reads the folder at env field
    `field`."""
    if name in _DATASETS and _DATASETS[name] != (field, build):
        raise ValueError(f"evaluation dataset '{name}' is already registered")
    _DATASETS[name] = (field, build)


def dataset_names() -> list[str]:
    return list(_DATASETS)


def _check_name(name: str) -> None:
    if name not in _DATASETS:
        raise UnknownNameError(f"--dataset: unknown evaluation dataset '{name}'; valid names: {', '.join(_DATASETS)}")


def build_eval_dataset(name: str, settings: Optional[Any] = None, only_present: bool = False) -> EvalDataset:
    """The reader registered as `name` (its sequences are built by `get_sequence_list()`)."""
    _check_name(name)
    if settings is None:
        from lib.utils.env import env_settings
        settings = env_settings()
    field, build = _DATASETS[name]
    try:
        root = settings.require(field)
    except MissingPathError as e:
        raise MissingPathError(f"--dataset {name}: {e} On the command line: --data_dir DIR (the data root).") \
            from None
    return build(root, only_present)


def get_dataset(*names: str, only_present: bool = False, settings: Optional[Any] = None) -> SequenceList:
    """The sequences of all named datasets, concatenated in the given order."""
    for name in names:
        _check_name(name)
    sequences = SequenceList()
    for name in names:
        sequences.extend(build_eval_dataset(name, settings, only_present).get_sequence_list())
    return sequences
