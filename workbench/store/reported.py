"""The paper's reported numbers and their join with measured rows.

``results/reported/ncfl_cvpr2022.csv`` holds every number of Tables 1–8, transcribed once, with columns
``table, method, dataset, setting, metric, value, source``. It is the only place the paper's numbers
live; code never types them. :func:`join` attaches them to measured dataset-level rows by
``(table, method, dataset, setting, metric)`` and adds the difference ``measured − reported`` and the
ratio ``measured / reported``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.paths import results_root

KEYS = ["table", "method", "dataset", "setting", "metric"]


def reported_path() -> Path:
    return results_root() / "reported" / "ncfl_cvpr2022.csv"


def load_reported(path: Path | None = None) -> pd.DataFrame:
    df = pd.read_csv(path or reported_path(), dtype={"setting": str})
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
    if "level" in m.columns:
        m = m[m["level"] == "dataset"]
    m["dataset_measured"] = m["dataset"]
    m["metric_measured"] = m["metric"]
    if metric_map:
        m["metric"] = m["metric"].map(lambda x: metric_map.get(x, x))
    if dataset_map:
        m["dataset"] = m["dataset"].map(lambda d: dataset_map.get(d, d))
    keys = [k for k in KEYS if k != "table"]
    cols = [*keys, "dataset_measured", "metric_measured", "value"] + [c for c in ("profile", "label") if c in m.columns]
    m = m[cols].rename(columns={"value": "value_measured"})
    out = m.merge(reported, on=keys, how="outer")
    out["difference"] = out["value_measured"] - out["value_reported"]
    out["ratio"] = out["value_measured"] / out["value_reported"]
    return out.sort_values(KEYS).reset_index(drop=True)
