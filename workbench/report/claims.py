"""The paper's claims as a machine-checkable registry, and their verdicts with 95 % intervals.

The registry ``workbench/report/claims_ncfl_cvpr2022.yaml`` (package data) lists every claim that a table
(or Fig. 2) of the paper supports: "``method_a`` scores higher than ``method_b`` on ``metric`` at
``setting``". :func:`load_claims` reads it into :class:`Claim` records (one :class:`ConfigError` line naming
the file and the key for a bad entry). :func:`paper_difference` computes the paper's difference from the
reported numbers in ``workbench/store/reported_ncfl_cvpr2022.csv`` (never typed twice; pass the frame
:func:`workbench.store.reported.load_reported` returns, or the raw CSV with its ``value`` column), and
:func:`evaluate_claims` measures the same difference on the per-sequence rows of each table's
``measured.csv`` with an interval, then gives a verdict (:func:`verdict`).

Interval method (:func:`difference_interval`)
---------------------------------------------
Scores ``x_A(s, q)`` of method A over training seeds ``s = 1..n_A`` and test sequences ``q = 1..n_q``,
and ``x_B(t, q)`` of B over its own seeds ``t = 1..n_B``. The sequences are shared and carry identical test
noise, so A and B are *paired by sequence*; the seeds are independent trainings, so they are *not* paired
between A and B (and ``n_A`` may differ from ``n_B``). The estimator is

    Δ = mean_q d_q,    d_q = mean_s x_A(s, q) − mean_t x_B(t, q),

and its standard error

    SE² = s²_d / n_q + v_A / n_A + v_B / n_B,

where ``s²_d`` is the sample variance of ``d_q`` over the sequences (method × sequence interaction plus
evaluation noise) and ``v_A`` the sample variance over A's seeds of its sequence-averaged score
``mean_q x_A(s, q)`` (training-seed spread). A method with one seed cannot estimate its own ``v``: where
other methods of the run have several seeds at the same setting and metric (the mini profile trains every
model of Tables 5 and 6 three times), their between-seed variances are pooled (:func:`pooled_seed_variance`,
df-weighted, each distinct model once) and stand in for it — an assumption that seed spread is similar
across the models of one recipe, stated in the ``method`` text; where no method has several seeds the term
is dropped and the text says the interval leaves that seed spread out. The
interval is ``Δ ± t_{(1+level)/2, ν} · SE`` with Welch–Satterthwaite degrees of freedom
``ν = SE⁴ / Σ_j (k_j² / ν_j)`` over the terms ``k_j`` kept (``ν_j`` = n_q − 1, n_A − 1, n_B − 1).

Under ``x_A(s, q) = μ_A + c_q + u_{A,s} + i_{A,q} + e_{A,s,q}`` (content effect ``c_q`` cancels in ``d_q``)
the true variance of Δ is ``(σ²_iA + σ²_iB)/n_q + σ²_uA/n_A + σ²_uB/n_B + σ²_eA/(n_A n_q) + σ²_eB/(n_B n_q)``.
``s²_d/n_q`` estimates the interaction part *and* the within-seed noise part, and so does ``v_A/n_A``
(``v_A`` estimates ``σ²_uA + σ²_eA/n_q``): the noise enters twice, so the interval is slightly
conservative (wider than needed) when every method has several seeds, and exact (a paired t-interval,
ν = n_q − 1) with one seed each and no seed effect.

``gap_grows`` claims use the same interval on within-method contrasts ``x_M(s, q | s2) − x_M(s, q | s1)``
(seed ``s`` of a method paired with itself across the two settings when it has the same seeds at both,
else averaged over seeds first into one pseudo-seed). ``best_of`` claims compare A with the best measured
comparator (highest mean score, per setting). ``fig2_gap`` claims use a one-sample t-interval over the
per-sequence gap rows.

Verdicts: "holds at <profile> scale" when the whole interval lies on the claimed side of zero, "reversed"
when it lies wholly on the other side, "not resolved" when it spans zero (or cannot be formed from the
rows there are), "not measured" when the table or the methods' rows are missing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from workbench.config import from_mapping, load_yaml
from workbench.errors import ConfigError, WorkbenchError

REGISTRY_FILE = "claims_ncfl_cvpr2022.yaml"
Kind = Literal["greater", "gap_grows", "best_of", "fig2_gap"]
NOT_MEASURED = "not measured"
NOT_RESOLVED = "not resolved"
REVERSED = "reversed"
# Fig. 2's gap row of interest: learned − x265, PSNR against the clean clip, mean over the overlapping bpp range.
FIG2_FILTERS = {"reference": "clean", "rate_point": "overlap-mean"}
COLUMNS = ["claim_id", "table", "statement", "metric", "setting", "method_a", "method_b", "paper_difference",
           "measured_difference", "ci_low", "ci_high", "se", "df", "n_seeds_a", "n_seeds_b", "n_sequences",
           "interval_method", "verdict", "profile"]


@dataclass(frozen=True)
class Claim:
    """One claim: ``method_a`` scores higher than ``method_b`` (or than every comparator) on ``metric``.

    ``setting`` (e.g. ``sigma=50``) for ``greater``, ``best_of`` and ``fig2_gap``; ``settings`` ``(s1, s2)``
    for ``gap_grows`` (the claim: the A − B gap at s2 exceeds the one at s1). ``dataset`` is the dataset of the
    paper's reported row (a measured table on a stand-in dataset is used as it is).
    """

    id: str
    table: str
    statement: str
    kind: Kind
    metric: str
    method_a: str
    method_b: str = ""
    comparators: tuple[str, ...] = ()
    setting: str = ""
    settings: tuple[str, ...] = ()
    dataset: str = "set8"

    def validate(self) -> None:
        if not self.id.strip():
            raise ConfigError("id: must not be empty")
        if self.kind == "gap_grows":
            if len(self.settings) != 2 or self.settings[0] == self.settings[1]:
                raise ConfigError(f"settings: kind 'gap_grows' needs two different settings, got {list(self.settings)}")
            if self.setting:
                raise ConfigError("setting: kind 'gap_grows' takes 'settings' (two), not 'setting'")
        else:
            if not self.setting:
                raise ConfigError(f"setting: required for kind {self.kind!r}")
            if self.settings:
                raise ConfigError(f"settings: only for kind 'gap_grows', not {self.kind!r}")
        if self.kind == "best_of":
            if not self.comparators or self.method_a in self.comparators:
                raise ConfigError("comparators: kind 'best_of' needs a list of other methods")
            if self.method_b:
                raise ConfigError("method_b: kind 'best_of' takes 'comparators', not 'method_b'")
        else:
            if not self.method_b or self.method_b == self.method_a:
                raise ConfigError(f"method_b: required for kind {self.kind!r} and different from method_a")
            if self.comparators:
                raise ConfigError("comparators: only for kind 'best_of'")

    @property
    def setting_label(self) -> str:
        return f"{self.settings[1]} minus {self.settings[0]}" if self.kind == "gap_grows" else self.setting


@dataclass(frozen=True)
class DifferenceInterval:
    """Δ = A − B with its standard error, Welch–Satterthwaite df and ``level`` t-interval [low, high]."""

    difference: float
    low: float
    high: float
    se: float
    df: float
    n_seeds_a: int
    n_seeds_b: int
    n_sequences: int
    method: str


# --- the registry ------------------------------------------------------------------------------------------


def registry_path() -> Path:
    return Path(__file__).resolve().parent / REGISTRY_FILE


def load_claims(path: str | Path | None = None) -> list[Claim]:
    """The claims of the registry, checked (unknown/missing keys, kinds, duplicate ids → :class:`ConfigError`)."""
    path = Path(path) if path is not None else registry_path()
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ConfigError(f"{path}: claims: expected a list of claim mappings under the key 'claims'")
    claims: list[Claim] = []
    for i, entry in enumerate(data["claims"]):
        where = f"{path}: claims[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        claim = from_mapping(Claim, entry, where=where)
        if any(c.id == claim.id for c in claims):
            raise ConfigError(f"{where}.id: duplicate id {claim.id!r}")
        claims.append(claim)
    return claims


# --- the paper's difference --------------------------------------------------------------------------------


def _reported_value(reported: pd.DataFrame, claim: Claim, method: str, setting: str) -> float | None:
    column = "value_reported" if "value_reported" in reported.columns else "value"
    sel = reported[(reported["table"] == claim.table) & (reported["method"] == method)
                   & (reported["dataset"] == claim.dataset) & (reported["setting"].astype(str) == setting)
                   & (reported["metric"] == claim.metric)]
    if len(sel) > 1:
        raise WorkbenchError(f"reported numbers: {len(sel)} rows for ({claim.table}, {method}, {claim.dataset}, "
                             f"{setting}, {claim.metric}); keep one in workbench/store/reported_ncfl_cvpr2022.csv")
    return float(sel[column].iloc[0]) if len(sel) else None


def paper_difference(claim: Claim, reported: pd.DataFrame) -> float | None:
    """The paper's A − B (dB for PSNR) from the reported table; ``None`` when a number is missing (Fig. 2).

    ``gap_grows``: (A − B at s2) − (A − B at s1); ``best_of``: A minus the best reported comparator.
    """
    def value(method: str, setting: str) -> float | None:
        return _reported_value(reported, claim, method, setting)

    if claim.kind == "gap_grows":
        s1, s2 = claim.settings
        vals = [value(m, s) for s in (s1, s2) for m in (claim.method_a, claim.method_b)]
        if any(v is None for v in vals):
            return None
        a1, b1, a2, b2 = (float(v) for v in vals if v is not None)
        return round((a2 - b2) - (a1 - b1), 6)
    a = value(claim.method_a, claim.setting)
    others = [value(m, claim.setting) for m in (claim.comparators if claim.kind == "best_of" else (claim.method_b,))]
    if a is None or any(v is None for v in others):
        return None
    return round(a - max(float(v) for v in others if v is not None), 6)


# --- the interval ------------------------------------------------------------------------------------------


def _matrix(x: pd.DataFrame | np.ndarray | Any) -> tuple[np.ndarray, list[Any]]:
    """Scores as a (seeds × sequences) array and the sequence labels.

    A DataFrame has columns ``seed`` (optional: one seed), ``sequence``, ``value``; an array is
    (n_seeds, n_sequences) or (n_sequences,), its columns the sequences in a shared order.
    """
    if isinstance(x, pd.DataFrame):
        df = x if "seed" in x.columns else x.assign(seed=0)
        wide = df.assign(seed=df["seed"].fillna(0)).pivot_table(index="seed", columns="sequence", values="value",
                                                                aggfunc="mean")
        return wide.to_numpy(dtype=float), list(wide.columns)
    arr = np.atleast_2d(np.asarray(x, dtype=float))
    return arr, list(range(arr.shape[1]))


def _aligned(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """A's and B's score arrays over the sequences both have for every seed (same column order)."""
    ma, qa = _matrix(a)
    mb, qb = _matrix(b)
    ok_a = {q for q, good in zip(qa, ~np.isnan(ma).any(axis=0)) if good}
    ok_b = {q for q, good in zip(qb, ~np.isnan(mb).any(axis=0)) if good}
    shared = [q for q in qa if q in ok_a and q in ok_b]
    if not shared:
        raise ValueError("A and B have no sequence in common (with a score for every seed)")
    return ma[:, [qa.index(q) for q in shared]], mb[:, [qb.index(q) for q in shared]]


def difference_interval(a: Any, b: Any, *, level: float = 0.95,
                        pooled: tuple[float, int] | None = None) -> DifferenceInterval:
    """Δ = mean_q(mean_s x_A − mean_s x_B) with SE² = s²_d/n_q + v_A/n_A + v_B/n_B and a Welch–Satterthwaite
    t-interval (see the module docstring). ``a``, ``b``: per-sequence scores, DataFrames with ``seed``,
    ``sequence``, ``value`` or (seeds × sequences) arrays. With one sequence the interval is NaN.
    ``pooled``: ``(variance, df)`` of the between-seed spread pooled over methods that have several seeds
    (:func:`pooled_seed_variance`); it stands in for ``v`` of a method with one seed."""
    ma, mb = _aligned(a, b)
    (n_a, n_q), n_b = ma.shape, mb.shape[0]
    d = ma.mean(axis=0) - mb.mean(axis=0)
    delta = float(d.mean())
    terms: list[tuple[str, float, int]] = []  # (formula, variance of the mean, its df)
    notes: list[str] = []
    if n_q > 1:
        terms.append(("s²_d/n_q", float(d.var(ddof=1)) / n_q, n_q - 1))
    else:
        notes.append("one sequence: s²_d cannot be estimated, no interval")
    for name, m, n in (("A", ma, n_a), ("B", mb, n_b)):
        if n > 1:
            terms.append((f"v_{name}/n_{name}", float(m.mean(axis=1).var(ddof=1)) / n, n - 1))
        elif pooled is not None and pooled[1] > 0:
            terms.append((f"v_pool/n_{name}", pooled[0], pooled[1]))
            notes.append(f"v_{name} = the pooled between-seed variance of the methods with several seeds at "
                         f"this setting ({pooled[0]:.3g}, df {pooled[1]}): {name} has 1 seed")
        else:
            notes.append(f"v_{name} dropped ({name} has 1 seed: its training-seed spread is not in SE)")
    se2 = sum(k for _, k, _ in terms)
    denom = sum(k * k / nu for _, k, nu in terms)
    df = se2 * se2 / denom if denom > 0 else math.inf
    se = math.sqrt(se2)
    if n_q > 1:
        half = float(stats.t.ppf(0.5 + level / 2, df)) * se if se > 0 else 0.0
        low, high = delta - half, delta + half
    else:
        low = high = se = df = math.nan
    formula = " + ".join(t for t, _, _ in terms) or "(none)"
    method = (f"paired by sequence (n_q={n_q}), independent seeds (n_A={n_a}, n_B={n_b}); "
              f"Δ = mean_q(mean_s A − mean_s B); SE² = {formula}; "
              f"{level:.0%} t-interval, Welch–Satterthwaite df")
    return DifferenceInterval(delta, low, high, se, df, n_a, n_b, n_q, "; ".join([method, *notes]))


def verdict(low: float | None, high: float | None, direction: int = 1, *, profile: str = "mini") -> str:
    """``direction`` +1: the claim says the difference is > 0 (−1: < 0). NaN/None bounds → "not measured"."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return NOT_MEASURED
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    lo, hi = (low, high) if direction == 1 else (-high, -low)
    if lo > 0:
        return f"holds at {profile} scale"
    if hi < 0:
        return REVERSED
    return NOT_RESOLVED


