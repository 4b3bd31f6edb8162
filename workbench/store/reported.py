"""The paper's reported numbers and their join with measured rows.

``reported_ncfl_cvpr2022.csv`` (package data beside this module: the paper's numbers live with the code,
not in a results root) holds every number of Tables 1–8, transcribed once, with columns
``table, method, dataset, setting, metric, value, source``. It is the only place the paper's numbers
live; code never types them. :func:`join` attaches them to measured dataset-level rows by
``(table, method, dataset, setting, metric)`` and adds the difference ``measured − reported`` and the
ratio ``measured / reported``; a measured row of a part of the dataset (``subset`` column) gets a
``comparison_note`` saying that the paper's number is of the full set.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.errors import WorkbenchError

KEYS = ["table", "method", "dataset", "setting", "metric"]
REPORTED_FILE = "reported_ncfl_cvpr2022.csv"


def reported_path() -> Path:
    return Path(__file__).resolve().parent / REPORTED_FILE


def load_reported(path: Path | None = None) -> pd.DataFrame:
    path = path or reported_path()
    try:
        df = pd.read_csv(path, dtype={"setting": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"{path}: the paper's reported numbers cannot be read ({type(exc).__name__}); "
                             "reinstall the package or restore the file from git") from None
    return df.rename(columns={"value": "value_reported"})


def reported_for(tables: list[str], path: Path | None = None) -> pd.DataFrame:
    df = load_reported(path)
    return df[df["table"].isin(tables)].reset_index(drop=True)


def join(measured: pd.DataFrame, reported: pd.DataFrame, *, dataset_map: dict[str, str] | None = None,
         metric_map: dict[str, str] | None = None) -> pd.DataFrame:
    """Outer-join dataset-level measured rows to reported rows on (method, dataset, setting, metric).

    ``dataset_map`` maps a measured dataset to the reported one it stands in for (e.g. a smoke run on
    ``embedded-test`` is joined to Set8's row but keeps ``dataset_measured``), so the comparison can be
    shown while the ``kind`` column says the measured value is a pipeline check, not a reproduction.
    """
    m = measured.copy()
    if "level" in m.columns:  # a row without a level (a complexity count beside restoration rows) is dataset-level
        m = m[m["level"].fillna("dataset") == "dataset"]
    m["dataset_measured"] = m["dataset"]
    m["metric_measured"] = m["metric"]
    if metric_map:
        m["metric"] = m["metric"].map(lambda x: metric_map.get(x, x))
    if dataset_map:
        m["dataset"] = m["dataset"].map(lambda d: dataset_map.get(d, d))
    keys = [k for k in KEYS if k != "table"]
    carried = ("profile", "label", "subset", "subset_size")
    cols = [*keys, "dataset_measured", "metric_measured", "value"] + [c for c in carried if c in m.columns]
    m = m[cols].rename(columns={"value": "value_measured"})
    out = m.merge(reported, on=keys, how="outer")
    out["difference"] = out["value_measured"] - out["value_reported"]
    out["ratio"] = out["value_measured"] / out["value_reported"]
    out["comparison_note"] = [_note(r.get("subset"), r.get("subset_size"), r["dataset_measured"],
                                    r["value_reported"]) for r in out.to_dict("records")]
    return out.sort_values(KEYS).reset_index(drop=True)


def _note(subset: object, size: object, dataset: object, reported: object) -> str:
    """``"subset of set8: 4 of 8 sequences"`` where a part of the dataset is compared with the full set."""
    if not isinstance(subset, str) or subset in ("", "all") or not isinstance(reported, float | int) \
            or reported != reported:  # NaN: no reported counterpart
        return ""
    return f"subset of {dataset}: {size} sequences (the paper's number is of the full set)"
