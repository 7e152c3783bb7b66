"""Profile one tracking step of a training script's model (what tracking/profile_model.py prints).

The mechanics (thop MACs, torch FLOPs, latency) are in lib/utils/profiling.py, which knows nothing of families;
this module resolves the script's family, config, model and dummy inputs.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from lib.families import get_family, load_config
from lib.utils.profiling import DTYPES, profile_steps, tracking_steps


def profile_script(script: str, config: str, device: str = "cpu", dtype: str = "fp32", runs: int = 100,
                   warmup: int = 20, opts: Sequence[str] = (), budget_s: float | None = None,
                   progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Build `script`'s model for experiment `config` (inference mode) and profile one tracking step."""
    family = get_family(script)
    if family.dummy_inputs is None:
        raise TypeError(f"family '{family.name}' declares no dummy_inputs, so '{script}' cannot be profiled")
    if dtype not in DTYPES:
        raise ValueError(f"dtype '{dtype}' unknown; choose from {', '.join(DTYPES)}")
    cfg = load_config(script, config, opts)
    torch_device = torch.device(device)
    progress(f"building the {script} model ({config}) on {torch_device}")
    model = family.build_model(cfg, False).to(torch_device).eval()
    with torch.no_grad():
        steps = tracking_steps(model, family.dummy_inputs(cfg, torch_device))
    result = profile_steps(model, steps, torch_device, DTYPES[dtype], runs, warmup, budget_s, progress)
    return {"script": script, "config": config, "device": str(torch_device), "dtype": dtype, **result}
