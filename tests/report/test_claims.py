"""The claims registry (workbench/report/claims_ncfl_cvpr2022.yaml) and its verdicts: the interval in closed
form, its coverage on simulated seeds × sequences, the verdict rule, the paper's differences computed from
the reported CSV, bad registry entries, and an end-to-end evaluation of measured.csv-shaped rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.errors import ConfigError
from workbench.report.claims import (
    COLUMNS,
    Claim,
    difference_interval,
    evaluate_claims,
    load_claims,
    paper_difference,
    registry_path,
    verdict,
)
from workbench.store.reported import load_reported


def _frame(values: list[list[float]], sequences: list[str] | None = None) -> pd.DataFrame:
    """(seeds × sequences) numbers → ``seed, sequence, value`` rows."""
    sequences = sequences or [f"q{j}" for j in range(len(values[0]))]
    return pd.DataFrame([{"seed": s, "sequence": q, "value": v}
                         for s, row in enumerate(values) for q, v in zip(sequences, row)])


# --- the interval ------------------------------------------------------------------------------------------


def test_closed_form_one_seed_four_sequences() -> None:
    a = _frame([[30.0, 31.0, 29.5, 32.0]])
    b = _frame([[29.8, 30.5, 29.6, 31.4]])
    iv = difference_interval(a, b)
    # d = (0.2, 0.5, -0.1, 0.6): mean 0.3, s²_d = (0.01 + 0.04 + 0.16 + 0.09) / 3 = 0.1, SE = sqrt(0.1 / 4)
    se = math.sqrt(0.1 / 4)
    t = 3.182446305284263  # t_{0.975, 3}
    assert iv.difference == pytest.approx(0.3)
    assert iv.se == pytest.approx(se)
    assert iv.df == pytest.approx(3.0)
    assert (iv.low, iv.high) == pytest.approx((0.3 - t * se, 0.3 + t * se))
    assert (iv.n_seeds_a, iv.n_seeds_b, iv.n_sequences) == (1, 1, 4)
    assert "v_A dropped" in iv.method and "v_B dropped" in iv.method and "SE² = s²_d/n_q;" in iv.method


def test_closed_form_with_seeds_uses_welch_satterthwaite() -> None:
    a = _frame([[30.0, 31.0, 29.5], [30.6, 31.4, 30.2]])  # sequence means of the seeds: 30.1667, 30.7333
    b = _frame([[29.9, 30.8, 29.4], [29.5, 30.6, 29.3], [29.7, 30.4, 29.0]])
    iv = difference_interval(a, b, level=0.9)
    ma, mb = np.array([[30.0, 31.0, 29.5], [30.6, 31.4, 30.2]]), np.array(
        [[29.9, 30.8, 29.4], [29.5, 30.6, 29.3], [29.7, 30.4, 29.0]])
    d = ma.mean(0) - mb.mean(0)
    k = [d.var(ddof=1) / 3, ma.mean(1).var(ddof=1) / 2, mb.mean(1).var(ddof=1) / 3]
    nu = [2, 1, 2]
    se2 = sum(k)
    df = se2 ** 2 / sum(ki ** 2 / n for ki, n in zip(k, nu))
    half = stats.t.ppf(0.95, df) * math.sqrt(se2)
    assert iv.difference == pytest.approx(d.mean())
    assert iv.se == pytest.approx(math.sqrt(se2)) and iv.df == pytest.approx(df)
    assert (iv.low, iv.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert (iv.n_seeds_a, iv.n_seeds_b) == (2, 3) and "dropped" not in iv.method


def test_only_shared_complete_sequences_are_used() -> None:
    a = _frame([[1.0, 2.0, 3.0]], ["x", "y", "z"])
    b = _frame([[0.0, 1.0]], ["y", "z"])
    assert difference_interval(a, b).n_sequences == 2
    with pytest.raises(ValueError, match="no sequence in common"):
        difference_interval(_frame([[1.0]], ["x"]), _frame([[1.0]], ["y"]))


def _scores(rng: np.random.Generator, mu: float, content: np.ndarray, n_seeds: int, sd_seed: float) -> np.ndarray:
    """(seeds × sequences) draws of μ + c_q + u_s + i_q + e_{s,q} (content c_q given: shared by A and B)."""
    n_q = len(content)
    return (mu + content + rng.normal(0.0, sd_seed, (n_seeds, 1)) + rng.normal(0.0, 0.1, n_q)
            + rng.normal(0.0, 0.05, (n_seeds, n_q)))


def _coverage(n_a: int, n_b: int, sd_seed: float, *, draws: int = 2000, seed: int = 20220619) -> float:
    """Share of draws whose interval covers μ_A − μ_B (n_q = 6 sequences: same clips, same test noise)."""
    rng = np.random.default_rng(seed)
    mu_a, mu_b = 30.0, 29.7
    hits = 0
    for _ in range(draws):
        content = rng.normal(0.0, 2.0, 6)
        iv = difference_interval(_scores(rng, mu_a, content, n_a, sd_seed), _scores(rng, mu_b, content, n_b, sd_seed))
        hits += iv.low <= mu_a - mu_b <= iv.high
    return hits / draws


def test_coverage_three_seeds_each() -> None:
    assert 0.93 <= _coverage(3, 3, 0.15) <= 0.99


def test_coverage_one_seed_each_without_seed_effect() -> None:
    assert 0.93 <= _coverage(1, 1, 0.0, seed=7) <= 0.97


# --- verdicts ----------------------------------------------------------------------------------------------


def test_verdict_logic() -> None:
    assert verdict(0.1, 0.4, profile="mini") == "holds at mini scale"
    assert verdict(0.1, 0.4, profile="full") == "holds at full scale"
    assert verdict(-0.4, -0.1) == "reversed"
    assert verdict(-0.1, 0.2) == "not resolved"
    assert verdict(0.0, 0.2) == "not resolved"
    assert verdict(None, None) == "not measured"
    assert verdict(math.nan, math.nan) == "not measured"
    assert verdict(-0.4, -0.1, -1, profile="mini") == "holds at mini scale"
    assert verdict(0.1, 0.4, -1) == "reversed"


# --- the registry ------------------------------------------------------------------------------------------


def test_registry_loads_and_every_paper_difference_comes_from_the_reported_csv() -> None:
    claims = load_claims()
    by_id = {c.id: c for c in claims}
    assert len(by_id) == len(claims) >= 19
    reported = load_reported()
    for c in claims:
        diff = paper_difference(c, reported)
        if c.kind == "fig2_gap":
            assert diff is None  # Fig. 2 is a plot: no reported number
        else:
            assert diff is not None and diff > 0, c.id  # every table claim holds in the paper's numbers
    assert paper_difference(by_id["table5-md-over-mc"], reported) == pytest.approx(30.45 - 30.29)
    assert paper_difference(by_id["table6-noq-over-fixedq"], reported) == pytest.approx(29.98 - 29.86)
    assert paper_difference(by_id["table8-ncfl-bi-over-uni"], reported) == pytest.approx(31.21 - 30.45)
    gap = by_id["table1-gap-grows-sigma40-to-50"]
    assert paper_difference(gap, reported) == pytest.approx((30.45 - 30.32) - (31.39 - 31.28))
    # σ = 10: the best reported other learned method is BasicVSR++ (0.9682)
    assert paper_difference(by_id["table1-ssim-best-sigma10"], reported) == pytest.approx(0.9684 - 0.9682)


def test_registry_is_package_data() -> None:
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert "report/claims_ncfl_cvpr2022.yaml" in text
    assert registry_path().is_file()


GOOD = """claims:
  - id: t5
    table: table5
    statement: "M_d beats M_c"
    kind: greater
    metric: psnr_db
    setting: sigma=50
    method_a: ncfl-md
    method_b: ncfl-mc
