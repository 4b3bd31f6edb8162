"""Channels-last streaming inference: a model that declares it runs with NCHW-equal outputs, its weights get
their own format back afterwards, the deformable convolution keeps a channels-last input's format, and the
SPyNet memo keeps flows of the two layouts apart and shares them between processes through its store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.basicvsrpp import BasicVSRPlusPlusUni
from baselines.edvr import EDVR
from baselines.fastdvdnet import FastDVDNet
from workbench.evaluate.complexity.format_bench import time_formats
from workbench.evaluate.infer import inference_format, restore_stream
from workbench.models import spynet
from workbench.ops.deform_conv import modulated_deform_conv2d


def _frames(t: int = 5, h: int = 32, w: int = 48) -> np.ndarray:
    return np.random.default_rng(0).random((t, h, w, 3), dtype=np.float32)


def _stream(model, frames):  # noqa: ANN001, ANN202
    sigma = 30.0 if model.uses_noise_map else None
    return [y for _, y in restore_stream(model, lambda i: frames[i], len(frames), noise_sigma=sigma)]


@pytest.mark.parametrize("build", [lambda: FastDVDNet(base_channels=8),
                                   lambda: BasicVSRPlusPlusUni(num_feat=8, num_block=1, deformable_groups=2)],
                         ids=["fastdvdnet", "basicvsrpp"])
def test_channels_last_stream_equals_the_nchw_stream_and_gives_the_weights_back(build) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = build().eval()
    assert model.inference_memory_format == "channels_last"
    frames = _frames()
    cl = _stream(model, frames)
    assert all(p.is_contiguous() for p in model.parameters())  # their own format again
    model.inference_memory_format = "contiguous"
    plain = _stream(model, frames)
    assert max(float(np.abs(a - b).max()) for a, b in zip(cl, plain)) < 1e-4  # summation order only
    assert max(float(np.abs(a - f).max()) for a, f in zip(plain, frames)) > 1e-2  # the model does something


def test_the_weights_are_channels_last_inside_the_block_and_an_unknown_format_is_refused() -> None:
    model = FastDVDNet(base_channels=4)
    conv = next(p for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1)
    with inference_format(model, torch.device("cpu")):
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert conv.is_contiguous()
    model.inference_memory_format = "nhwc"
    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match="inference_memory_format='nhwc'"), inference_format(model, cpu):
        pass


def test_deformable_conv_of_a_channels_last_input_is_channels_last_and_equal() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 8, 12, 16, generator=g)
    offset = 2 * torch.randn(1, 2 * 2 * 9, 12, 16, generator=g)
    mask = torch.rand(1, 2 * 9, 12, 16, generator=g)
    weight = torch.randn(8, 8, 3, 3, generator=g)
    ref = modulated_deform_conv2d(x, offset, mask, weight, None, 1, 1, 1, 1, 2)
    out = modulated_deform_conv2d(x.contiguous(memory_format=torch.channels_last), offset, mask, weight, None,
                                  1, 1, 1, 1, 2)
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_the_flow_memo_does_not_serve_a_flow_of_the_other_layout() -> None:
    net = spynet.SPyNet().eval()
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    spynet.clear_flow_memo()
    before = spynet.flow_memo_stats()["misses"]
    with torch.no_grad():
        net(a, b)
        with inference_format(_Holder(net), torch.device("cpu")):
            net(a, b)  # channels-last weights: a miss, not the NCHW flow
        net(a, b)  # NCHW again: a hit
    stats = spynet.flow_memo_stats()
    assert stats["misses"] - before == 2 and stats["hits"] >= 1


class _Holder(torch.nn.Module):
    inference_memory_format = "channels_last"

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net


def test_edvr_split_offset_convolutions_equal_the_concatenated_ones() -> None:
    torch.manual_seed(0)
    model = EDVR(num_feat=8, num_extract_block=1, num_reconstruct_block=1, deformable_groups=2, feat_stride=1,
                 init="kaiming").eval()
    a, b = torch.rand(2, 8, 16, 16), torch.rand(2, 8, 16, 16)
    conv = model.pcd_align.offset_conv1["l1"]
    from baselines.edvr import _half_conv

    torch.testing.assert_close(_half_conv(conv, a, 0) + _half_conv(conv, b, 1), conv(torch.cat([a, b], 1)),
                               atol=1e-5, rtol=0)


def test_time_formats_reports_both_formats_and_their_ratio() -> None:
    torch.manual_seed(0)
    r = time_formats(FastDVDNet(base_channels=4), name="fastdvdnet", args={"base_channels": 4}, frames=3,
                     height=16, width=24, repeats=1)
    assert set(r.ms_per_frame) == {"contiguous", "channels_last"} and all(v > 0 for v in r.ms_per_frame.values())
    assert r.speedup == pytest.approx(r.ms_per_frame["contiguous"] / r.ms_per_frame["channels_last"])
    assert r.max_abs_diff < 1e-5 and "ratio" in r.line() and r.declared == "channels_last"


def test_the_flow_store_shares_flows_between_processes_bit_for_bit(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    net = spynet.SPyNet().eval()
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    monkeypatch.setenv(spynet.FLOW_STORE_ENV, str(tmp_path / "flows"))
    spynet.clear_flow_memo()
    with torch.no_grad():
        first = net(a, b)
        assert len(list((tmp_path / "flows").glob("*.npy"))) == 1
        spynet.clear_flow_memo()  # another process: an empty memo, the same store
        again = net(a, b)
    assert spynet.flow_memo_stats()["store_hits"] == 1 and spynet.flow_memo_stats()["misses"] == 0
    assert torch.equal(first, again)
    monkeypatch.setattr(spynet, "STORE_MAX_NUMEL", 10)  # too big to store: computed, nothing written
    spynet.clear_flow_memo()
    with torch.no_grad():
        net(b, a)
    assert len(list((tmp_path / "flows").glob("*.npy"))) == 1


def test_without_the_store_variable_nothing_is_written(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv(spynet.FLOW_STORE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    spynet.clear_flow_memo()
    with torch.no_grad():
        spynet.SPyNet().eval()(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    assert spynet.flow_memo_stats()["misses"] == 1 and not any(tmp_path.rglob("*.npy"))
