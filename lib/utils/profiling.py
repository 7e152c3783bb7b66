"""Model cost of one tracking step: parameters, thop MACs, torch FLOPs, latency.

What is profiled comes from the family's `dummy_inputs(cfg, device)`, which returns either
  * the positional inputs of the model's forward (a tuple/list, or one tensor), or a dict of keyword inputs:
    one step, `model(*inputs)`; or
  * a callable `steps(model) -> list[ProfileStep]`, for families whose tracking step is a sequence of calls
    (e.g. the backbone on the search crop, then the transformer and heads on features of templates that were
    encoded once at initialisation). The callable may run the model to prepare those inputs.
MACs follow the convention of the published tracker tables (thop, multiply-accumulates, often printed as
"FLOPs"); FLOPs from torch.utils.flop_counter count 2 per multiply-add and include matmuls that thop's
module hooks cannot see.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
MACS_CONVENTION = ("MACs counted with thop (multiply-accumulates), the convention of the published trackers' "
                   "tables, which print them as FLOPs; FLOPs from torch.utils.flop_counter = 2 x multiply-adds, "
                   "incl. matmuls")


@dataclass
class ProfileStep:
    """One call of a tracking step: `module(*args, **kwargs)`. `thop_rules` adds thop counting rules
    (module type -> hook) for modules thop does not know, e.g. `{nn.MultiheadAttention:
    count_multihead_attention}`."""

    name: str
    module: nn.Module
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    thop_rules: dict[type, Callable] = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.module(*self.args, **self.kwargs)


def tracking_steps(model: nn.Module, inputs: Any) -> list[ProfileStep]:
    """Normalise a family's `dummy_inputs` result (see the module docstring) into steps."""
    if callable(inputs) and not isinstance(inputs, (torch.Tensor, nn.Module)):
        steps = list(inputs(model))
        if not steps or not all(isinstance(s, ProfileStep) for s in steps):
            raise TypeError(f"dummy_inputs' step builder must return ProfileSteps, got {steps!r}")
        return steps
    if isinstance(inputs, dict):
        return [ProfileStep("forward", model, kwargs=dict(inputs))]
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if isinstance(inputs, (tuple, list)):
        return [ProfileStep("forward", model, args=tuple(inputs))]
    raise TypeError(f"dummy_inputs returned {type(inputs).__name__}; expected positional inputs (tuple/list/"
                    f"tensor), keyword inputs (dict) or a callable model -> list[ProfileStep]")


def count_parameters(model: nn.Module) -> dict[str, Any]:
    """Total parameter count and the count of each top-level module (plus parameters held directly)."""
    modules = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    direct = sum(p.numel() for p in model.parameters(recurse=False))
    if direct:
        modules["(own parameters)"] = direct
    return {"total": sum(p.numel() for p in model.parameters()), "modules": modules}


def count_multihead_attention(module: nn.MultiheadAttention, inputs: tuple, output: Any) -> None:
    """thop rule for nn.MultiheadAttention: the Q, K, V and output projections plus the two attention
    matmuls (Q K^T and A V), in multiply-accumulates. Only positional inputs reach a forward hook; a key passed
    by keyword counts as self-attention (Lk = Lq)."""
    query = inputs[0]
    key = inputs[1] if len(inputs) > 1 else query
    if query.dim() == 2:
        batch, len_q, len_k = 1, query.shape[0], key.shape[0]
    elif module.batch_first:
        batch, len_q, len_k = query.shape[0], query.shape[1], key.shape[1]
    else:
        batch, len_q, len_k = query.shape[1], query.shape[0], key.shape[0]
    dim = module.embed_dim
    projections = len_q * dim * dim + len_k * module.kdim * dim + len_k * module.vdim * dim + len_q * dim * dim
    attention = 2 * len_q * len_k * dim
    module.total_ops += torch.tensor([float(batch * (projections + attention))], dtype=torch.float64)


class _StepCall(nn.Module):
    """Lets thop call a step that takes keyword arguments: thop only calls `model(*inputs)`."""

    def __init__(self, step: ProfileStep):
        super().__init__()
        self.inner = step.module
        self._step = step

    def forward(self) -> Any:
        return self._step()


def thop_macs(step: ProfileStep) -> float:
    import thop

    wrapper = _StepCall(step)
    try:
        macs, _ = thop.profile(wrapper, inputs=(), custom_ops=dict(step.thop_rules), verbose=False)
    finally:
        # thop leaves its counters on modules it has no rule for; they must not reach a state_dict.
        for module in wrapper.modules():
            module._buffers.pop("total_ops", None)
            module._buffers.pop("total_params", None)
    return float(macs)