"""


@pytest.mark.parametrize("old, new, key", [
    ("kind: greater", "kind: smaller", "kind"),
    ("method_b: ncfl-mc", "methd_b: ncfl-mc", "methd_b"),
    ("    setting: sigma=50\n", "", "setting"),
    ("metric: psnr_db", "metric: [psnr_db]", "metric"),
    ("kind: greater", "kind: gap_grows", "settings"),
])
def test_bad_registry_entry_names_the_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_claims(path)
    message = str(err.value)
    assert str(path) in message and key in message and "claims[0]" in message and "\n" not in message


def test_duplicate_id_and_missing_list(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(GOOD + GOOD.split("\n", 1)[1])
    with pytest.raises(ConfigError, match=r"claims\[1\]\.id: duplicate id 't5'"):
        load_claims(path)
    path.write_text("claim: []\n")
    with pytest.raises(ConfigError, match="claims"):
        load_claims(path)
    path.write_text(GOOD)
    assert load_claims(path)[0] == Claim(id="t5", table="table5", statement="M_d beats M_c", kind="greater",
                                         metric="psnr_db", setting="sigma=50", method_a="ncfl-md",
                                         method_b="ncfl-mc")


# --- end to end --------------------------------------------------------------------------------------------


def _measured(table: str, offsets: dict[str, float], *, settings: tuple[str, ...] = ("sigma=50",),
              metric: str = "psnr_db", n_seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    """measured.csv-shaped rows: per (method, seed, sequence) one sequence row, plus dataset rows to ignore.
    A method scores ``offset · σ/50`` above the others; a seed's model keeps its effect at every σ."""
    rng = np.random.default_rng(seed)
    sequences = [f"clip{j}" for j in range(6)]
    content = dict(zip(sequences, rng.normal(0.0, 1.5, len(sequences))))
    trained = {(m, s): rng.normal(0.0, 0.03) for m in offsets for s in range(n_seeds)}  # one model per seed
    rows = []
    for setting in settings:
        sigma = int(setting.split("=")[1])
        for method, offset in offsets.items():
            for s in range(n_seeds):
                values = [40.0 - sigma / 5 + offset * sigma / 50 + content[q] + trained[method, s]
                          + rng.normal(0.0, 0.02)
                          for q in sequences]
                rows += [{"table": table, "profile": "mini", "cell": method, "method": method, "seed": s,
                          "level": "sequence", "dataset": "mini-test", "sequence": q, "setting": setting,
                          "metric": metric, "value": v, "result_kind": "mini"} for q, v in zip(sequences, values)]
                rows.append({"table": table, "profile": "mini", "cell": method, "method": method, "seed": s,
                             "level": "dataset", "dataset": "mini-test", "sequence": "", "setting": setting,
                             "metric": metric, "value": 99.0, "result_kind": "mini"})
    return pd.DataFrame(rows)


