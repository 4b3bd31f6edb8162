"""The committed zoo serves every trained row of the mini profile: each has an entry whose config hash
matches what the spec resolves to today (so `make reproduce` trains nothing), and the zoo stays small."""

import json

from workbench.data import embedded
from workbench.paths import REPO_ROOT
from workbench.pipeline import zoo
from workbench.pipeline.spec import expand, known_specs, load_spec

ZOO = REPO_ROOT / "results" / "zoo" / "mini"
LIMIT_BYTES = 40 * 2**20


def _data_digest(dataset: str) -> str:
    files = embedded.committed_checksums("mini")[dataset]
    return zoo.data_digest({f"{dataset}/{k}": v for k, v in files.items() if k.endswith(".png")})


def test_every_trained_mini_row_has_a_matching_zoo_entry() -> None:
    problems = []
    mini = [s for s in known_specs() if "mini" in load_spec(s).profiles and load_spec(s).profiles["mini"].zoo]
    assert {"table1", "table5", "table6", "table7", "table8"} <= set(mini)
    for spec_id in mini:
        for name, _, p in expand(load_spec(spec_id), "mini"):
            if getattr(p, "train", None) is None or p.model == "noisy-input":
                continue
            entry = zoo.entry_name(p.model, p.model_args, p.seed)
            config = zoo.zoo_config(model=p.model, model_args=p.model_args, seed=p.seed, train=p.train,
                                    data=_data_digest(p.train.dataset))
            hit = zoo.find(ZOO, entry, config)
            if hit.status != "match":
                problems.append(f"{spec_id}/{name}: {entry} is {hit.status}")
    assert not problems, "\n".join(problems)


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
