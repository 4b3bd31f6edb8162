"""Derived claims, computed from measured (and, where the claim compares with another paper's number,
reported) values — never typed.

- ``flops_ratio_vs_basicvsrpp`` (paper convention) and ``flops_ratio_vs_basicvsrpp_full`` (full count):
  ``gflops(ncfl-<dir>) / gflops(basicvsrpp-<dir>)`` for ``dir`` in ``uni``, ``bi`` (the paper's "0.23×" and
  "0.21× FLOPs" statements, §5.3 and §5.7);
- ``params_ratio_vs_cg_idn``: measured ``params_m`` of the dehazing model divided by CG-IDN's parameter
  count, which exists only as a reported number (Table 4 text), so it is derived from the reported table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

_FLOPS = {"flops_ratio_vs_basicvsrpp": "gflops_paper", "flops_ratio_vs_basicvsrpp_full": "gflops_full"}


def _value(rows: list[dict[str, Any]], method: str, metric: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["method"] == method and r["metric"] == metric), None)


def flops_ratio_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratio rows for each direction where both NCFL and BasicVSR++ were counted."""
    out = []
    for claim, metric in _FLOPS.items():
        for direction in ("uni", "bi"):
            ours = _value(rows, f"ncfl-{direction}", metric)
            ref = _value(rows, f"basicvsrpp-{direction}", metric)
            if ours is None or ref is None or not ref["value"]:
                continue
            out.append({"method": f"ncfl-{direction}", "dataset": ours["dataset"], "setting": ours["setting"],
                        "metric": claim, "value": ours["value"] / ref["value"],
                        "reference": f"basicvsrpp-{direction}", "derived_from": metric})
    return out


def params_ratio_rows(
    measured: pd.DataFrame, reported: pd.DataFrame, *, reference: str = "cg-idn"
) -> pd.DataFrame:
    """``params_m(measured dehazing model) / params_m(reference, reported)`` on the ``revide`` rows."""
    m = measured[(measured["metric"] == "params_m") & (measured["dataset"] == "revide")]
    r = reported[(reported["metric"] == "params_m") & (reported["method"] == reference)]
    if m.empty or r.empty:
        return pd.DataFrame(columns=["method", "dataset", "setting", "metric", "value", "reference"])
    ref = float(pd.to_numeric(r["value_reported"]).iloc[0])
    metric = f"params_ratio_vs_{reference.replace('-', '_')}"
    values = pd.to_numeric(m["value"]) / ref
    return pd.DataFrame({"method": m["method"].to_numpy(), "dataset": m["dataset"].to_numpy(),
                         "setting": m["setting"].to_numpy(), "metric": metric, "value": values.to_numpy(),
                         "reference": f"{reference} (reported)"})
