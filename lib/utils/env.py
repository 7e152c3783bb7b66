"""Path resolution without editing code.

Every path field keeps its official `local.py` name. A field's value comes from, later winning:
  1. the folder convention under the data root (default `<repo>/data`), the save root and the workspace root;
  2. the git-ignored `lib/train/admin/local.py` / `lib/test/evaluation/local.py`, when present;
  3. environment variables: TRACKZOO_DATA_DIR / TRACKZOO_SAVE_DIR / TRACKZOO_WORKSPACE_DIR re-apply the convention,
     TRACKZOO_<FIELD> (e.g. TRACKZOO_LASOT_PATH) sets one field;
  4. keyword arguments of `env_settings()` (what command-line flags pass).
Nothing here ever writes a file. A missing dataset folder is an error only when `require()` asks for it.
A family or plugin adds its own dataset fields (e.g. `depthtrack_dir`) with `register_path_field`.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, Callable

from lib.utils.cli import UserError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV_PREFIX = "TRACKZOO_"
TRAIN_LOCAL_FILE = os.path.join(REPO_ROOT, "lib", "train", "admin", "local.py")
TEST_LOCAL_FILE = os.path.join(REPO_ROOT, "lib", "test", "evaluation", "local.py")

# Training-side dataset fields (lib/train/admin/local.py) -> folder under the data root.
TRAIN_DATA_FIELDS = {
    "lasot_dir": "lasot",
    "got10k_dir": "got10k/train",
    "got10k_val_dir": "got10k/val",
    "trackingnet_dir": "trackingnet",
    "coco_dir": "coco",
    "object_photos_dir": "object_photos/train",  # lib/synthetic/object_photos.py (the quickstart's photographs)
    "imagenet_dir": "vid",
    "lasot_lmdb_dir": "lasot_lmdb",
    "got10k_lmdb_dir": "got10k_lmdb",
    "trackingnet_lmdb_dir": "trackingnet_lmdb",
    "coco_lmdb_dir": "coco_lmdb",
    "imagenet_lmdb_dir": "vid_lmdb",
    # multi-modal (official SDSTrack local.py names; val folders are ours: the official code takes its val
    # sequences from the training folder through its own name lists)
    "depthtrack_dir": "depthtrack/train",
    "depthtrack_val_dir": "depthtrack/val",
    "lasher_dir": "lasher/trainingset",
    "lasher_val_dir": "lasher/valset",
    "visevent_dir": "visevent/train",
}
# Evaluation-side dataset fields (lib/test/evaluation/local.py) -> folder under the data root.
TEST_DATA_FIELDS = {
    "lasot_path": "lasot",
    "lasot_lmdb_path": "lasot_lmdb",
    "lasot_extension_subset_path": "lasot_extension_subset",
    "got10k_path": "got10k",
    "got10k_lmdb_path": "got10k_lmdb",
    "trackingnet_path": "trackingnet",
    "uav_path": "uav",
    "otb_path": "otb",
    "nfs_path": "nfs",
    "tnl2k_path": "tnl2k",
    "tc128_path": "tc128",
    "vot_path": "vot",
    "depthtrack_path": "depthtrack/test",
    "vot_rgbd2022_path": "vot_rgbd2022",
    "lasher_path": "lasher/testingset",
    "rgbt234_path": "rgbt234",
    "visevent_path": "visevent/test",
}
# Output fields -> folder under the save root (test side) or workspace root (train side).
SAVE_FIELDS = {
    "save_dir": "",
    "results_path": "test/tracking_results",
    "result_plot_path": "test/result_plots",
    "network_path": "test/networks",
    "segmentation_path": "test/segmentation_results",
    "got_packed_results_path": "test/got_packed_results",
    "got_reports_path": "test/got_reports",
    "tn_packed_results_path": "test/tn_packed_results",
}
WORKSPACE_FIELDS = {
    "workspace_dir": "",
    "tensorboard_dir": "tensorboard",
}
FIXED_FIELDS = {
    "prj_dir": REPO_ROOT,
    "pretrained_networks": os.path.join(REPO_ROOT, "pretrained_networks"),
}
ROOT_VARIABLES = {"data_dir": "DATA_DIR", "save_dir": "SAVE_DIR", "workspace_dir": "WORKSPACE_DIR"}


PATH_SIDES = {"train": TRAIN_DATA_FIELDS, "test": TEST_DATA_FIELDS}


def register_path_field(field: str, folder: str, side: str) -> None:
    """Declare a dataset path field: its folder under the data root (the convention), resolved like the built-in
    fields (local.py, TRACKZOO_<FIELD>, keyword arguments). side: 'train' (lib/train/admin/local.py, the training
    catalog) or 'test' (lib/test/evaluation/local.py, the evaluation catalog)."""
    if side not in PATH_SIDES:
        raise ValueError(f"register_path_field: side must be one of {sorted(PATH_SIDES)}, got {side!r}")
    taken = {f: v for table in (*PATH_SIDES.values(), SAVE_FIELDS, WORKSPACE_FIELDS, FIXED_FIELDS)
             for f, v in table.items()}
    if field in taken and PATH_SIDES[side].get(field) != folder:
        raise ValueError(f"path field '{field}' is already declared (folder {taken[field]!r})")
    PATH_SIDES[side][field] = folder


class MissingPathError(UserError, FileNotFoundError):
    """A path field points nowhere; the message says how to set it."""


def env_variable(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _local_file_for(field: str) -> str:
    return TRAIN_LOCAL_FILE if field in TRAIN_DATA_FIELDS or field in WORKSPACE_FIELDS else TEST_LOCAL_FILE


def default_paths(data_dir: str | None = None, save_dir: str | None = None,
                  workspace_dir: str | None = None) -> dict[str, str]:
    """The folder convention for the roots given (all roots when none is given)."""
    everything = data_dir is None and save_dir is None and workspace_dir is None
    values: dict[str, str] = {}
    if everything:
        data_dir, save_dir, workspace_dir = os.path.join(REPO_ROOT, "data"), REPO_ROOT, REPO_ROOT
        values.update(FIXED_FIELDS)
    if data_dir is not None:
        data_dir = os.path.abspath(data_dir)
        values["data_dir"] = data_dir
        for fields in (TRAIN_DATA_FIELDS, TEST_DATA_FIELDS):
            values.update({k: os.path.join(data_dir, v) for k, v in fields.items()})
    for root, fields in ((save_dir, SAVE_FIELDS), (workspace_dir, WORKSPACE_FIELDS)):
        if root is not None:
            root = os.path.abspath(root)
            values.update({k: os.path.join(root, v) if v else root for k, v in fields.items()})
    return values


def _load_module(path: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_trackzoo_local_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a user file: report which one failed and why, never regenerate it
        raise ImportError(f"cannot import {path}: {type(e).__name__}: {e}") from e
    return module


def _public_strings(obj: Any) -> dict[str, str]:
    return {k: v for k, v in vars(obj).items() if not k.startswith("_") and isinstance(v, str) and v}


def local_file_paths(train_file: str = TRAIN_LOCAL_FILE, test_file: str = TEST_LOCAL_FILE) -> dict[str, str]:
    """Values from the official-style local.py files that exist (train: class EnvironmentSettings;
    test: function local_env_settings())."""
    values: dict[str, str] = {}
    if os.path.isfile(train_file):
        module = _load_module(train_file)
        if not hasattr(module, "EnvironmentSettings"):
            raise ImportError(f"{train_file} must define class EnvironmentSettings")
        values.update(_public_strings(module.EnvironmentSettings()))
    if os.path.isfile(test_file):
        module = _load_module(test_file)
        if not hasattr(module, "local_env_settings"):
            raise ImportError(f"{test_file} must define local_env_settings()")
        values.update(_public_strings(module.local_env_settings()))
    return values


def _environment_paths(environ: dict[str, str]) -> dict[str, str]:
    roots = {arg: environ.get(ENV_PREFIX + var) for arg, var in ROOT_VARIABLES.items()}
    values = default_paths(**roots) if any(roots.values()) else {}
    known = set(default_paths())
    values.update({f: environ[env_variable(f)] for f in known if env_variable(f) in environ})
    return values


class EnvSettings:
    """Resolved paths, as attributes with the official names (e.g. `settings.lasot_path`)."""

    def __init__(self, values: dict[str, str], sources: dict[str, str]):
        self.__dict__.update(values)
        self._sources = sources

    def require(self, field: str) -> str:
        """The path of `field`, which must exist; otherwise an error that says how to set it."""
        path = getattr(self, field, None)
        if path is None:
            raise MissingPathError(f"unknown path field '{field}'")
        if not os.path.exists(path):
            raise MissingPathError(
                f"path '{field}' = {path} (from {self._sources.get(field, 'convention')}) does not exist. "
                f"Set the environment variable {env_variable(field)}, or {ENV_PREFIX}DATA_DIR for the folder "
                f"convention, or '{field}' in {_local_file_for(field)} "
                f"(python tracking/create_default_local_file.py writes it).")
        return path

    def source(self, field: str) -> str:
        return self._sources.get(field, "convention")


def env_settings(data_dir: str | None = None, save_dir: str | None = None, workspace_dir: str | None = None,
                 environ: dict[str, str] | None = None, local_loader: Callable[[], dict[str, str]] | None = None,
                 **fields: str) -> EnvSettings:
    """Resolve every path field (see the module docstring for the order). Keyword roots and fields win."""
    environ = dict(os.environ if environ is None else environ)
    layers = [
        ("convention", default_paths()),
        ("local.py", (local_loader or local_file_paths)()),
        ("environment", _environment_paths(environ)),
    ]
    roots = {"data_dir": data_dir, "save_dir": save_dir, "workspace_dir": workspace_dir}
    if any(roots.values()):
        layers.append(("command line", default_paths(**roots)))
    layers.append(("command line", {k: v for k, v in fields.items() if v}))
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, layer in layers:
        values.update(layer)
        sources.update(dict.fromkeys(layer, name))
    return EnvSettings(values, sources)
