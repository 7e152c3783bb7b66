"""The official MSTGT tracking step (capf-2011/MSTGT), for `benchmark_speed.py --reference`.

Loaded by path into tracking/speed_reference_worker.py, which runs with the official repository as `lib`: so this
file imports only torch and the official code, never TrackZoo modules.

The release does not run as published; two blockers are patched here, in this process only (the checkout is never
edited):
- `lib/models/__init__.py` and `lib/models/mstgt/__init__.py` import `build_MSTGT`, which does not exist (the
  function is `build_mstgt`): those two packages are registered without running their `__init__`, so that
  `lib.models.mstgt.mstgt` imports;
- `forward_features` calls `self.MSPG` / `self.STPG`, the layers the authors' runs had, while `HiViT` defines them
  as `MSVC` / `MSTG`: the old names are set as plain attributes naming the same layers (not submodules, so the
  state_dict keeps the release's keys and the weights load strictly).
"""
import importlib
import importlib.util
import itertools
import sys
import types

# Packages whose __init__ imports the missing `build_MSTGT`.
BROKEN_PACKAGES = ("lib.models", "lib.models.mstgt")
# Layer names the release's forward pass uses -> the names its model defines.
FORWARD_ALIASES = {"MSPG": "MSVC", "STPG": "MSTG"}


def register_packages_without_init(names=BROKEN_PACKAGES) -> None:
    """Make each package importable as a namespace of its folder, skipping its __init__ (parents first)."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{name}: not a package of the official repository on PYTHONPATH")
        package = types.ModuleType(name)
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__package__ = name
        sys.modules[name] = package
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, package)


def alias_forward_layers(backbone) -> None:
    for old, new in FORWARD_ALIASES.items():
        if not hasattr(backbone, old):
            object.__setattr__(backbone, old, getattr(backbone, new))  # bypasses nn.Module: no new state_dict key


def build_step(script: str, cfg, inputs: dict, load_weights):
    """As the official tracker (lib/test/tracker/mstgt.py): the template crop kept, then per frame the network on
    (template, search) with frame_id 1, 2, ...: frame 1 starts the spatio-temporal tokens from the template, every
    call replaces them (carried on the model, as the release does)."""
    register_packages_without_init()
    build_mstgt = importlib.import_module("lib.models.mstgt.mstgt").build_mstgt
    net = build_mstgt(cfg, training=False)
    alias_forward_layers(net.backbone)
    load_weights(net)
    frame_ids = itertools.count(1)

    def step():
        return net.forward(template=inputs["template"], search=inputs["search"], frame_id=next(frame_ids))

    return step