def _sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query, key, value)


def _uncounted_attention_kernels() -> dict:
    """scaled_dot_product_attention kernels that torch's FLOP counter has no formula for (the CPU one): without
    this, attention matmuls vanish from the count whenever a model uses SDPA on the CPU."""
    from torch.utils.flop_counter import flop_registry

    kernels = [getattr(torch.ops.aten, name, None) for name in ("_scaled_dot_product_flash_attention_for_cpu",)]
    return {k: _sdpa_flops for k in kernels if k is not None and k not in flop_registry}


def torch_flops(step: ProfileStep) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=_uncounted_attention_kernels())
    with torch.no_grad(), counter:
        step()
    return int(counter.get_total_flops())


def _autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def measure_latency(steps: Sequence[ProfileStep], device: torch.device, dtype: torch.dtype = torch.float32,
                    runs: int = 100, warmup: int = 20, budget_s: float | None = None) -> tuple[list[float], int]:
    """(milliseconds per tracking step (all steps in order), warm-up runs done): up to `runs` timed runs after up
    to `warmup` untimed ones; CUDA is synchronised before reading each clock. With `budget_s`, warm-up stops after
    a fifth of the budget and timing when the budget is spent (at least one timed run), so a slow CPU ends in
    bounded time."""
    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def one_run() -> float:
        synchronize()
        start = time.perf_counter()
        for step in steps:
            step()
        synchronize()
        return time.perf_counter() - start

    times: list[float] = []
    budget = float("inf") if budget_s is None else budget_s
    warmed = 0
    with torch.inference_mode(), _autocast(device, dtype):
        spent = 0.0
        while warmed < warmup and spent < budget / 5:
            spent += one_run()
            warmed += 1
        spent = 0.0
        for _ in range(runs):
            times.append(one_run() * 1000.0)
            spent += times[-1] / 1000.0
            if spent >= budget:
                break
    return times, warmed


def profile_steps(model: nn.Module, steps: Sequence[ProfileStep], device: torch.device,
                  dtype: torch.dtype = torch.float32, runs: int = 100, warmup: int = 20,
                  budget_s: float | None = None, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Parameters, MACs, FLOPs and latency of one tracking step of `model` (in eval mode on `device`);
    `progress` receives a line per stage."""
    progress("counting MACs (thop)")
    macs = {step.name: thop_macs(step) for step in steps}
    progress("counting FLOPs (torch)")
    flops = {step.name: torch_flops(step) for step in steps}
    progress(f"timing up to {runs} runs after up to {warmup} warm-up runs"
             + (f", within about {budget_s:g} s" if budget_s is not None else ""))
    times, warmup = measure_latency(steps, device, dtype, runs, warmup, budget_s)
    runs = len(times)
    median = statistics.median(times)
    return {
        "params": count_parameters(model),
        "macs": {"total": sum(macs.values()), "steps": macs},
        "flops": {"total": sum(flops.values()), "steps": flops},
        "latency_ms": {"median": median, "mean": statistics.fmean(times), "min": min(times), "max": max(times),
                       "runs": runs, "warmup": warmup},
        "fps": 1000.0 / median if median > 0 else float("inf"),
        "convention": MACS_CONVENTION,
    }


def _si(value: float, unit: str = "") -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def format_report(result: dict[str, Any]) -> str:
    """A plain-text table of a `profile_script` result."""
    params, macs, flops, latency = result["params"], result["macs"], result["flops"], result["latency_ms"]
    lines = [f"{result['script']} / {result['config']}   device {result['device']}   dtype {result['dtype']}",
             "",
             f"{'parameters':<28}{params['total']:>16,}  ({_si(params['total'])})"]
    lines += [f"  {name:<26}{count:>16,}" for name, count in params["modules"].items()]
    lines += ["", f"{'step':<28}{'MACs (thop)':>16}{'FLOPs (torch)':>18}"]
    lines += [f"  {name:<26}{_si(macs['steps'][name]):>16}{_si(flops['steps'][name]):>18}" for name in macs["steps"]]
    lines += [f"  {'total':<26}{_si(macs['total']):>16}{_si(flops['total']):>18}",
              "",
              f"latency: median {latency['median']:.2f} ms (mean {latency['mean']:.2f}, min {latency['min']:.2f}) "
              f"over {latency['runs']} runs after {latency['warmup']} warm-up -> {result['fps']:.1f} FPS",
              f"note: {result['convention']}"]
    return "\n".join(lines)