def test_evaluate_claims_end_to_end() -> None:
    claims = load_claims()
    table5 = _measured("table5", {"ncfl-ma": 0.5, "ncfl-mb": 0.0, "ncfl-mc": 0.0, "ncfl-md": 0.6})
    table1 = pd.concat([
        _measured("table1", {"ncfl-uni": 0.5, "basicvsrpp-uni": 0.0, "edvr": -0.1, "fastdvdnet": -0.3},
                  settings=("sigma=40", "sigma=50"), seed=1),
        _measured("table1", {"ncfl-uni": 0.3, "basicvsrpp-uni": 0.0, "basicvsr-uni": 0.1},
                  settings=("sigma=50",), metric="ssim", n_seeds=1, seed=2),
    ])
    fig2 = pd.DataFrame([{"table": "fig2", "level": "sequence", "method": "learned-hyperprior", "sequence": q,
                          "setting": "sigma=20", "metric": "psnr_gap_db_at_matched_bpp", "reference": "clean",
                          "rate_point": "overlap-mean", "against": "x265", "value": v}
                         for q, v in (("a", 0.8), ("b", 1.1), ("c", 0.9), ("d", 1.3))])
    out = evaluate_claims(claims, {"table5": table5, "table1": table1, "fig2": fig2}, load_reported(),
                          profile="mini")
    assert list(out.columns) == COLUMNS and len(out) == len(claims)
    row = out.set_index("claim_id")
    assert row.loc["table5-md-over-mc", "verdict"] == "holds at mini scale"
    assert row.loc["table5-md-over-mc", "paper_difference"] == pytest.approx(0.16)
    assert row.loc["table5-md-over-mc", "measured_difference"] == pytest.approx(0.6, abs=0.1)
    assert (row.loc["table5-md-over-mc", ["n_seeds_a", "n_seeds_b", "n_sequences"]] == [3, 3, 6]).all()
    assert row.loc["table5-mb-over-ma", "verdict"] == "reversed"
    assert row.loc["table5-mc-over-mb", "verdict"] == "not resolved"
    assert row.loc["table6-adapq-over-noq", "verdict"] == "not measured"  # no table6 given
    assert math.isnan(row.loc["table6-adapq-over-noq", "ci_low"])
    assert row.loc["table1-ncfl-over-basicvsrpp-sigma40", "verdict"] == "holds at mini scale"
    # the gap grows by construction: 0.5 · (50 − 40) / 50 = 0.1 dB
    gap = row.loc["table1-gap-grows-sigma40-to-50"]
    assert gap["setting"] == "sigma=50 minus sigma=40" and gap["verdict"] == "holds at mini scale"
    assert gap["measured_difference"] == pytest.approx(0.1, abs=0.03)
    assert "seed-paired" in gap["interval_method"]
    best = row.loc["table1-ssim-best-sigma50"]
    assert best["method_b"] == "basicvsr-uni"  # the best measured comparator (fastdvdnet, edvr not measured)
    assert "not measured: fastdvdnet, edvr" in best["interval_method"] and "v_A dropped" in best["interval_method"]
    assert row.loc["table1-ssim-best-sigma10", "verdict"] == "not measured"  # no SSIM rows at σ = 10
    f2 = row.loc["fig2-learned-closer-to-clean"]
    assert f2["verdict"] == "holds at mini scale" and f2["measured_difference"] == pytest.approx(1.025)
    assert f2["n_sequences"] == 4 and f2["df"] == pytest.approx(3.0)


