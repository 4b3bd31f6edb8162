"""The inference flow memo of SPyNet: a hit is bit-identical to a recomputation, it never serves other
weights or inputs, and it stays out of training and autograd."""

import pytest
import torch

from workbench.models import spynet as sp


@pytest.fixture(autouse=True)
def _fresh_memo():
    sp.clear_flow_memo()
    yield
    sp.clear_flow_memo()


def _nets(seed: int = 0) -> tuple[sp.SPyNet, sp.SPyNet]:
    torch.manual_seed(seed)
    a = sp.SPyNet().eval()
    b = sp.SPyNet().eval()
    b.load_state_dict(a.state_dict())
    return a, b


def _frames(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, 32, 48, generator=g), torch.rand(1, 3, 32, 48, generator=g)


def test_a_second_network_with_the_same_weights_reuses_the_flow_exactly():
    a, b = _nets()
    ref, supp = _frames(1)
    with torch.no_grad():
        fa = a(ref, supp)
        fb = b(ref.clone(), supp.clone())  # equal values, other tensors
    assert sp.flow_memo_stats()["hits"] == 1 and sp.flow_memo_stats()["misses"] == 1
    with torch.no_grad():
        direct = a._flow(ref, supp)
    assert torch.equal(fa, fb) and torch.equal(fb, direct)
    fb.add_(1.0)  # a caller that modifies its flow in place does not change the memo
    with torch.no_grad():
        assert torch.equal(a(ref, supp), direct)


def test_other_inputs_or_changed_weights_miss():
    a, b = _nets()
    ref, supp = _frames(1)
    with torch.no_grad():
        a(ref, supp)
        a(supp, ref)  # the other direction
        ref2 = ref.clone()
        ref2[0, 0, 0, 0] += 1e-6
        a(ref2, supp)
        b.basic_module[0].basic_module[0].bias.data.add_(1e-3)  # in place: same storage, new version
        changed = b(ref, supp)
    assert sp.flow_memo_stats() == {**sp.flow_memo_stats(), "hits": 0, "misses": 4}
    with torch.no_grad():
        assert torch.equal(changed, b._flow(ref, supp))


def test_training_autograd_and_the_switch_bypass_the_memo(monkeypatch):
    a, _ = _nets()
    ref, supp = _frames(2)
    a(ref, supp)  # autograd on
    a.train()
    with torch.no_grad():
        a(ref, supp)
    a.eval()
    monkeypatch.setenv("WORKBENCH_FLOW_MEMO", "0")
    with torch.no_grad():
        a(ref, supp)
    assert sp.flow_memo_stats() == {"hits": 0, "misses": 0, "bytes": 0, "store_hits": 0}


def test_the_memo_keeps_to_its_byte_budget(monkeypatch):
    a, _ = _nets()
    one = 1 * 2 * 32 * 48 * 4
    monkeypatch.setattr(sp, "MEMO_BYTES", 2 * one)
    with torch.no_grad():
        for seed in range(4):
            a(*_frames(seed))
        assert sp.flow_memo_stats()["bytes"] == 2 * one
        a(*_frames(3))  # the newest is kept
        a(*_frames(0))  # the oldest is gone
    assert sp.flow_memo_stats()["hits"] == 1 and sp.flow_memo_stats()["misses"] == 5


def test_the_runtime_benchmark_computes_every_flow():
    from baselines.basicvsr import BasicVSRUni
    from workbench.evaluate.complexity.runtime import time_model

    time_model("basicvsr-uni", BasicVSRUni(num_feat=4, num_block=1), resolution=(32, 32), warmup=1, repeats=3,
               clip_frames=3)
    assert sp.flow_memo_stats()["hits"] == 0  # the repeated input would hit the memo every time
    with torch.no_grad():
        a, _ = _nets()
        a(*_frames(0))
        a(*_frames(0))
    assert sp.flow_memo_stats()["hits"] == 1  # and the memo is back on after it
