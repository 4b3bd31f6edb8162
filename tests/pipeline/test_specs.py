"""Every pipeline spec resolves in both profiles; recipes are written once and shared as the paper compares.

- No spec carries a copied recipe block (``x-`` anchors): training keys come from ``pipelines/recipes.yaml``.
- Within a table and profile, every trained row has the *same* resolved training mapping: one optimiser,
  schedule, step count and data; rows differ only in the switch under test, which lives in the model
  (``model``/``model_args``), never in ``train``. The one exception is the training data of a table with
  several benchmarks (Table 3's two rain sets, Table 7's degradation columns): ``dataset``/``val_dataset``
  follow the benchmark, everything else is the one recipe. In the mini profile the AWGN rows weight their
  squared error by 1/σ (``l2_weighting: inverse-sigma``) and the paired rows, with no σ to weight by, name
  ``uniform`` beside the recipe: that key follows the degradation, checked apart.
- Across tables, rows that share a model (model, model_args, seed) and training data resolve to identical
  recipes, so the training cache (``runs/train/<model>-<key>``) trains them once.
- ``--set train.steps=N`` reaches every trained row, stages and milestones scale with it, and no row without
  training gains a training spec.
"""

from __future__ import annotations

import json

import pytest

from workbench.config import to_mapping
from workbench.errors import ConfigError
from workbench.paths import pipelines_dir
from workbench.pipeline.spec import expand, known_specs, load_recipes, load_spec

SPECS = known_specs()


TRAINED_KINDS = ("restoration", "paired", "raw-restoration")


def trained_rows(spec_id: str, profile: str, overrides: dict | None = None,
                 kinds: tuple[str, ...] = ("restoration",)) -> list[tuple[str, object]]:
    spec = load_spec(spec_id)
    return [(name, params) for name, kind, params in expand(spec, profile, overrides)
            if kind in kinds and params.train is not None]


#: training keys that follow the benchmark of a row (see the module docstring)
DATA_KEYS = ("dataset", "val_dataset")


def schedule_of(train: object, pretrain: object = None) -> str:
    """The resolved training mapping (and pretraining stage) without its data keys."""
    return json.dumps([{k: v for k, v in to_mapping(train).items() if k not in DATA_KEYS},
                       to_mapping(pretrain) if pretrain is not None else None], sort_keys=True)


def test_every_spec_resolves_in_every_profile() -> None:
    assert {"table1", "table3", "table4", "table5", "table6", "table7", "table8", "complexity", "fig2"} <= set(SPECS)
    for sid in SPECS:
        spec = load_spec(sid)
        assert {"smoke", "full"} <= set(spec.profiles), sid
        for profile in spec.profiles:
            assert expand(spec, profile), (sid, profile)


@pytest.mark.parametrize("spec_id", SPECS)
def test_no_copied_recipe_blocks(spec_id: str) -> None:
    text = (pipelines_dir() / f"{spec_id}.yaml").read_text()
    assert "\nx-" not in text and "&" not in text and "*" not in text.replace("**", ""), spec_id


@pytest.mark.parametrize("spec_id", [s for s in SPECS if s.startswith("table")])
@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_one_schedule_per_table(spec_id: str, profile: str) -> None:
    """One schedule per table and kind: the RGB rows (AWGN and paired deraining/dehazing) share the profile's
    recipe, the raw rows (Table 2, Table 7's RWD column) share ``raw-<profile>`` (and, in full, one
    ``pretrain`` stage); only the data keys may follow a row's benchmark, and rows on one dataset agree fully."""
    assert any(trained_rows(spec_id, profile, kinds=(k,)) for k in TRAINED_KINDS), (spec_id, profile)
    for group in (("restoration", "paired"), ("raw-restoration",)):
        rows = trained_rows(spec_id, profile, kinds=group)
        recipes = {schedule_of(p.train, getattr(p, "pretrain", None)) for _, p in rows}  # type: ignore[attr-defined]
        assert len(recipes) <= 1, f"{spec_id}/{profile}/{group}: rows differ in training keys: {sorted(recipes)}"
        by_data: dict[str, set[str]] = {}
        for _, p in rows:
            by_data.setdefault(p.train.dataset, set()).add(json.dumps(to_mapping(p.train), sort_keys=True))  # type: ignore[attr-defined]
        assert all(len(v) == 1 for v in by_data.values()), f"{spec_id}/{profile}: rows on one dataset differ"
        expected = profile if group[0] == "restoration" else f"raw-{profile}"
        assert all(p.train.recipe == expected for _, p in rows)  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec_id", [s for s in SPECS if s.startswith("table") and "mini" in load_spec(s).profiles])
