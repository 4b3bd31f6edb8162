"""Reading an analysis figure's results version: its measured rows and each cell's side files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def measured(version_dir: Path, table: str) -> pd.DataFrame:
    """``measured.csv`` rows of ``table``, in cell order."""
    df = pd.read_csv(version_dir / "measured.csv", dtype={"setting": str, "sequence": str},
                     keep_default_na=False, na_values=[""])
    return df[df["table"].astype(str) == table] if "table" in df.columns else df


def cells(df: pd.DataFrame) -> list[tuple[str, str]]:
    """``[(cell, label)]`` in the order of the spec."""
    seen = df.drop_duplicates("cell")
    return list(zip(seen["cell"], seen["label"].fillna(seen["cell"]), strict=True))


def artifact(version_dir: Path, cell: str, name: str) -> Path:
    return version_dir / "artifacts" / cell / name


def manifest(version_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((version_dir / "manifest.json").read_text())
    return data


#: what a figure of each non-reproduction kind says it is
KIND_NOTES = {"pipeline check": "smoke numbers", "mini evidence": "small-scale CPU evidence"}


def smoke_note(version_dir: Path) -> str:
    """"" for a reproduction, else the label every smoke or mini figure carries."""
    kind = manifest(version_dir).get("result_kind", "")
    if kind == "reproduction":
        return ""
    what = KIND_NOTES.get(kind)
    return f" [{kind}: {what}, not a reproduction]" if what else f" [{kind}: not a reproduction]"
