"""Every pipeline spec resolves in both profiles; recipes are written once and shared as the paper compares.

- No spec carries a copied recipe block (``x-`` anchors): training keys come from ``pipelines/recipes.yaml``.
- Within a table and profile, every trained row has the *same* resolved training mapping: one optimiser,
  schedule, step count and data; rows differ only in the switch under test, which lives in the model
  (``model``/``model_args``), never in ``train``.
- Across tables, rows that share a model (model, model_args, seed) resolve to identical recipes, so the
  training cache (``runs/train/<model>-<key>``) trains them once.
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


TRAINED_KINDS = ("restoration", "raw-restoration")


def trained_rows(spec_id: str, profile: str, overrides: dict | None = None,
                 kinds: tuple[str, ...] = ("restoration",)) -> list[tuple[str, object]]:
    spec = load_spec(spec_id)
    return [(name, params) for name, kind, params in expand(spec, profile, overrides)
            if kind in kinds and params.train is not None]


def test_every_spec_resolves_in_every_profile() -> None:
    assert {"table1", "table5", "table6", "table7", "table8", "complexity", "fig2"} <= set(SPECS)
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
    """One schedule per table and kind: the RGB rows share the profile's recipe, the raw rows (Table 2,
    Table 7's RWD column) share ``raw-<profile>`` (and, in full, one ``pretrain`` stage)."""
    assert any(trained_rows(spec_id, profile, kinds=(k,)) for k in TRAINED_KINDS), (spec_id, profile)
    for kind in TRAINED_KINDS:
        rows = trained_rows(spec_id, profile, kinds=(kind,))
        recipes = {json.dumps([to_mapping(p.train), to_mapping(getattr(p, "pretrain", None))], sort_keys=True)
                   for _, p in rows}  # type: ignore[attr-defined]
        assert len(recipes) <= 1, f"{spec_id}/{profile}/{kind}: rows differ in training keys: {sorted(recipes)}"
        expected = profile if kind == "restoration" else f"raw-{profile}"
        assert all(p.train.recipe == expected for _, p in rows)  # type: ignore[attr-defined]


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_rows_sharing_a_model_share_a_recipe(profile: str) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for sid in SPECS:
        if profile not in load_spec(sid).profiles:
            continue
        for name, p in trained_rows(sid, profile, kinds=TRAINED_KINDS):
            key = json.dumps({"model": p.model, "args": p.model_args, "seed": p.seed}, sort_keys=True)  # type: ignore[attr-defined]
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