# --- evaluation --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """What one claim's evaluator found: an interval (or none), the comparator used, a forced status, a note."""

    interval: DifferenceInterval | None
    method_b: str
    status: str | None = None
    note: str = ""
    difference: float = math.nan


def _scores(rows: pd.DataFrame, claim: Claim, method: str, setting: str) -> pd.DataFrame:
    """``seed, sequence, value`` rows of ``method`` at ``setting`` (the claim's metric); the claim's dataset
    when the table has it, else the table's own (stand-in) dataset, sequences keyed by dataset then."""
    sel = rows[(rows["method"] == method) & (rows["setting"].astype(str) == setting)
               & (rows["metric"] == claim.metric)]
    if "dataset" in sel.columns:
        if (sel["dataset"] == claim.dataset).any():
            sel = sel[sel["dataset"] == claim.dataset]
        if sel["dataset"].nunique() > 1:
            sel = sel.assign(sequence=sel["dataset"].astype(str) + "/" + sel["sequence"].astype(str))
    seed = sel["seed"].fillna(0) if "seed" in sel.columns else 0
    return pd.DataFrame({"seed": seed, "sequence": sel["sequence"], "value": sel["value"]}).reset_index(drop=True)


def _interval(claim: Claim, a: pd.DataFrame, b: pd.DataFrame, method_b: str, note: str = "",
              pooled: tuple[float, int] | None = None) -> Evaluation:
    missing = [m for m, s in ((claim.method_a, a), (method_b, b)) if s.empty]
    if missing:
        return Evaluation(None, method_b, NOT_MEASURED, f"no sequence-level rows of {', '.join(missing)}")
    try:
        return Evaluation(difference_interval(a, b, pooled=pooled), method_b, None, note)
    except ValueError as exc:
        return Evaluation(None, method_b, NOT_MEASURED, str(exc))


