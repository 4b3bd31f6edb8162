"""CompressAI checkpoints (bmshj2018-hyperprior, mbt2018-mean) import onto our codecs.

The files are built here from our own models by :func:`export_compressai`, written from the key layout of
workbench/codec/compressai_import.py; :func:`compressai_forward` recomputes a CompressAI model's evaluation
forward from such a state dict alone (the formulas of its ``ScaleHyperprior`` / ``MeanScaleHyperprior``, GDN,
``EntropyBottleneck`` v1.0 and ``GaussianConditional``), independently of our modules.
"""

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.codec.bitstream import compress, decompress
from workbench.codec.compressai_import import (
    CODEC_FORMATS,
    CodecCheckpointRef,
    gdn_effective,
    load_codec_checkpoint,
    load_compressai,
)
from workbench.codec.learned import HyperpriorCodec, MeanScaleHyperpriorCodec, estimated_bits
from workbench.config import from_mapping
from workbench.context import RunContext
from workbench.data.sequence import ArraySequence
from workbench.errors import CheckpointError, ConfigError
from workbench.evaluate.fig2 import Fig2Params
from workbench.evaluate.fig2 import study as study_mod
from workbench.models.gdn import GDN, PEDESTAL
from workbench.pipeline.fig2 import FIG2_CELL

BMSHJ, MBT = "compressai-bmshj2018-hyperprior", "compressai-mbt2018-mean"
#: the entropy bottleneck's parameter names in CompressAI v1.0 (the zoo files), v1.1–v1.2.5, v1.2.6+
EB_NAMES = {
    "v1.0": ("_matrices.{i}", "_biases.{i}", "_factors.{i}"),
    "v1.1": ("_matrix{i}", "_bias{i}", "_factor{i}"),
    "v1.2.6": ("matrices.{i}", "biases.{i}", "factors.{i}"),
}


def make_codec(cls: type[HyperpriorCodec], *, n: int = 8, m: int = 12, seed: int = 0) -> HyperpriorCodec:
    """A codec with CompressAI's prior shape and non-trivial GDN, prior and median values."""
    torch.manual_seed(seed)
    model = cls(n=n, m=m, prior_filters=(3, 3, 3, 3), prior_medians=True)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, GDN):
                c = mod.beta.shape[0]
                mod.beta.copy_(0.5 + torch.rand(c))
                gamma = 0.3 * torch.rand(c, c)
                gamma[0, 1] = 0.0  # below the bound: clamped in both parameterisations
                mod.gamma.copy_(gamma)
        for p in model.z_prior.parameters():
            p.add_(0.3 * torch.randn_like(p))
        model.z_prior.medians.copy_(torch.rand(n) - 0.5)
        last = model.g_a[-1]
        assert isinstance(last, torch.nn.Conv2d)
        last.weight.mul_(8.0)  # latents of a few units, as in a trained model
    return model.eval()


def export_compressai(model: HyperpriorCodec, *, style: str = "v1.0",
                      reparam_offset: float = 2.0**-18) -> dict[str, Tensor]:
    """``model`` as a CompressAI state dict (``reparam_offset``: that of its ``NonNegativeParametrizer``)."""
    out: dict[str, Tensor] = {}
    pedestal = reparam_offset**2
    modules = dict(model.named_modules())
    for key, value in model.state_dict().items():
        if key.startswith("z_prior."):
            continue
        layer, which = key.rsplit(".", 1)
        if which in ("beta", "gamma"):
            gdn = modules[layer]
            assert isinstance(gdn, GDN)
            minimum = 1e-6 if which == "beta" else 0.0
            bound = (minimum + pedestal) ** 0.5
            if reparam_offset != 2.0**-18:  # store the same effective value in the other parameterisation
                ours = gdn.beta_bound if which == "beta" else gdn.gamma_bound
                eff = torch.clamp(value.double(), min=ours) ** 2 - PEDESTAL
                value = torch.sqrt(eff + pedestal).float()
            out[f"{layer}.{which}_reparam.pedestal"] = torch.tensor([pedestal])
            out[f"{layer}.{which}_reparam.lower_bound.bound"] = torch.tensor([bound])
        out[key] = value.clone()
    prior = model.z_prior
    names = EB_NAMES[style]
    for group, fmt in zip((prior.matrices, prior.biases, prior.factors), names):
        for i, p in enumerate(group):
            out["entropy_bottleneck." + fmt.format(i=i)] = p.detach().clone()
    med = prior.medians
    out["entropy_bottleneck.quantiles"] = torch.stack([med - 7.0, med, med + 9.0], dim=-1).unsqueeze(1)
    target = math.log(2 / 1e-9 - 1)
    out["entropy_bottleneck.target"] = torch.tensor([-target, 0.0, target])
    for owner in ("entropy_bottleneck", "gaussian_conditional"):
        out[f"{owner}._offset"] = torch.full((model.n,), -5, dtype=torch.int32)
        out[f"{owner}._quantized_cdf"] = torch.zeros(model.n, 12, dtype=torch.int32)
        out[f"{owner}._cdf_length"] = torch.full((model.n,), 12, dtype=torch.int32)
        out[f"{owner}.likelihood_lower_bound.bound"] = torch.tensor([1e-9])
    out["gaussian_conditional.scale_table"] = torch.exp(torch.linspace(math.log(0.11), math.log(256), 64))
    out["gaussian_conditional.scale_bound"] = torch.tensor([0.11])
    out["gaussian_conditional.lower_bound_scale.bound"] = torch.tensor([0.11])
    return out


