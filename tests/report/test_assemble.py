"""`workbench report`: a report version assembled from the newest published versions of a profile, with
tables measured beside reported, one verdict per claim, the zoo's curves, an executed notebook and HTML;
the versions it reads are never modified."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench.errors import ConfigError
from workbench.report.assemble import build_report, table_rows
from workbench.store import reported, versions

SEQS = ["a", "b", "c", "d"]


def _measured(table: str, methods: dict[str, float], seeds: int = 1, setting: str = "sigma=50") -> pd.DataFrame:
    """Sequence rows with PSNR ``base + per-sequence offset``, and the dataset rows averaging them."""
    rows = []
    for method, base in methods.items():
        for seed in range(seeds):
            vals = [base + 0.1 * k + 0.01 * seed for k in range(len(SEQS))]
            for q, v in zip(SEQS, vals, strict=True):
                rows.append({"table": table, "profile": "mini", "cell": f"{method}-s{seed}", "method": method,
                             "label": method, "dataset": "embedded-mini-test", "seed": seed, "level": "sequence",
                             "sequence": q, "setting": setting, "metric": "psnr_db", "value": v,
                             "result_kind": "mini evidence"})
            rows.append({"table": table, "profile": "mini", "cell": f"{method}-s{seed}", "method": method,
                         "label": method, "dataset": "embedded-mini-test", "seed": seed, "level": "dataset",
                         "sequence": "", "setting": setting, "metric": "psnr_db", "value": float(np.mean(vals)),
                         "result_kind": "mini evidence"})
    return pd.DataFrame(rows)


def _publish(root, table: str, measured: pd.DataFrame):  # noqa: ANN001, ANN202
    staging = versions.new_staging(table, "mini", root)
    measured.to_csv(staging / "measured.csv", index=False)
    (staging / "manifest.json").write_text(json.dumps(
        {"table": table, "profile": "mini", "result_kind": "mini evidence",
         "dataset_map": {"embedded-mini-test": "set8"}}))
    return versions.publish(staging, table, "mini", created_utc="2026-12-01T00:00:00Z", git_commit="c" * 40,
                            root=root)


def _zoo(root) -> None:  # noqa: ANN001
    entry = root / "zoo" / "mini" / "ncfl-0000-s0"
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text(json.dumps(
        {"entry": entry.name, "model": "ncfl", "seed": 0, "model_args": {}, "steps": 3, "wall_s": 12.5,
         "last_log": {"loss": "0.01", "l2": "0.01"}}))
    (entry / "loss.csv").write_text("step,loss,l2\n1,0.1,0.1\n2,0.05,0.05\n3,0.01,0.01\n")


def test_report_assembles_tables_verdicts_zoo_and_html(tmp_path) -> None:  # noqa: ANN001
    root = tmp_path / "results"
    root.mkdir()
    t5 = _publish(root, "table5", _measured("table5", {"ncfl-ma": 20.0, "ncfl-mb": 20.5, "ncfl-mc": 21.0,
                                                       "ncfl-md": 20.0}, seeds=3))
    before = {p.name: p.read_bytes() for p in t5.iterdir() if p.is_file()}
    _zoo(root)
    out = build_report("mini", root=root)
    assert out == root / "report" / "mini" / "v0001"
    for name in ("tables.csv", "verdicts.csv", "zoo.csv", "zoo_curves.csv", "sources.csv", "manifest.json",
                 "report.ipynb", "report.html", "figures/training_curves.png", "figures/training_curves.pdf"):
        assert (out / name).is_file(), name
    verdicts = pd.read_csv(out / "verdicts.csv").set_index("claim_id")
    t5v = verdicts[verdicts["table"] == "table5"]
    assert len(t5v) == 3
    by_pair = {(r.method_a, r.method_b): r for r in t5v.itertuples()}
    # M_b − M_a = 0.5 dB everywhere (seeds differ by 0.01): holds; M_d − M_c = −1 dB: reversed
    assert by_pair[("ncfl-mb", "ncfl-ma")].verdict == "holds at mini scale"
    assert by_pair[("ncfl-md", "ncfl-mc")].verdict == "reversed"
    assert by_pair[("ncfl-mb", "ncfl-ma")].measured_difference == pytest.approx(0.5)
    assert by_pair[("ncfl-md", "ncfl-mc")].paper_difference == pytest.approx(30.45 - 30.29)
    assert set(verdicts.loc[verdicts["table"] == "table8", "verdict"]) == {"not measured"}
    tables = pd.read_csv(out / "tables.csv")
    md = tables[tables["method"] == "ncfl-md"].iloc[0]
    assert md["n_seeds"] == 3 and md["reported"] == pytest.approx(30.45)
    assert "verdict" in (out / "report.html").read_text()
    assert {p.name: p.read_bytes() for p in t5.iterdir() if p.is_file()} == before  # read, never written
    sources = pd.read_csv(out / "sources.csv")
    assert list(sources["spec"]) == ["table5"] and list(sources["version"]) == ["v0001"]


def test_gain_over_noisy_is_measured_minus_the_noisy_row() -> None:
    m = _measured("table1", {"noisy-input": 14.0, "ncfl-uni": 24.0})
    rows = table_rows(m, reported.reported_for(["table1"]), {"embedded-mini-test": "set8"})
    ncfl = rows[rows["method"] == "ncfl-uni"].iloc[0]
    assert ncfl["gain_over_noisy"] == pytest.approx(10.0)


def test_a_profile_without_tables_is_refused_in_one_line(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "results").mkdir()
    with pytest.raises(ConfigError, match="no published version") as info:
        build_report("mini", root=tmp_path / "results")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "results" / "report" / "mini").exists() or not any(
        p.name.startswith("v") for p in (tmp_path / "results" / "report" / "mini").iterdir())


@pytest.mark.parametrize(("kind", "note"), [("pipeline check", " [pipeline check: smoke numbers, not a reproduction]"),
                                            ("mini evidence", " [mini evidence: small-scale CPU evidence, not a "
                                                              "reproduction]"),
                                            ("reproduction", "")])
def test_figures_say_what_kind_of_numbers_they_show(tmp_path, kind, note) -> None:  # noqa: ANN001
    from workbench.report.analysis_data import smoke_note

    (tmp_path / "manifest.json").write_text(json.dumps({"result_kind": kind}))
    assert smoke_note(tmp_path) == note


def test_a_claim_reads_only_its_own_column_of_a_table_with_several_datasets() -> None:
    from workbench.report.assemble import paper_datasets
    from workbench.report.claims import evaluate_claims, load_claims
    from workbench.store.reported import load_reported

    def rows(dataset: str, gain: float) -> list[dict]:
        return [{"table": "table3", "level": "sequence", "method": m, "sequence": q, "setting": "default",
                 "metric": "psnr_db", "dataset": dataset, "seed": 0, "value": 25.0 + (gain if m == "ncfl-uni" else 0)
                 + 0.1 * j}
                for m in ("ncfl-uni", "basicvsrpp-uni") for j, q in enumerate(("a", "b", "c", "d"))
]
    measured = pd.DataFrame(rows("embedded-mini-rain-test", 1.0) + rows("embedded-mini-rainstreak-test", -1.0))
    # NCFL gains 1 dB on the rain stand-in and loses 1 dB on the streak stand-in (±0.2 dB sequence noise)
    measured.loc[measured["sequence"].isin(["b", "d"]) & (measured["method"] == "ncfl-uni"), "value"] += 0.2
    mapped = paper_datasets(measured, {"embedded-mini-rain-test": "rainsynall100",
                                       "embedded-mini-rainstreak-test": "rainsyncomplex25"})
    claims = [c for c in load_claims() if c.table == "table3"]
    out = evaluate_claims(claims, {"table3": mapped}, load_reported(), profile="mini").set_index("claim_id")
    assert out.loc["table3-ncfl-over-basicvsrpp-all100", "measured_difference"] == pytest.approx(1.1)
    assert out.loc["table3-ncfl-over-basicvsrpp-complex25", "measured_difference"] == pytest.approx(-0.9)
    assert out.loc["table3-ncfl-over-basicvsrpp-all100", "n_sequences"] == 4
    unmapped = evaluate_claims(claims, {"table3": measured}, load_reported(), profile="mini")
    assert unmapped["measured_difference"].tolist() == pytest.approx([0.1, 0.1])  # the two columns mixed
