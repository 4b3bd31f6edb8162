"""Achieved GFLOP/s beside a GEMM peak measured between the model's own calls, the time-vs-FLOPs ratio of
two models, fvcore's count beside ours, and ``bench runtime`` printing them from one run."""

from __future__ import annotations

import pytest
import torch

from workbench.evaluate.complexity import efficiency
from workbench.evaluate.complexity.count import InputSpec, count_model
from workbench.evaluate.complexity.efficiency import EfficiencyResult, PeakProbe, measure_efficiency, time_vs_flops
from workbench.evaluate.complexity.fvcore_count import fvcore_count
from workbench.zoo import MODELS


def test_peak_probe_times_one_product_per_call() -> None:
    probe = PeakProbe(n=64)
    assert probe.take() != probe.take()  # nan: nothing timed since construction (the warm-up is not kept)
    probe()
    probe()
    first = probe.take()
    assert first > 0 and probe.take() != probe.take()


def test_peak_is_measured_between_the_models_timed_calls(monkeypatch) -> None:
    calls: list[str] = []
    original = PeakProbe.__call__

    def spy(self: PeakProbe) -> None:
        calls.append("gemm")
        original(self)

    monkeypatch.setattr(PeakProbe, "__call__", spy)
    factory = lambda: MODELS.get("fastdvdnet")(base_channels=8)  # noqa: E731
    (r,) = measure_efficiency({"fastdvdnet": factory}, resolution=(32, 32), warmup=0, repeats=3, probe_n=32)
    assert len(calls) == 1 + 1 + 3  # warm-up, one before the model, one after each of its timed calls
    macs = count_model("fastdvdnet", factory(), InputSpec(height=32, width=32), device="meta").macs_full
    assert r.gflops_full == pytest.approx(2 * macs / 1e9)
    assert r.achieved_gflops_per_s == pytest.approx(r.gflops_full / (r.ms_per_frame / 1e3))
    assert r.fraction_of_peak == pytest.approx(r.achieved_gflops_per_s / r.peak_gemm_gflops_per_s)
    assert r.runtime_resolution == (32, 32) and r.threads == torch.get_num_threads()


def _result(method: str, ms: float, full: float, paper: float) -> EfficiencyResult:
    return EfficiencyResult(method=method, ms_per_frame=ms, runtime_resolution=(8, 8), gflops_paper=paper,
                            gflops_full=full, achieved_gflops_per_s=full / ms * 1e3, peak_gemm_gflops_per_s=1.0,
                            fraction_of_peak=0.5, device="cpu", threads=1, rule="one forward")


def test_time_vs_flops() -> None:
    results = [_result("slow", 90.0, 40.0, 30.0), _result("fast", 10.0, 10.0, 10.0)]
    pair = time_vs_flops(results, "slow", "fast")
    assert pair == {"time_ratio": 9.0, "flops_ratio_full": 4.0, "flops_ratio_paper": 3.0, "time_over_flops": 2.25}
    assert time_vs_flops(results, "slow", "absent") is None


def test_fvcore_counts_like_thop_and_lists_what_it_cannot_see() -> None:
    spec = InputSpec(height=32, width=32)
    model = MODELS.get("edvr")(num_feat=8, num_extract_block=1, num_reconstruct_block=1, deformable_groups=2)
    f = fvcore_count("edvr", model, InputSpec(height=32, width=32, size_multiple=16))
    ours = count_model("edvr", model, InputSpec(height=32, width=32, size_multiple=16), device="meta")
    # the plain deformable convolution is one opaque node for fvcore, as the compiled op is: like the
    # paper's convention, fvcore leaves it out, so it agrees with the thop-style count, not the full one
    # (the native CPU kernel's Function when it builds, else the plain one)
    node = next(k for k in ("prim::PythonOp._NativeDeformConv", "prim::PythonOp._DeformConv")
                if f.unsupported_ops.get(k, 0) > 0)
    assert f.macs == pytest.approx(ours.macs_paper, rel=0.01) and f.macs < ours.macs_full
    assert f"{node}:" in f.unsupported_text()
    recurrent = fvcore_count("basicvsr-uni", MODELS.get("basicvsr-uni")(num_feat=8, num_block=1), spec)
    ours = count_model("basicvsr-uni", MODELS.get("basicvsr-uni")(num_feat=8, num_block=1), spec, device="meta")
    assert recurrent.per_frame_rule == "cost(T=5) - cost(T=4)"
    assert recurrent.macs == pytest.approx(ours.macs_paper, rel=0.01)


def test_bench_runtime_prints_efficiency_and_the_time_vs_flops_ratio(capsys, monkeypatch) -> None:
    from workbench.cli import main

    monkeypatch.setattr(efficiency, "PeakProbe", lambda **kw: PeakProbe(n=32))
    assert main(["bench", "runtime", "--models", "fastdvdnet,ncfl-uni,basicvsrpp-uni", "--resolution", "32x32",
                 "--warmup", "0", "--repeats", "1", "--deform-impl", "legacy"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "deformable convolution: legacy implementation"
    assert {"achieved_gflops_per_s", "peak_gemm_gflops_per_s", "fraction_of_peak"} <= set(out[1].split())
    assert out[-1].startswith("basicvsrpp-uni / ncfl-uni: time ") and "time ratio / FLOPs ratio" in out[-1]
