"""The committed zoo serves every trained row of the mini profile: each has an entry whose config hash
matches what the spec resolves to today (so `make reproduce` trains nothing), and the zoo stays small."""

import functools
import json
from pathlib import Path

from workbench.context import RunContext
from workbench.paths import REPO_ROOT
from workbench.pipeline import zoo
from workbench.pipeline.paired import as_restoration
from workbench.pipeline.raw_restoration import raw_stage
from workbench.pipeline.restoration import zoo_identity
from workbench.pipeline.runner import cell_inputs
from workbench.pipeline.spec import expand, known_specs, load_spec

ZOO = REPO_ROOT / "results" / "zoo" / "mini"
LIMIT_BYTES = 40 * 2**20


def _restoration_form(kind_id: str, p):
    """The training half of a cell as the restoration cell that trains it (paired and raw cells too)."""
    if kind_id == "paired":
        return as_restoration(p)
    if kind_id == "raw-restoration":
        return raw_stage(p, p.train)
    return p


@functools.cache
def _train_checksums(spec_id: str, cell_name: str) -> dict[str, str]:
    zoo.install_prior(ZOO)  # as a run does first: checking inputs then takes the zoo's prior, never trains one
    for name, kind_id, p in expand(load_spec(spec_id), "mini"):
        if name == cell_name:
            return cell_inputs(spec_id, "mini", name, kind_id, p, data_root=None, device="cpu")
    raise KeyError(cell_name)


def test_every_trained_mini_row_has_a_matching_zoo_entry() -> None:
    """Resolved the way a run resolves it (the cell's input checksums, then its zoo identity), for the
    AWGN, raw and paired cells of every mini spec: `make reproduce` trains nothing."""
    problems = []
    mini = [s for s in known_specs() if "mini" in load_spec(s).profiles and load_spec(s).profiles["mini"].zoo]
    assert {"table1", "table2", "table3", "table4", "table5", "table6", "table7", "table8"} <= set(mini)
    checked = set()
    for spec_id in mini:
        for name, kind_id, p in expand(load_spec(spec_id), "mini"):
            if getattr(p, "train", None) is None or p.model == "noisy-input":
                continue
            cell = _restoration_form(kind_id, p)
            ctx = RunContext(spec_id=spec_id, profile="mini", cell_name=name, work_dir=Path("."),
                             artifact_dir=Path("."), device="cpu", input_checksums=_train_checksums(spec_id, name),
                             zoo_dir=ZOO)
            entry, config = zoo_identity(cell, ctx)
            checked.add(entry)
            hit = zoo.find(ZOO, entry, config)
            if hit.status != "match":
                problems.append(f"{spec_id}/{name}: {entry} is {hit.status}")
    assert not problems, "\n".join(problems)
    assert {m["entry"] for m in zoo.entries(ZOO)} == checked  # no entry that no row uses


def test_every_entry_has_a_complete_manifest() -> None:
    manifests = zoo.entries(ZOO)
    assert manifests
    for m in manifests:
        for key in ("config_hash", "config", "code_commit", "train_data_sha256", "steps", "last_log", "wall_s",
                    "device", "torch"):
            assert m.get(key) not in (None, "", {}), f"{m['entry']}: {key}"
        assert (ZOO / m["entry"] / "loss.csv").is_file()


def test_the_zoo_stays_under_40_mb() -> None:
    size = sum(p.stat().st_size for p in ZOO.rglob("*") if p.is_file())
    assert size < LIMIT_BYTES, f"{size / 2**20:.1f} MiB"


def test_shared_files_are_named_by_their_sha256() -> None:
    import hashlib

    for m in zoo.entries(ZOO):
        shared = m["shared"].get("spynet")
        if shared:
            assert hashlib.sha256((ZOO / shared["file"]).read_bytes()).hexdigest() == shared["sha256"]
            report = json.loads((ZOO / shared["file"]).with_name("report.json").read_text())
            assert report["cache_key"] in shared["file"]


def test_the_zoo_holds_its_prior_under_the_current_codes_key() -> None:
    """Else every `make reproduce` on a fresh machine trains the prior first (~4 min of the 15-min budget)
    although every entry loads the zoo's own copy; `workbench zoo prior` re-files it after a source change."""
    assert zoo.holds_current_prior(ZOO), (
        f"{ZOO / zoo.SHARED}: no spynet-{zoo.prior_dir().name}; run `workbench zoo prior --profile mini`")


def test_the_fig2_mini_codec_has_a_matching_entry() -> None:
    """Fig. 2's learned codec is served from `codecs/` too (no codec trains in `make reproduce`), each rate
    point's weights there and loadable, and no codec entry that the cell does not use."""
    from workbench.config import config_hash
    from workbench.pipeline import codec_zoo

    (name, kind_id, p), = expand(load_spec("fig2"), "mini")
    assert load_spec("fig2").profiles["mini"].zoo
    ctx = RunContext(spec_id="fig2", profile="mini", cell_name=name, work_dir=Path("."), artifact_dir=Path("."),
                     device="cpu", input_checksums=cell_inputs("fig2", "mini", name, kind_id, p, data_root=None,
                                                               device="cpu"), zoo_dir=ZOO)
    entry, config = codec_zoo.identity(p, codec_zoo.train_inputs(p, ctx))
    manifests = codec_zoo.entries(ZOO)
    assert [m["entry"] for m in manifests] == [f"{codec_zoo.CODECS}/{entry}"]
    assert manifests[0]["config_hash"] == config_hash(config)
    assert codec_zoo.load(p, ZOO / codec_zoo.CODECS / entry).keys() == set(p.lambdas)
    for key in ("code_commit", "train_data_sha256", "steps", "wall_s", "device", "torch", "rate_points"):
        assert manifests[0].get(key) not in (None, "", {}), key