def save(obj: object, path: Path) -> Path:
    torch.save(obj, path)
    return path


def compressai_forward(sd: dict[str, Tensor], x: Tensor, *, mean_scale: bool, style: str = "v1.0") -> dict[str, Tensor]:
    """CompressAI's evaluation forward (``x_hat`` and the likelihoods) computed from its state dict ``sd``."""

    def conv(v: Tensor, key: str, stride: int = 2) -> Tensor:
        w = sd[key + ".weight"]
        return F.conv2d(v, w, sd[key + ".bias"], stride=stride, padding=w.shape[-1] // 2)

    def deconv(v: Tensor, key: str) -> Tensor:
        w = sd[key + ".weight"]
        return F.conv_transpose2d(v, w, sd[key + ".bias"], stride=2, padding=w.shape[-1] // 2, output_padding=1)

    def gdn(v: Tensor, key: str, inverse: bool) -> Tensor:
        def reparam(name: str) -> Tensor:
            bound = sd[f"{key}.{name}_reparam.lower_bound.bound"]
            return torch.max(sd[f"{key}.{name}"], bound) ** 2 - sd[f"{key}.{name}_reparam.pedestal"]

        c = v.shape[1]
        norm = F.conv2d(v**2, reparam("gamma").reshape(c, c, 1, 1), reparam("beta"))
        return v * (torch.sqrt(norm) if inverse else torch.rsqrt(norm))

    def transform(v: Tensor, name: str, inverse: bool) -> Tensor:
        step = deconv if inverse else conv
        for i in (0, 2, 4):
            v = gdn(step(v, f"{name}.{i}"), f"{name}.{i + 1}", inverse)
        return step(v, f"{name}.6")

    def cumulative(v: Tensor) -> Tensor:
        mats, biases, factors = EB_NAMES[style]
        i = 0
        while "entropy_bottleneck." + mats.format(i=i) in sd:
            v = torch.matmul(F.softplus(sd["entropy_bottleneck." + mats.format(i=i)]), v)
            v = v + sd["entropy_bottleneck." + biases.format(i=i)]
            if "entropy_bottleneck." + factors.format(i=i) in sd:
                v = v + torch.tanh(sd["entropy_bottleneck." + factors.format(i=i)]) * torch.tanh(v)
            i += 1
        return v

    act = F.leaky_relu if mean_scale else F.relu
    y = transform(x, "g_a", inverse=False)
    h = act(conv(y if mean_scale else torch.abs(y), "h_a.0", stride=1))
    z = conv(act(conv(h, "h_a.2")), "h_a.4")
    zc = z.permute(1, 0, 2, 3).reshape(z.shape[1], 1, -1)  # (C, 1, L), as the entropy bottleneck works
    medians = sd["entropy_bottleneck.quantiles"][:, :, 1:2]
    zc_hat = torch.round(zc - medians) + medians
    lower, upper = cumulative(zc_hat - 0.5), cumulative(zc_hat + 0.5)
    sign = -torch.sign(lower + upper)
    z_lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).clamp(min=1e-9)
    unflat = (z.shape[1], z.shape[0], *z.shape[2:])
    z_hat = zc_hat.reshape(unflat).permute(1, 0, 2, 3)
    z_lik = z_lik.reshape(unflat).permute(1, 0, 2, 3)
    g = act(deconv(act(deconv(z_hat, "h_s.0")), "h_s.2"))
    if mean_scale:
        scales, means = conv(g, "h_s.4", stride=1).chunk(2, 1)
        y_hat = torch.round(y - means) + means
    else:
        scales, means = F.relu(conv(g, "h_s.4", stride=1)), torch.zeros_like(y)
        y_hat = torch.round(y)
    values = torch.abs(y_hat - means)
    s = torch.clamp(scales, min=0.11)

    def phi(t: Tensor) -> Tensor:
        return 0.5 * torch.erfc(-t / math.sqrt(2.0))

    y_lik = (phi((0.5 - values) / s) - phi((-0.5 - values) / s)).clamp(min=1e-9)
    return {"x_hat": transform(y_hat, "g_s", inverse=True), "y_likelihood": y_lik, "z_likelihood": z_lik}


def _assert_same_outputs(a: dict[str, Tensor], b: dict[str, Tensor], *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert set(a) == set(b) == {"x_hat", "y_likelihood", "z_likelihood"}
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=atol, msg=k)
    torch.testing.assert_close(estimated_bits(a), estimated_bits(b), rtol=1e-5, atol=1e-3)


# (a) parity ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "fmt", "style"), [(HyperpriorCodec, BMSHJ, "v1.0"), (HyperpriorCodec, BMSHJ, "v1.1"),
                                                    (MeanScaleHyperpriorCodec, MBT, "v1.2.6"),
                                                    (MeanScaleHyperpriorCodec, MBT, "v1.0")])
