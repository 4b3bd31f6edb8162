"""``workbench zoo list`` and ``workbench zoo check``: what the zoo holds, and whether it can be remade.

:func:`check_entry` retrains one zoo entry from scratch under the config its manifest records (model,
arguments, seed, resolved recipe; the training data must have the recorded checksums) and evaluates the
committed and the retrained weights on the same test clips at the same σ with identical test noise; the
dataset-level PSNR difference must stay within ``tolerance_db`` (0.05 dB: CPU training here is
deterministic for a fixed thread count, so a larger gap means the code, the data or the machine's
arithmetic changed). The retraining runs with the thread count the entry was trained with (its manifest's
``threads``): the order of floating-point reductions, and so the last bits of every step, depend on it.
The processor matters too: the result names the one the entry was trained on (``device.cpu_model`` and
``cpu_capability`` of its manifest, "unrecorded" for entries older than those fields) and this one. Measured:
FastDVDNet's mini entry, trained on an earlier machine, retrained here on an AMD EPYC (AVX512) with the
same code, data and sampling, drifts from its first logged loss on (0.0151746 against 0.0151444) and ends
0.11 dB lower at σ = 50 — 400 steps of Adam amplify last-bit differences to a tenth of a dB.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import provenance
from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.data.catalog import is_paired_dataset, open_dataset
from workbench.errors import ConfigError
from workbench.evaluate.restoration import EvalSpec, evaluate_model
from workbench.pipeline import codec_zoo, zoo
from workbench.pipeline.restoration import RestorationCell, input_checksums, train_inputs, train_model
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


@dataclass
class CheckResult:
    entry: str
    committed_db: float
    retrained_db: float
    train_s: float
    tolerance_db: float
    trained_on: str = "unrecorded"
    retrained_on: str = "unrecorded"

    @property
    def difference_db(self) -> float:
        return self.retrained_db - self.committed_db

    @property
    def ok(self) -> bool:
        return abs(self.difference_db) <= self.tolerance_db

    @property
    def same_processor(self) -> bool:
        return self.trained_on == self.retrained_on != "unrecorded"


def processor(device: dict[str, Any]) -> str:
    """``"<cpu_model> (<cpu_capability>)"`` of a manifest's or this run's ``device`` record."""
    if not device.get("cpu_model"):
        return "unrecorded"
    return f"{device['cpu_model']} ({device.get('cpu_capability', '?')})"


def list_entries(zoo_dir: Path) -> pd.DataFrame:
    rows = [{"entry": m["entry"], "model": m["model"], "seed": m["seed"], "steps": m.get("steps"),
             "wall_s": m.get("wall_s"), "params": m.get("params"),
             "final_l2": m.get("last_log", {}).get("l2"), "commit": str(m.get("code_commit", ""))[:10],
             "config_hash": str(m.get("config_hash", ""))[:12]} for m in zoo.entries(zoo_dir)]
    for m in codec_zoo.entries(zoo_dir):  # Fig. 2's learned codecs: one row for all rate points of an entry
        rows.append({"entry": m["entry"], "model": m["config"]["codec"],
                     "seed": m["config"]["rate_points"][0]["settings"]["seed"], "steps": m.get("steps"),
                     "wall_s": m.get("wall_s"), "params": m.get("params"), "final_l2": None,
                     "commit": str(m.get("code_commit", ""))[:10], "config_hash": str(m.get("config_hash", ""))[:12]})
    return pd.DataFrame(rows)


def _cell(manifest: dict[str, Any], eval_spec: EvalSpec) -> RestorationCell:
    cfg = manifest["config"]
    train = from_mapping(TrainSpec, cfg["train"], where=f"{manifest['entry']}/manifest.json: config.train")
    return RestorationCell(method=manifest["entry"], model=cfg["model"], model_args=dict(cfg["model_args"]),
                           train=train, seed=int(cfg["seed"]), evaluate=eval_spec)


def _psnr(model: Any, cell: RestorationCell, device: str) -> float:
    ev = cell.evaluate
    seqs = open_dataset(ev.dataset, max_frames=ev.max_frames)
    rows = evaluate_model(model.to(device).eval(), seqs, dataset=ev.dataset, spec=ev, device=device)
    values = [r["value"] for r in rows if r["level"] == "dataset" and r["metric"] == "psnr_db"]
    return float(sum(values) / len(values))


def check_entry(zoo_dir: Path, name: str, *, dataset: str, sigma: float, device: str = "cpu",
                tolerance_db: float = 0.05, max_frames: int | None = None) -> CheckResult:
    """Retrain entry ``name`` from scratch and compare its PSNR with the committed checkpoint's."""
    manifests = {m["entry"]: m for m in zoo.entries(zoo_dir)}
    if name not in manifests:
        raise ConfigError(f"{zoo_dir}: no zoo entry {name!r}; `workbench zoo list` shows the entries")
    manifest = manifests[name]
    cell = _cell(manifest, EvalSpec(dataset=dataset, sigmas=[sigma], max_frames=max_frames))
    assert cell.train is not None
    if zoo.training_task(cell.train.dataset, noise=cell.train.noise, paired=is_paired_dataset(cell.train.dataset)):
        raise ConfigError(f"{zoo_dir / name}: trained on {cell.train.dataset} (not AWGN denoising); `zoo check` "
                          "evaluates under AWGN only — retrain it with `workbench reproduce --profile "
                          f"{zoo_dir.name} --retrain --only <table>` and compare the rows")
    ctx = RunContext(spec_id="zoo-check", profile=zoo_dir.name, cell_name=name, work_dir=Path("."),
                     artifact_dir=Path("."), device=device, retrain=True, zoo_dir=zoo_dir)
    ctx.input_checksums = input_checksums(cell, ctx)
    data = zoo.data_digest(train_inputs(cell, ctx))
    if data != manifest["config"]["train_data_sha256"]:
        raise ConfigError(f"{zoo_dir / name}: the training data here differ from those the entry was trained on "
                          f"(sha256 {data[:12]} vs {manifest['config']['train_data_sha256'][:12]}); rebuild the "
                          "embedded data (delete the cache's embedded folder)")
    committed = build_model(cell.model, cell.model_args, seed=cell.seed, where=name)
    zoo.load_entry(committed, zoo.find(zoo_dir, name, manifest["config"]), zoo_dir)
    retrained = build_model(cell.model, cell.model_args, seed=cell.seed, where=name)
    t0 = time.time()
    train_model(cell, retrained, ctx)  # with the entry's thread count (train_model: ctx.retrain and a zoo)
    train_s = time.time() - t0
    return CheckResult(entry=name, committed_db=_psnr(committed, cell, device),
                       retrained_db=_psnr(retrained, cell, device), train_s=train_s, tolerance_db=tolerance_db,
                       trained_on=processor(manifest.get("device", {})),
                       retrained_on=processor(provenance.device_info(device)))
