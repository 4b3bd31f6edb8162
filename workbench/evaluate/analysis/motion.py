"""Fig. 4 study: does MV refinement bring the flow of noisy frames closer to the truth?

On the embedded synthetic-motion clips (exact backward flow, :func:`workbench.data.embedded.embedded_flow`)
the model runs on the clean clip and on the protocol's noisy realisation (:mod:`.streams`). Per coded step
three flows are read (:mod:`.probe`): SPyNet on clean frames (``clean``), SPyNet on noisy frames before MVR
(``noisy_before_mvr``) and after it (``noisy_after_mvr``). Rows (``metric`` ``epe_px``, ``reference``
``ground_truth`` | ``clean_flow``): mean endpoint error in pixels over the valid pixels, per sequence
(mean over coded frames) and per dataset (mean over sequences). The flows of one frame are returned for
the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from workbench.data.embedded import embedded_flow
from workbench.data.sequence import Sequence
from workbench.evaluate.analysis.flow import endpoint_error
from workbench.evaluate.analysis.streams import noisy_frames, probed_steps, realisation_seed

FLOWS = ("clean", "noisy_before_mvr", "noisy_after_mvr")


@dataclass
class MotionStudy:
    """Parameters of the Fig. 4 study (σ on the 0–255 scale)."""

    dataset: str = "embedded-test"
    #: synthetic-motion sequences of ``dataset`` (they carry ground-truth flow)
    sequences: list[str] = field(default_factory=lambda: ["astronaut", "chelsea", "coffee"])
    sigma: float = 50.0
    max_frames: int = 5
    #: the sequence and frame whose flows are drawn ("" = the first sequence; -1 = the last frame)
    example_sequence: str = ""
    example_frame: int = -1


def _flows(records: list[Any]) -> dict[str, np.ndarray]:
    clean, noisy = records
    return {"clean": clean.flow_in[0].cpu().numpy(), "noisy_before_mvr": noisy.flow_in[0].cpu().numpy(),
            "noisy_after_mvr": noisy.flow_out[0].cpu().numpy()}


def sequence_epe(model: nn.Module, seq: Sequence, *, dataset: str, p: MotionStudy, device: str,
                 example: int | None) -> tuple[dict[tuple[str, str], float], dict[str, np.ndarray]]:
    """Mean EPE per (flow, reference) over the coded frames, and the flows of frame ``example``."""
    gt, valid = embedded_flow(dataset, seq.name)
    inputs = [seq.frame, noisy_frames(dataset, seq, p.sigma, 0)]
    errs: dict[tuple[str, str], list[float]] = {}
    shown: dict[str, np.ndarray] = {}
    for t, records, _ in probed_steps(model, inputs, len(seq), device=device, sigma=p.sigma):
        if t == 0:
            continue
        flows = _flows(records)
        for name, f in flows.items():
            errs.setdefault((name, "ground_truth"), []).append(endpoint_error(f, gt[t], valid[t]))
            if name != "clean":
                errs.setdefault((name, "clean_flow"), []).append(endpoint_error(f, flows["clean"], valid[t]))
        if t == example:
            shown = {**flows, "ground_truth": gt[t], "valid": valid[t], "clean_frame": seq.frame(t),
                     "noisy_frame": inputs[1](t)}
    return {k: float(np.nanmean(v)) for k, v in errs.items()}, shown


def motion_study(model: nn.Module, seqs: list[Sequence], *, dataset: str, p: MotionStudy, device: str
                 ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """``(rows, example flows)``; see the module docstring."""
    rows: list[dict[str, Any]] = []
    per_seq: list[dict[tuple[str, str], float]] = []
    example: dict[str, np.ndarray] = {}
    show = p.example_sequence or seqs[0].name
    for seq in seqs:
        frame = p.example_frame % len(seq) if seq.name == show else None
        errs, shown = sequence_epe(model, seq, dataset=dataset, p=p, device=device, example=frame)
        example = shown or example
        per_seq.append(errs)
        for (flow, ref), value in errs.items():
            rows.append({"level": "sequence", "sequence": seq.name, "setting": f"sigma={p.sigma:g}",
                         "flow": flow, "reference": ref, "metric": "epe_px", "value": value,
                         "frames": len(seq) - 1, "noise_seed": realisation_seed(dataset, seq, p.sigma, 0)})
    for key in per_seq[0]:
        rows.append({"level": "dataset", "sequence": "", "setting": f"sigma={p.sigma:g}", "flow": key[0],
                     "reference": key[1], "metric": "epe_px", "value": float(np.mean([e[key] for e in per_seq])),
                     "frames": "", "noise_seed": "noise_seed(dataset, sequence, sigma)"})
    return rows, example