def test_imported_codec_reproduces_the_source_model(tmp_path: Path, cls: type[HyperpriorCodec], fmt: str,
                                                    style: str) -> None:
    source = make_codec(cls)
    state = export_compressai(source, style=style)
    codec, info = load_compressai(save(state, tmp_path / "w.pth.tar"), format=fmt)
    assert type(codec) is cls and not codec.training
    assert (info.n, info.m, info.prior_filters) == (8, 12, (3, 3, 3, 3))
    assert "entropy_bottleneck._quantized_cdf" in info.dropped and "gaussian_conditional.scale_table" in info.dropped
    torch.testing.assert_close(codec.z_prior.medians, source.z_prior.medians, rtol=0, atol=0)
    x = torch.rand(2, 3, 64, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, src, ref = codec(x), source(x), compressai_forward(state, x, mean_scale=cls is MeanScaleHyperpriorCodec,
                                                               style=style)
    _assert_same_outputs(ours, src, rtol=0, atol=0)  # same stored tensors: bit-identical
    _assert_same_outputs(ours, ref)  # CompressAI's formulas, computed from the file alone
    assert float(estimated_bits(ours)) > 100  # a real rate, not the likelihood floor everywhere


def test_imported_mean_scale_codec_through_the_bitstream(tmp_path: Path) -> None:
    codec, _ = load_compressai(save(export_compressai(make_codec(MeanScaleHyperpriorCodec)), tmp_path / "w.pth"),
                               format=MBT)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    coded = compress(codec, x)
    decoded = decompress(codec, coded.data)
    assert all(np.array_equal(a, b) for a, b in zip(coded.y_symbols + coded.z_symbols,
                                                    decoded.y_symbols + decoded.z_symbols))
    assert torch.equal(coded.x_hat, decoded.x_hat)
    with torch.no_grad():
        torch.testing.assert_close(coded.x_hat, codec(x)["x_hat"], rtol=0, atol=0)
        assert coded.estimated_bits == pytest.approx(float(estimated_bits(codec(x))), rel=1e-5)


def test_nested_and_dataparallel_files_and_the_registry(tmp_path: Path) -> None:
    state = export_compressai(make_codec(HyperpriorCodec))
    path = save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ck.pth.tar")
    ref = CodecCheckpointRef(path=str(path), format=BMSHJ)
    codec, info = load_codec_checkpoint(ref)
    assert isinstance(codec, HyperpriorCodec) and info.key_style == "v1.0" and "N=8, M=12" in info.summary()
    assert ref.rate_label() == "ck" and CODEC_FORMATS.names() == [BMSHJ, MBT]
    with pytest.raises(ConfigError, match="unknown codec checkpoint format 'x'"):
        load_codec_checkpoint(CodecCheckpointRef(path=str(path), format="x"))


# (b) GDN re-parameterisation --------------------------------------------------------------------------------


def test_gdn_reparametrization_closed_form() -> None:
    bound = (1e-6 + 2.0**-36) ** 0.5
    eff = gdn_effective(torch.tensor([1.0, 0.5, 0.0]), pedestal=2.0**-36, bound=bound)
    assert eff.tolist() == [1.0 - 2.0**-36, 0.25 - 2.0**-36, pytest.approx(1e-6, rel=1e-12)]
    # another reparam offset (2^-10): pedestal 2^-20, bound sqrt(1e-6 + 2^-20)
    eff = gdn_effective(torch.tensor([0.5, 1e-4]), pedestal=2.0**-20, bound=(1e-6 + 2.0**-20) ** 0.5)
    assert eff.tolist() == [0.25 - 2.0**-20, pytest.approx(1e-6, rel=1e-9)]


def test_gdn_values_round_trip_through_another_parameterisation(tmp_path: Path) -> None:
    source = make_codec(HyperpriorCodec)
    state = export_compressai(source, reparam_offset=2.0**-10)
    gdn = source.g_a[1]
    assert isinstance(gdn, GDN)
    # the file's tensors differ from ours, but mean the same effective values
    assert not torch.equal(state["g_a.1.beta"], gdn.beta.detach())
    codec, _ = load_compressai(save(state, tmp_path / "w.pth"), format=BMSHJ)
    for name, mod in source.named_modules():
        if isinstance(mod, GDN):
            imported = dict(codec.named_modules())[name]
            assert isinstance(imported, GDN)
            for ours, theirs in zip(imported.effective_params(), mod.effective_params()):
                torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-9)
    # CompressAI's constants: the stored tensors carry over unchanged
    codec, _ = load_compressai(save(export_compressai(source), tmp_path / "same.pth"), format=BMSHJ)
    imported, original = codec.g_s[3], source.g_s[3]
    assert isinstance(imported, GDN) and isinstance(original, GDN)
    assert torch.equal(imported.gamma, original.gamma)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(codec(x)["x_hat"], source(x)["x_hat"], rtol=1e-4, atol=1e-5)