def _greater(claim: Claim, rows: pd.DataFrame, pooled: tuple[float, int] | None = None) -> Evaluation:
    return _interval(claim, _scores(rows, claim, claim.method_a, claim.setting),
                     _scores(rows, claim, claim.method_b, claim.setting), claim.method_b, pooled=pooled)


def _contrast(at1: pd.DataFrame, at2: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """``x(s, q | s2) − x(s, q | s1)`` of one method, seed-paired when it has the same seeds at both settings,
    else the seed-averaged contrast as one pseudo-seed; the flag says whether it was seed-paired."""
    if at1.empty or at2.empty:
        return at1.iloc[0:0], True
    if set(at1["seed"]) == set(at2["seed"]):
        both = at2.merge(at1, on=["seed", "sequence"], suffixes=("_2", "_1"))
        return both.assign(value=both["value_2"] - both["value_1"])[["seed", "sequence", "value"]], True
    m1 = at1.groupby("sequence")["value"].mean()
    m2 = at2.groupby("sequence")["value"].mean()
    diff = (m2 - m1).dropna()
    return pd.DataFrame({"seed": 0, "sequence": diff.index, "value": diff.to_numpy()}), False


def _gap_grows(claim: Claim, rows: pd.DataFrame, pooled: tuple[float, int] | None = None) -> Evaluation:
    """(``pooled`` is not used: the seed spread of a contrast between two σ is another quantity.)"""
    s1, s2 = claim.settings
    ya, paired_a = _contrast(_scores(rows, claim, claim.method_a, s1), _scores(rows, claim, claim.method_a, s2))
    yb, paired_b = _contrast(_scores(rows, claim, claim.method_b, s1), _scores(rows, claim, claim.method_b, s2))
    unpaired = [m for m, p in ((claim.method_a, paired_a), (claim.method_b, paired_b)) if not p]
    note = (f"difference of differences ({s2} − {s1}) per sequence" +
            (f"; seeds of {', '.join(unpaired)} differ between the settings: averaged over seeds first"
             if unpaired else "; seed-paired across the settings"))
    return _interval(claim, ya, yb, claim.method_b, note)


def _best_of(claim: Claim, rows: pd.DataFrame, pooled: tuple[float, int] | None = None) -> Evaluation:
    a = _scores(rows, claim, claim.method_a, claim.setting)
    measured = {c: s for c in claim.comparators if not (s := _scores(rows, claim, c, claim.setting)).empty}
    if a.empty or not measured:
        who = claim.method_a if a.empty else "any comparator"
        return Evaluation(None, ", ".join(claim.comparators), NOT_MEASURED, f"no sequence-level rows of {who}")
    shared = set(a["sequence"])
    means = {c: float(s[s["sequence"].isin(shared)].groupby("sequence")["value"].mean().mean())
             for c, s in measured.items()}
    best = max((c for c in means if not math.isnan(means[c])), key=lambda c: means[c], default=None)
    if best is None:
        return Evaluation(None, ", ".join(measured), NOT_MEASURED, "no comparator shares a sequence with A")
    left = [c for c in claim.comparators if c not in measured]
    note = (f"comparator = best measured of {', '.join(measured)} at {claim.setting} (mean score)" +
            (f"; not measured: {', '.join(left)}" if left else ""))
    return _interval(claim, a, measured[best], best, note, pooled=pooled)


def _fig2_rows(rows: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    sel = rows[(rows["method"] == claim.method_a) & (rows["metric"] == claim.metric)
               & (rows["setting"].astype(str) == claim.setting)]
    if "against" in sel.columns:
        sel = sel[sel["against"] == claim.method_b]
    for column, wanted in FIG2_FILTERS.items():
        if column in sel.columns:
            sel = sel[sel[column] == wanted]
    return sel


def _fig2_gap(claim: Claim, rows: pd.DataFrame, pooled: tuple[float, int] | None = None) -> Evaluation:
    """One-sample t over the per-sequence gap rows (learned − x265 at matched bpp, against the clean clip)."""
    sel = _fig2_rows(rows, claim)
    levels = sel["level"] if "level" in sel.columns else pd.Series("sequence", index=sel.index)
    per_seq = sel[levels == "sequence"]
    if per_seq.empty:
        ds = sel[levels == "dataset"]
        value = float(ds["value"].iloc[0]) if len(ds) else math.nan
        return Evaluation(None, claim.method_b, NOT_RESOLVED,
                          "no per-sequence gap rows (level=sequence); only the dataset-level gap is stored, "
                          "so no interval", value)
    gaps = _scores(per_seq, claim, claim.method_a, claim.setting)
    zeros = pd.DataFrame({"seed": 0, "sequence": gaps["sequence"].unique(), "value": 0.0})
    found = difference_interval(gaps, zeros)
    method = (f"one-sample t over per-sequence gaps (n_q={found.n_sequences}, seeds={found.n_seeds_a}): "
              "Δ = mean_q(mean_s gap); SE² = s²_d/n_q + v_A/n_A (seed term only with several seeds); "
              "95% t-interval, Welch–Satterthwaite df")
    return Evaluation(dataclasses.replace(found, method=method, n_seeds_b=0), claim.method_b)


EVALUATORS: dict[str, Callable[[Claim, pd.DataFrame, tuple[float, int] | None], Evaluation]] = {
    "greater": _greater,
    "gap_grows": _gap_grows,
    "best_of": _best_of,
    "fig2_gap": _fig2_gap,
}


def _usable(measured: pd.DataFrame) -> pd.DataFrame:
    """The rows a claim can read (an empty frame when the table lacks a needed column)."""
    needed = ["method", "metric", "setting", "sequence", "value"]
    if not set(needed) <= set(measured.columns):
        return pd.DataFrame(columns=[*needed, "level"])
    return measured


def _sequence_rows(measured: pd.DataFrame) -> pd.DataFrame:
    """The ``level == "sequence"`` rows (all rows when the table has no ``level`` column)."""
    rows = _usable(measured)
    return rows[rows["level"] == "sequence"] if "level" in rows.columns else rows


def pooled_seed_variance(measured: dict[str, pd.DataFrame], *, metric: str, setting: str
                         ) -> tuple[float, int] | None:
    """``(variance, df)``: the between-seed variance of the sequence-averaged score, pooled (df-weighted)
    over every method with two or more seeds at ``setting`` in any table; a model that appears in several
    tables (M_c is Table 5's and Table 6's) counts once. ``None`` when no method has two seeds there."""
    seen: set[tuple[float, ...]] = set()
    num, dof = 0.0, 0
    for frame in measured.values():
        rows = _sequence_rows(frame)
        if "seed" not in rows.columns or rows.empty:
            continue
        rows = rows[(rows["metric"] == metric) & (rows["setting"].astype(str) == setting)]
        for _, g in rows.groupby(["method", "dataset"] if "dataset" in rows.columns else ["method"]):
            means = g.groupby("seed")["value"].mean()
            key = tuple(round(float(v), 9) for v in means.sort_index())
            if len(means) < 2 or key in seen:
                continue
            seen.add(key)
            num += float(means.var(ddof=1)) * (len(means) - 1)
            dof += len(means) - 1
    return (num / dof, dof) if dof else None


def evaluate_claim(claim: Claim, measured: pd.DataFrame | None, reported: pd.DataFrame, *,
                   profile: str, pooled: tuple[float, int] | None = None) -> dict[str, Any]:
    """One output row (the columns of :data:`COLUMNS`) for ``claim`` on its table's ``measured.csv`` rows."""
    row: dict[str, Any] = {"claim_id": claim.id, "table": claim.table, "statement": claim.statement,
                           "metric": claim.metric, "setting": claim.setting_label, "method_a": claim.method_a,
                           "method_b": claim.method_b or ", ".join(claim.comparators),
                           "paper_difference": paper_difference(claim, reported), "profile": profile}
    empty = {k: math.nan for k in ("measured_difference", "ci_low", "ci_high", "se", "df")}
    counts = {"n_seeds_a": 0, "n_seeds_b": 0, "n_sequences": 0}
    if measured is None:
        return {**row, **empty, **counts, "interval_method": f"no measured.csv of {claim.table}",
                "verdict": NOT_MEASURED}
    rows = _usable(measured) if claim.kind == "fig2_gap" else _sequence_rows(measured)
    found = EVALUATORS[claim.kind](claim, rows, pooled)
    row["method_b"] = found.method_b
    iv = found.interval
    if iv is None:
        return {**row, **empty, **counts, "measured_difference": found.difference,
                "interval_method": found.note, "verdict": found.status or NOT_MEASURED}
    status = found.status or (NOT_RESOLVED if math.isnan(iv.low) else verdict(iv.low, iv.high, profile=profile))
    return {**row, "measured_difference": iv.difference, "ci_low": iv.low, "ci_high": iv.high, "se": iv.se,
            "df": iv.df, "n_seeds_a": iv.n_seeds_a, "n_seeds_b": iv.n_seeds_b, "n_sequences": iv.n_sequences,
            "interval_method": "; ".join(p for p in (found.note, iv.method) if p), "verdict": status}


def evaluate_claims(claims: list[Claim], measured: dict[str, pd.DataFrame], reported: pd.DataFrame, *,
                    profile: str) -> pd.DataFrame:
    """One row per claim (columns :data:`COLUMNS`). ``measured`` maps a table id (``table5``, ``fig2``) to that
    table's ``measured.csv`` (one results version, of ``profile``); a missing table → "not measured"."""
    out = []
    for c in claims:
        pooled = None if c.kind in ("gap_grows", "fig2_gap") else pooled_seed_variance(
            measured, metric=c.metric, setting=c.setting)
        out.append(evaluate_claim(c, measured.get(c.table), reported, profile=profile, pooled=pooled))
    return pd.DataFrame(out, columns=COLUMNS)
