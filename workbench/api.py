"""The few functions a notebook user needs (docs/plugins.md): specs, evaluation, results as DataFrames.

    from workbench import api
    api.load_plugin("tiny_denoiser")                  # or a model id "module:factory", or an entry point
    rows = api.evaluate("tiny_denoiser:build", "embedded-test", protocol="table1", sigmas=[20])
    v = api.publish_eval("tiny_denoiser:build", table="table1", checkpoint="w.pth", fmt="basicsr")
    api.read_results(v, "comparison")                # measured joined to the paper's numbers
    api.compare_versions(v_old, v)                   # one row per (method, dataset, setting, metric)

Every evaluation follows a table's pinned protocol (its spec's ``evaluate`` section, docs/protocols.md),
with any change passed explicitly; :func:`evaluate` returns rows without caching or publishing,
:func:`publish_eval` is ``workbench eval`` (cached cell, new results version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from workbench.checkpoint_formats import CheckpointRef, load_checkpoint
from workbench.config import from_mapping, merge, to_mapping
from workbench.data.catalog import open_dataset
from workbench.errors import ConfigError
from workbench.evaluate.restoration import EvalSpec, evaluate_model
from workbench.models.base import RestorationModel
from workbench.paths import results_root
from workbench.pipeline.external import evaluate_checkpoint, table_protocol
from workbench.pipeline.spec import PipelineSpec
from workbench.pipeline.spec import load_spec as _load_spec
from workbench.plugins import load_plugin
from workbench.store import versions
from workbench.store.index import read_index
from workbench.zoo import build_model

#: columns that identify one result row across versions
ROW_KEYS = ["method", "dataset", "setting", "metric"]


def load_spec(spec: str) -> PipelineSpec:
    """A pipeline spec by id (``"table1"``) or path, checked (unknown keys are errors)."""
    return _load_spec(spec)


def protocol(table: str = "table1", profile: str = "smoke", **changes: Any) -> EvalSpec:
    """``table``'s evaluation protocol for ``profile``, with ``changes`` (e.g. ``sigmas=[20]``) applied."""
    base = to_mapping(table_protocol(load_spec(table), profile))
    return from_mapping(EvalSpec, merge(base, changes), where=f"protocol({table!r})")


def _model(model: str | nn.Module, model_args: dict[str, Any] | None, checkpoint: str | Path | None,
           fmt: str) -> tuple[RestorationModel, str]:
    if isinstance(model, RestorationModel):
        model_id, net = type(model).__name__, model
    elif isinstance(model, str):
        model_id, net = model, build_model(model, dict(model_args or {}), seed=0, where=f"api.evaluate({model!r})")
    else:
        raise ConfigError(f"api.evaluate: {type(model).__name__} is not a RestorationModel (workbench.models.base)")
    if checkpoint is not None:
        ref = from_mapping(CheckpointRef, {"path": str(checkpoint), "format": fmt}, where="api.evaluate")
        load_checkpoint(model_id, net, ref)
    return net, model_id


def evaluate(model: str | nn.Module, dataset: str = "embedded-test", *, protocol_of: str = "table1",
             profile: str = "smoke", checkpoint: str | Path | None = None, fmt: str = "plain",
             model_args: dict[str, Any] | None = None, device: str = "cpu", data_root: Path | None = None,
             **changes: Any) -> pd.DataFrame:
    """Rows (``level``, ``sequence``, ``setting``, ``metric``, ``value``, protocol card…) of ``model`` — a
    model id or a :class:`RestorationModel` instance — on ``dataset`` under ``protocol_of``'s protocol."""
    spec = protocol(protocol_of, profile, dataset=dataset, **changes)
    net, model_id = _model(model, model_args, checkpoint, fmt)
    seqs = open_dataset(dataset, root=data_root, max_frames=spec.max_frames, max_sequences=spec.max_sequences)
    rows = evaluate_model(net.to(device), seqs, dataset=dataset, spec=spec, device=device)
    frame = pd.DataFrame(rows)
    frame.insert(0, "method", model_id)
    frame.insert(1, "dataset", dataset)
    return frame


def publish_eval(model: str, *, table: str = "table1", profile: str = "smoke", checkpoint: str | Path | None = None,
                 fmt: str = "plain", model_args: dict[str, Any] | None = None, method: str | None = None,
                 device: str = "cpu", frames_dir: Path | None = None, **changes: Any) -> Path:
    """``workbench eval`` from Python: evaluate, publish ``results/<table>/<profile>/vNNNN``, return it."""
    s = evaluate_checkpoint(model, table=table, profile=profile, checkpoint=checkpoint, fmt=fmt,
                            model_args=model_args, method=method, overrides=changes or None, device=device,
                            frames_dir=frames_dir)
    return s.version_dir


def list_versions(table: str | None = None) -> pd.DataFrame:
    """The results index (one row per version), optionally for one table."""
    df = pd.DataFrame(read_index())
    return df[df["table"] == table].reset_index(drop=True) if table and not df.empty else df


def version_dir(table_or_dir: str | Path, profile: str = "smoke", version: str | None = None) -> Path:
    """A version folder from a path, or from (table, profile, version); ``version=None`` is the latest."""
    path = Path(table_or_dir)
    if path.is_dir():
        return versions.published_version(path).path
    if version is not None:
        return versions.table_dir(str(table_or_dir), profile) / version
    latest = versions.latest_version(str(table_or_dir), profile)
    if latest is None:
        raise ConfigError(f"no published version of {table_or_dir}/{profile} under {results_root()}")
    return latest


def read_results(version: str | Path, which: str = "measured", *, profile: str = "smoke") -> pd.DataFrame:
    """``measured``, ``comparison`` or ``reported`` rows of a version (a folder, or a table id: its latest)."""
    if which not in ("measured", "comparison", "reported"):
        raise ConfigError(f"read_results: which={which!r}; use measured, comparison or reported")
    return pd.read_csv(version_dir(version, profile) / f"{which}.csv", keep_default_na=False, na_values=[""])


def compare_versions(a: str | Path, b: str | Path, *, profile: str = "smoke") -> pd.DataFrame:
    """Dataset-level measured values of two versions side by side: ``value_a``, ``value_b``, ``difference``."""

    def rows(v: str | Path) -> pd.DataFrame:
        df = read_results(v, profile=profile)
        if "level" in df.columns:
            df = df[df["level"] == "dataset"]
        return df[ROW_KEYS + ["value"]].drop_duplicates(ROW_KEYS)

    out = rows(a).merge(rows(b), on=ROW_KEYS, how="outer", suffixes=("_a", "_b"))
    out["difference"] = out["value_b"] - out["value_a"]
    return out.sort_values(ROW_KEYS).reset_index(drop=True)


__all__ = ["ROW_KEYS", "compare_versions", "evaluate", "list_versions", "load_plugin", "load_spec", "protocol",
           "publish_eval", "read_results", "version_dir"]