# (c) one-line errors -----------------------------------------------------------------------------------------


def _error(state: dict[str, Tensor], path: Path, fmt: str = BMSHJ) -> str:
    with pytest.raises(CheckpointError) as exc:
        load_compressai(save(state, path), format=fmt)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return msg


def test_missing_key_names_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    state = export_compressai(make_codec(HyperpriorCodec))
    del state["g_s.2.bias"]
    msg = _error(state, tmp_path / "miss.pth")
    assert "missing key 'g_s.2.bias'" in msg and "check that the file is a complete CompressAI" in msg
    state = export_compressai(make_codec(HyperpriorCodec), style="v1.1")
    del state["entropy_bottleneck._factor2"]
    assert "missing key 'entropy_bottleneck._factor2'" in _error(state, tmp_path / "miss_eb.pth")


def test_wrong_shape_unknown_key_and_wrong_format(tmp_path: Path) -> None:
    state = export_compressai(make_codec(HyperpriorCodec))
    state["h_a.2.weight"] = torch.zeros(8, 8, 3, 3)
    msg = _error(state, tmp_path / "shape.pth")
    assert "key 'h_a.2.weight' has shape (8, 8, 3, 3), expected (8, 8, 5, 5)" in msg and "(N=8, M=12)" in msg
    state = export_compressai(make_codec(HyperpriorCodec))
    state["context_prediction.weight"] = torch.zeros(1)
    assert "unknown key 'context_prediction.weight'" in _error(state, tmp_path / "unknown.pth")
    msg = _error(export_compressai(make_codec(MeanScaleHyperpriorCodec)), tmp_path / "mbt.pth", fmt=BMSHJ)
    assert "set format: compressai-mbt2018-mean" in msg
    state = export_compressai(make_codec(HyperpriorCodec))
    state["gaussian_conditional.lower_bound_scale.bound"] = torch.tensor([0.2])
    assert "fixes the scale bound at 0.11" in _error(state, tmp_path / "bound.pth")


