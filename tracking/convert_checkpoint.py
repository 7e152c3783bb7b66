"""Convert an official checkpoint into a clean weights-only file that loads with torch.load(weights_only=True).

    python tracking/convert_checkpoint.py --script SCRIPT --input OFFICIAL.pth.tar \
        --output checkpoints/train/SCRIPT/CONFIG/<Prefix>_epNNNN.pth.tar --config CONFIG

Official training code pickled whole objects (settings, stats, EasyDicts) next to the weights, so those files need
a full unpickler. This one never imports or calls anything outside a short list of tensor-rebuilding functions and
plain containers: every other class or function named in the file is replaced by an inert placeholder, so nothing
in the file can run code. Only the weights (`net`, `model` or `state_dict`, or a bare state dict; a DataParallel /
DDP `module.` prefix is dropped), and `epoch` / `net_type` when they are plain values, are kept; the family's
declared rename table (if any) is applied. TrackZoo's own checkpoints convert too. With --config the result is checked by loading it
strictly into the model built from that experiment.
"""
from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import types
from typing import Any

import _init_paths  # noqa: F401  (puts the repository root on sys.path)

import torch

from lib.families import get_family
from lib.utils.checkpoint import CheckpointError, describe_load_failure, save_checkpoint
from lib.utils.cli import UserError, run_main


def _torch_dtypes() -> dict[tuple[str, str], Any]:
    return {("torch", name): value for name, value in vars(torch).items() if isinstance(value, torch.dtype)}


# The only globals a converted file may resolve to real objects: tensor rebuilding and plain containers.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): torch._utils._rebuild_tensor_v3,  # dtypes without a typed storage
    ("torch.storage", "UntypedStorage"): torch.storage.UntypedStorage,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    **_torch_dtypes(),
}


class Placeholder:
    """An inert stand-in for a class or function that the converter does not trust.

    Calling it, instantiating it, or restoring state into it only records the arguments; its subclasses are
    created per referenced name so that messages can say what was neutralised.
    """

    qualified_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        obj = super().__new__(cls)
        obj.__dict__.update(args=args, kwargs=kwargs, state=None, items={}, elements=[])
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items[key] = value

    def append(self, value: Any) -> None:
        self.elements.append(value)

    def extend(self, values: Any) -> None:
        self.elements.extend(values)

    def __repr__(self) -> str:
        return f"<placeholder for {self.qualified_name}>"


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; everything else becomes a Placeholder subclass."""

    neutralised: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        qualified = f"{module}.{name}"
        RestrictedUnpickler.neutralised.add(qualified)
        return type(f"Placeholder[{qualified}]", (Placeholder,), {"qualified_name": qualified})


def _restricted_pickle_module() -> types.ModuleType:
    """What torch.load expects of `pickle_module` (an Unpickler class and load), restricted."""
    module = types.ModuleType("restricted_pickle")
    module.Unpickler = RestrictedUnpickler
    module.load = lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load()
    return module


def safe_load(path: str) -> tuple[Any, list[str]]:
    """Load a pickled checkpoint without executing code from it; returns (object, names neutralised)."""
    RestrictedUnpickler.neutralised = set()
    if not os.path.isfile(path):
        raise CheckpointError(f"--input {path} does not exist or is not a file; check the path")
    try:
        # weights_only=False is needed to pass our own unpickler; it is at least as strict as the weights-only one.
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle_module(), weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read --input {path}: {describe_load_failure(path, e)}; give a complete "
                              f"PyTorch checkpoint file") from e
    return obj, sorted(RestrictedUnpickler.neutralised)


# Where official releases keep their weights, in the order they are looked for.
STATE_KEYS = ("net", "model", "state_dict")


def extract_state_dict(obj: Any, path: str) -> dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint: its `net` / `model` / `state_dict` entry, or the object itself when
    it is a bare state dict."""
    state = None
    if isinstance(obj, dict):
        is_bare = bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())
        found = [obj[k] for k in STATE_KEYS if isinstance(obj.get(k), dict)]
        state = found[0] if found else obj if is_bare else None
    if not isinstance(state, dict) or not state:
        keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"--input {path}: no weights found (looked for {', '.join(STATE_KEYS)} or a bare "
                              f"state dict; top level: {keys}); give a model checkpoint")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"--input {path}: the weights hold non-tensor entries: {bad[:5]}; give a model "
                              f"checkpoint")
    if all(k.startswith("module.") for k in state):  # saved from a DataParallel/DDP wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return collections.OrderedDict((k, v.detach().clone()) for k, v in state.items())


def plain_metadata(obj: Any) -> dict[str, Any]:
    """epoch / net_type when they are plain values (anything else is dropped)."""
    if not isinstance(obj, dict):
        return {}
    meta = {}
    if isinstance(obj.get("epoch"), int) and not isinstance(obj.get("epoch"), bool):
        meta["epoch"] = obj["epoch"]
    if isinstance(obj.get("net_type"), str):
        meta["net_type"] = obj["net_type"]
    return meta


def verify(state: dict[str, torch.Tensor], script: str, config: str) -> None:
    """Load `state` strictly into the model of (script, config), built without pre-trained weights."""
    from lib.families import load_config

    cfg = load_config(script, config)
    net = get_family(script).build_model(cfg, False)
    model = net.state_dict()
    missing = [k for k in model if k not in state]
    unexpected = [k for k in state if k not in model]
    wrong = [k for k in state if k in model and tuple(state[k].shape) != tuple(model[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(f"the weights do not fit --script {script} --config {config}: missing {missing[:5]} "
                              f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)}), wrong shape "
                              f"{wrong[:5]} ({len(wrong)}); check --script and --config")
    net.load_state_dict(state, strict=True)


def convert(input_path: str, output_path: str, script: str, config: str | None = None) -> dict[str, Any]:
    family = get_family(script)
    obj, neutralised = safe_load(input_path)
    state = extract_state_dict(obj, input_path)
    if family.adapt_state_dict is not None:
        state = family.adapt_state_dict(state)
    if config is not None:
        verify(state, script, config)
    result = {"net": state, **plain_metadata(obj), "converted_from": os.path.basename(input_path)}
    save_checkpoint(output_path, result)
    return {"tensors": len(state), "neutralised": neutralised, "verified": config is not None, **plain_metadata(obj)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, help="training script whose family the weights belong to")
    parser.add_argument("--input", required=True, help="official checkpoint (.pth.tar / .pth)")
    parser.add_argument("--output", required=True, help="clean checkpoint to write")
    parser.add_argument("--config", default=None, help="experiment to check the keys against (strict load)")
    args = parser.parse_args(argv)
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        raise UserError("--output must differ from --input; write the clean file elsewhere")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = convert(args.input, args.output, args.script, args.config)
    print(f"wrote {args.output}: {report['tensors']} tensors"
          + (f", epoch {report['epoch']}" if "epoch" in report else ""))
    if report["neutralised"]:
        print(f"ignored pickled objects of: {', '.join(report['neutralised'])}")
    print("keys verified against the model (strict load)" if report["verified"]
          else "keys not verified (pass --config to check them against the model)")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