def test_one_schedule_per_table_in_mini(spec_id: str) -> None:
    """The mini profile's rows share its recipes as in smoke and full (the seed rows of Tables 5 and 6 differ in
    their seed), except ``l2_weighting``: every AWGN row (restoration) weights by 1/σ, every paired
    (deraining, dehazing) row keeps the plain mean."""
    def without_weighting(p: object) -> str:
        return json.dumps({k: v for k, v in to_mapping(p.train).items()  # type: ignore[attr-defined]
                           if k not in DATA_KEYS + ("l2_weighting", "seed")}, sort_keys=True)

    rgb = trained_rows(spec_id, "mini", kinds=("restoration", "paired"))
    assert len({without_weighting(p) for _, p in rgb}) <= 1, spec_id
    assert all(p.train.recipe == "mini" for _, p in rgb)  # type: ignore[attr-defined]
    for kind, weighting in (("restoration", "inverse-sigma"), ("paired", "uniform")):
        rows = trained_rows(spec_id, "mini", kinds=(kind,))
        assert all(p.train.l2_weighting == weighting for _, p in rows), (spec_id, kind)  # type: ignore[attr-defined]
    raw = trained_rows(spec_id, "mini", kinds=("raw-restoration",))
    assert len({schedule_of(p.train, getattr(p, "pretrain", None)) for _, p in raw}) <= 1, spec_id
    assert all(p.train.recipe == "raw-mini" for _, p in raw)  # type: ignore[attr-defined]


@pytest.mark.parametrize("profile", ["smoke", "mini", "full"])
def test_rows_sharing_a_model_share_a_recipe(profile: str) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for sid in SPECS:
        if profile not in load_spec(sid).profiles:
            continue
        for name, p in trained_rows(sid, profile, kinds=TRAINED_KINDS):
            key = json.dumps({"model": p.model, "args": p.model_args, "seed": p.seed,  # type: ignore[attr-defined]
                              "data": p.train.dataset}, sort_keys=True)  # type: ignore[attr-defined]
            recipe = json.dumps(to_mapping(p.train), sort_keys=True)  # type: ignore[attr-defined]
            if key in seen:
                assert seen[key][1] == recipe, f"{sid}:{name} and {seen[key][0]} share a model, not a recipe"
            seen[key] = (f"{sid}:{name}", recipe)


def test_recipes_are_complete_and_valid() -> None:
    recipes = load_recipes()
    assert {"smoke", "full"} <= set(recipes)
    assert all("recipe" not in body for body in recipes.values())  # one level of reference
    assert recipes["full"]["steps"] == 300000 and recipes["full"]["motion"]["init"] == "data-root"
    # the SPyNet made here does not survive fine-tuning: the CPU recipe keeps it fixed for the whole run
    assert recipes["smoke"]["motion"] == {"init": "embedded-pretrained", "lr_mult": 0.125, "frozen_until": 1.0}


def test_set_train_steps_reaches_every_trained_row_and_scales_its_schedule() -> None:
    rows = trained_rows("table1", "smoke", {"train": {"steps": 100}})
    assert len(rows) == 5
    for _, p in rows:
        sched = p.train.schedule()  # type: ignore[attr-defined]
        assert p.train.steps == 100 and sched["lr_milestone_steps"] == [80]  # type: ignore[attr-defined]
        assert [end for end, _ in sched["aux_stage_ends"]] == [80, 100]
    untrained = [p for n, k, p in expand(load_spec("table1"), "smoke", {"train": {"steps": 100}})
                 if p.method == "noisy-input"]
    assert untrained[0].train is None


def test_an_override_that_breaks_a_range_is_one_error() -> None:
    with pytest.raises(ConfigError, match="steps: must be at least 1"):
        expand(load_spec("table1"), "smoke", {"train": {"steps": 0}})
    with pytest.raises(ConfigError, match="grad_clip"):
        expand(load_spec("table5"), "smoke", {"train": {"grad_clip": -1}})
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        expand(load_spec("table5"), "smoke", {"train": {"recipe": "nope"}})


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_paired_tables_train_on_their_benchmark_and_fill_table7s_columns(profile: str) -> None:
    """Every paired row trains on the training split of the set it is tested on, and Table 7 has a deraining
    and a dehazing row for each of M_1, M_2, M_3 (joined to RainSynAll100 and REVIDE)."""
    spec7 = load_spec("table7")
    dataset_map = spec7.profiles[profile].dataset_map
    columns: dict[str, set[str]] = {}
    for sid in ("table3", "table4", "table7"):
        for name, kind, p in expand(load_spec(sid), profile):
            if kind != "paired":
                continue
            if p.train is not None:
                test = p.evaluate.dataset
                assert p.train.dataset in (test.replace("-test", "-train"), test + "-train"), (sid, name)
                assert p.train.val_dataset == p.train.dataset, (sid, name)
            if sid == "table7":
                columns.setdefault(dataset_map.get(p.evaluate.dataset, p.evaluate.dataset), set()).add(p.method)
    assert columns == {"rainsynall100": {"ncfl-m1", "ncfl-m2", "ncfl-m3"}, "revide": {"ncfl-m1", "ncfl-m2", "ncfl-m3"}}
