"""Helpers of the plugin tests: a user's model module written into a folder, tiny specs."""

import importlib
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tiny_denoiser"
MODEL_SOURCE = '''
import torch
from torch import nn

from workbench.models.base import RestorationModel

GAIN = {gain}


class Net(RestorationModel):
    """One-frame window model: the noisy frame times a learnable scale times GAIN."""

    temporal_mode = "window"
    window = 1

    def __init__(self, *, width: int = 1) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, clip, noise_map=None):
        return clip[:, 0] * self.scale.mean() * GAIN


def build(*, width: int = 1) -> Net:
    return Net(width=width)
'''


class UserModule:
    """A single-file user module ``name`` in ``folder``; :meth:`write` changes its ``forward`` (GAIN)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.path = folder / f"{name}.py"

    def write(self, gain: float) -> None:
        self.path.write_text(textwrap.dedent(MODEL_SOURCE.format(gain=gain)))
        importlib.invalidate_caches()


def write_spec(folder: Path, spec_id: str, cells: list[str], *, evaluate: str | None = None) -> Path:
    """A one-profile restoration spec (no training) at ``folder/<spec_id>.yaml``; ``cells`` are YAML flow maps."""
    evaluate = evaluate or "{dataset: embedded-test, sigmas: [20], max_frames: 2, max_sequences: 1}"
    lines = [f"id: {spec_id}", "title: plugin test", "notebook: restoration", "profiles:", "  smoke:",
             "    kind: pipeline check", "    reported_tables: [table1]", "    dataset_map: {embedded-test: set8}",
             "    defaults:", "      kind: restoration", "      seed: 0", "      train: null",
             f"      evaluate: {evaluate}", "    cells:"]
    lines += [f"      - {c}" for c in cells]
    path = folder / f"{spec_id}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
