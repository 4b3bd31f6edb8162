"""``train.compile``: off by default and then absent from the config hash; on, the loop trains the network
through ``torch.compile`` (spied here: compiling takes minutes on this CPU, docs/scaling.md) while the
optimiser, checkpoint and weights stay the model's own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from workbench.config import config_hash, from_mapping, to_mapping
from workbench.data.catalog import open_dataset
from workbench.errors import ConfigError
from workbench.train import compiled
from workbench.train.loop import train
from workbench.train.spec import TrainSpec
from workbench.zoo import build_model


def test_the_key_is_omitted_at_its_default() -> None:
    assert "compile" not in to_mapping(TrainSpec())
    assert to_mapping(TrainSpec(compile=True))["compile"] is True
    assert config_hash(TrainSpec(compile=True)) != config_hash(TrainSpec())
    with pytest.raises(ConfigError, match="compile"):
        from_mapping(TrainSpec, {"compile": "yes please"}, where="run.yaml")


def test_maybe_compile_is_the_identity_when_off() -> None:
    m = nn.Linear(2, 2)
    assert compiled.maybe_compile(m, False) is m
    c = compiled.maybe_compile(m, True)  # lazy: nothing is compiled before the first call
    assert c is not m and list(c.parameters()) == list(m.parameters())


def test_the_loop_trains_through_the_compiled_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      one_torch_thread: None) -> None:
    wrapped: list[nn.Module] = []

    class Spy(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.calls = 0

        def forward(self, *args: object) -> object:
            self.calls += 1
            return self.inner(*args)

    def fake_compile(module: nn.Module) -> nn.Module:
        wrapped.append(Spy(module))
        return wrapped[-1]

    monkeypatch.setattr(compiled.torch, "compile", fake_compile)
    torch.manual_seed(0)
    model = build_model("fastdvdnet", {"base_channels": 4}, seed=0, where="test")
    spec = TrainSpec(steps=2, batch_size=1, patch_size=16, log_every=1, checkpoint_every=2, compile=True)
    r = train(model=model, spec=spec, train_sequences=open_dataset("embedded-train", max_frames=6),
              out_dir=tmp_path, progress=False)
    assert r.compiled and r.steps == 2 and len(wrapped) == 1
    assert wrapped[0].inner is model and wrapped[0].calls == 2
    assert set(torch.load(r.model_path, weights_only=True)) == set(model.state_dict())