def test_fig2_with_only_the_dataset_gap_is_not_resolved() -> None:
    claim = next(c for c in load_claims() if c.kind == "fig2_gap")
    fig2 = pd.DataFrame([{"table": "fig2", "level": "dataset", "method": "learned-hyperprior", "sequence": None,
                          "setting": "sigma=20", "metric": "psnr_gap_db_at_matched_bpp", "reference": "clean",
                          "rate_point": "overlap-mean", "against": "x265", "value": -4.5}])
    out = evaluate_claims([claim], {"fig2": fig2}, load_reported(), profile="smoke").iloc[0]
    assert out["verdict"] == "not resolved" and out["measured_difference"] == pytest.approx(-4.5)
    assert math.isnan(out["ci_low"]) and "per-sequence" in out["interval_method"]
    empty = evaluate_claims([claim], {"fig2": fig2.iloc[0:0]}, load_reported(), profile="smoke").iloc[0]
    assert empty["verdict"] == "not resolved"


def test_a_one_seed_claim_borrows_the_pooled_seed_spread() -> None:
    """Table 7's models have one seed; Table 5's have three: their between-seed variance widens Table 7's
    interval (and the method text says where it came from)."""
    from workbench.report.claims import evaluate_claims, load_claims, pooled_seed_variance

    rows = []
    for table, method, seeds, base in (("table5", "ncfl-ma", 3, 20.0), ("table5", "ncfl-mb", 3, 20.5),
                                       ("table7", "ncfl-m1", 1, 21.0), ("table7", "ncfl-m2", 1, 21.3)):
        for s in range(seeds):
            for k, q in enumerate("abcd"):
                rows.append({"table": table, "method": method, "dataset": "embedded-mini-test", "seed": s,
                             "level": "sequence", "sequence": q, "setting": "sigma=50", "metric": "psnr_db",
                             "value": base + 0.1 * k + (0.2 if s == 1 else 0.0) + (0.01 * k * (method == "ncfl-m2"))})
    frame = pd.DataFrame(rows)
    measured = {t: frame[frame["table"] == t] for t in ("table5", "table7")}
    v, df = pooled_seed_variance(measured, metric="psnr_db", setting="sigma=50")
    # per model seed means m, m+0.2, m: variance 0.04/3 each; two models → df 4
    assert df == 4 and v == pytest.approx(0.04 / 3)
    out = evaluate_claims(load_claims(), measured, pd.DataFrame(columns=["table", "method", "dataset", "setting",
                                                                         "metric", "value"]), profile="mini")
    t7 = out[out["claim_id"] == "table7-m2-over-m1"].iloc[0]
    assert "pooled between-seed variance" in t7["interval_method"]
    # SE² = s²_d/4 + 2·v_pool: the seed terms dominate here
    d = np.array([0.3 + 0.01 * k for k in range(4)])
    se = math.sqrt(d.var(ddof=1) / 4 + 2 * v)
    assert t7["se"] == pytest.approx(se)