# (d) the fig2 cell with codec_checkpoint ----------------------------------------------------------------------


def test_fig2_cell_uses_the_imported_weights_without_training(tmp_path: Path, monkeypatch, smooth_clip) -> None:  # type: ignore[no-untyped-def]
    files = {name: save(export_compressai(make_codec(cls, seed=seed)), tmp_path / f"{name}.pth.tar")
             for name, cls, seed in (("bmshj-3", HyperpriorCodec, 0), ("mbt-3", MeanScaleHyperpriorCodec, 1))}
    seqs = {"tiny": [ArraySequence("a", smooth_clip(2, 64, 64, seed=3))]}
    monkeypatch.setattr(study_mod, "_open", lambda name, ctx, max_frames, max_sequences=None: seqs[name])

    def no_training(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the codec must not be trained when codec_checkpoint is given")

    monkeypatch.setattr(study_mod, "train_hyperprior", no_training)
    params = from_mapping(Fig2Params, {
        "codec": "learned", "dataset": "tiny", "train_dataset": "not-read", "crop_size": 32,
        "codec_checkpoint": [{"path": str(files["bmshj-3"]), "format": BMSHJ},
                             {"path": str(files["mbt-3"]), "format": MBT, "label": "mbt-q3"}],
    })
    ctx = RunContext(spec_id="fig2", profile="test", cell_name="study", work_dir=tmp_path / "work",
                     artifact_dir=tmp_path / "artifacts")
    assert FIG2_CELL.inputs is not None
    sums = FIG2_CELL.inputs(params, ctx)
    assert sums["codec_checkpoint/bmshj-3"] == hashlib.sha256(files["bmshj-3"].read_bytes()).hexdigest()
    assert "codec_checkpoint/mbt-q3" in sums and not any(k.startswith("not-read/") for k in sums)
    rows = FIG2_CELL.run(params, ctx)
    learned = {r["rate_point"]: r for r in rows if r["method"] == "learned-hyperprior" and r["metric"] == "bpp"
               and r["level"] == "sequence"}
    assert set(learned) == {"checkpoint=bmshj-3", "checkpoint=mbt-q3"}
    assert learned["checkpoint=mbt-q3"]["codec_model"] == "mean-scale-hyperprior-N8-M12-checkpointmbt-q3"
    assert (ctx.work_dir / "learned" / "bitstreams" / "a_sigma20_checkpointbmshj-3.hpc").is_file()
    assert "N=8, M=12" in ctx.notes["learned_import"]["mbt-q3"]["import"] and "learned_training" not in ctx.notes
    single = from_mapping(Fig2Params, {"codec": "learned", "codec_checkpoint": {"path": "x.pth", "format": MBT}})
    assert [r.rate_label() for r in single.codec_checkpoints()] == ["x"]


def test_fig2_codec_checkpoint_errors(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="only the learned codec uses it"):
        from_mapping(Fig2Params, {"codec": "x265", "codec_checkpoint": {"path": "a.pth", "format": BMSHJ}})
    with pytest.raises(ConfigError, match="is not one of"):
        from_mapping(Fig2Params, {"codec": "learned", "codec_checkpoint": {"path": "a.pth", "format": "cheng2020"}})
    params = from_mapping(Fig2Params, {"codec": "learned", "dataset": "tiny",
                                       "codec_checkpoint": {"path": str(tmp_path / "gone.pth"), "format": BMSHJ}})
    ctx = RunContext(spec_id="fig2", profile="test", cell_name="study", work_dir=tmp_path, artifact_dir=tmp_path)
    monkeypatch.setattr(study_mod, "_open", lambda name, ctx, max_frames, max_sequences=None: [])
    with pytest.raises(CheckpointError, match="codec checkpoint not found"):
        study_mod.input_checksums(params, ctx)
