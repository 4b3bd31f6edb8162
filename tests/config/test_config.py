"""Typed config loading: unknown keys, wrong types, overrides."""

from dataclasses import dataclass, field

import pytest

from workbench.config import apply_overrides, config_hash, from_mapping
from workbench.errors import ConfigError
from workbench.train.spec import TrainSpec


@dataclass
class Inner:
    a: int
    b: list[float] = field(default_factory=list)


@dataclass
class Outer:
    inner: Inner
    name: str = "x"
    opt: float | None = None


def test_unknown_key_names_the_key_and_file():
    with pytest.raises(ConfigError, match=r"run.yaml.inner: unknown key 'c'"):
        from_mapping(Outer, {"inner": {"a": 1, "c": 2}}, where="run.yaml")


def test_wrong_type_and_missing_key():
    with pytest.raises(ConfigError, match="expected an integer"):
        from_mapping(Outer, {"inner": {"a": "one"}})
    with pytest.raises(ConfigError, match="missing required key 'a'"):
        from_mapping(Outer, {"inner": {}})


def test_values_coerced_and_hash_stable():
    o = from_mapping(Outer, {"inner": {"a": 1, "b": [1, 2]}, "opt": 3})
    assert o.inner.b == [1.0, 2.0] and o.opt == 3.0
    assert config_hash(o) == config_hash(from_mapping(Outer, {"inner": {"a": 1, "b": [1.0, 2.0]}, "opt": 3.0}))


def test_overrides_parse_yaml_values_without_eval():
    data = apply_overrides({"train": {"steps": 1}}, ["train.steps=5", "train.lr=1e-4", "name=__import__('os')"])
    assert data["train"]["steps"] == 5 and data["train"]["lr"] == pytest.approx(1e-4)
    assert data["name"] == "__import__('os')"
    with pytest.raises(ConfigError):
        apply_overrides({}, ["novalue"])


def test_train_spec_rejects_typos():
    with pytest.raises(ConfigError, match="unknown key 'stpes'"):
        from_mapping(TrainSpec, {"stpes": 3})
