"""Private calibration check: thop-style MAC counts of NCFL per output frame, on the meta device.

Convention (shared/reference/complexity.md §1, §5): for every ``nn.Conv2d`` / ``nn.Linear`` call,
``MACs = output elements × (C_in / groups) × k_h × k_w`` (bias, activations, pooling, interpolation and
``grid_sample`` not counted), per output frame at the stated resolution, steady state (a recurrent step
with a previous frame; for the bi-directional model ``c(T) − c(T−1)``); FLOPs = 2 × MACs. GDN's
normalisation is a functional 1x1 conv (``C²`` MACs per element) that module-hook counters do not see: it
is reported apart under ``"gdn"``. The official counter lives in ``workbench.evaluate.complexity``; this
one only keeps the width calibration honest (no full-size tensors are ever allocated).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import torch
from torch import Tensor, nn

from workbench.models.gdn import GDN


def _group(name: str) -> str:
    parts = name.split(".")
    if parts[0] in ("refiner", "backward_refiner", "forward_refiner") and len(parts) > 1:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def count_macs(model: nn.Module, run: Callable[[], object]) -> dict[str, int]:
    """MACs by component (``spynet``, ``refiner.mvr``, ``refiner.fa``, ``refiner.compression``,
    ``restoration``, ..., and ``gdn``) during ``run()``, batch size 1 assumed."""
    totals: dict[str, int] = defaultdict(int)
    handles = []

    def conv_hook(group: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def hook(mod: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
            if isinstance(mod, nn.Conv2d):
                kh, kw = mod.kernel_size
                totals[group] += out.numel() * (mod.in_channels // mod.groups) * kh * kw
            elif isinstance(mod, nn.Linear):
                totals[group] += out.numel() * mod.in_features
            elif isinstance(mod, GDN):
                totals["gdn"] += out.numel() * out.shape[1]
        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d | nn.Linear | GDN):
            handles.append(mod.register_forward_hook(conv_hook(_group(name))))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return dict(totals)


def steady_state_macs(model: nn.Module, *, height: int = 540, width: int = 960) -> dict[str, int]:
    """Per-output-frame MACs of an NCFL / NCFLBi built on the meta device (``model`` must live there)."""
    c = int(getattr(model, "in_channels", 3))
    extra = int(getattr(model, "extra_channels", 0))
    dev = torch.device("meta")
    model.eval()
    nm = torch.zeros(1, extra, height, width, device=dev) if extra else None
    if getattr(model, "temporal_mode", "") == "recurrent":
        frame = torch.zeros(1, c, height, width, device=dev)
        with torch.no_grad():
            _, state = model.step(frame, None, nm)  # type: ignore[operator]
        return count_macs(model, lambda: model.step(frame, state, nm))  # type: ignore[operator]
    # c(T) − c(T−1) is the same for every T ≥ 2 (each frame: two restorations; each frame after the first
    # in either direction: one flow and one refiner), so the cheapest pair is used
    long = count_macs(model, lambda: model(torch.zeros(1, 2, c, height, width, device=dev), nm))
    short = count_macs(model, lambda: model(torch.zeros(1, 1, c, height, width, device=dev), nm))
    return {k: long.get(k, 0) - short.get(k, 0) for k in long}
