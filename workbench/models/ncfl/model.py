"""NCFL: "Neural Compression-Based Feature Learning for Video Restoration" (Huang, Li, Li, Liu, Lu,
CVPR 2022), Fig. 3 — uni-directional recurrent model :class:`NCFL` and bi-directional :class:`NCFLBi`
(Sec. 5.7, Table 8).

Per step ``t`` (uni-directional, ``temporal_mode = "recurrent"``):

1. ``mv_t = SPyNet(x_t, x_{t−1})`` on the **noisy** frames, as the paper says ("Given the noisy frames
   x_{t−1} and x_t, we first use motion estimation"); ``flow_warp(x_{t−1}, mv_t) ≈ x_t``;
2. :class:`~workbench.models.ncfl.refine.FeatureRefiner`: MVR (``mvr``), warping of ``c_{t−1}``, FA
   (``fa``), neural compression (``ncfl`` ∈ off | noq | fixedq | adapq; ``ce`` switches the rate term);
3. :class:`~workbench.models.ncfl.restoration.RestorationNet` fuses ``x_t`` (and the noise map unless
   ``blind``) with ``c~_t`` and returns ``y~_t`` and ``c_t``.

At ``t = 0`` there is no previous frame: ``c~_0 = 0`` and steps 1–2 are skipped (as BasicVSR does), so the
first frame has no rate. Raw input (``in_channels = 4``, packed Bayer planes in the plane order
``raw_order`` of :mod:`workbench.data.raw`, default ``"RGBG"`` = ``[R, G_r, B, G_b]``) is shown to SPyNet
as RGB ``(R, (G_r + G_b)/2, B)``; a 1-channel input is repeated three times.

Outputs: ``forward(clip (N, T, C, H, W), noise_map=None) -> RestorationOutput(frames (N, T, C, H, W),
aux)`` with ``aux = {"ce_bpp": ...}`` — the cross-entropy of eq. 4 in **bits per pixel of the input frame**
(``Σ −log2 P`` over the latent and hyper-latent / (N·H·W)), averaged over the steps that code features
(``t ≥ 1``; it is 0 for a one-frame clip) — whenever a rate is defined (``ncfl`` fixedq/adapq with
``ce=True``), and ``aux = {}`` otherwise. The training loss is eq. 6: ``L2 + λ · aux["ce_bpp"]``.
``stats`` (for the training log, never the loss): with a quantizer (``ncfl`` fixedq/adapq, ``ce`` either
way) the compression module's detached ``zero_bin_share``, ``z_zero_bin_share``, ``q_mean``,
``sigma_mean`` and ``bpp`` (for ``ce=False`` the rate the module would have, evaluated under
``no_grad``), averaged over the coded steps like ``ce_bpp``; empty otherwise and for a one-frame clip.
``step`` returns a :class:`RestorationOutput` with frames ``(N, C, H, W)`` and the step's own
``ce_bpp`` and ``stats`` (``stats`` empty at ``t = 0``). Frames are float32 in [0, 1] (RGB) or
normalised raw; ``noise_map`` ``(N, K, H, W)`` (or
``(N, T, K, H, W)`` for ``forward``) with ``K = noise_map_channels``, σ on the [0, 1] scale.

Calibration. The paper gives no widths; they were chosen so that the defaults cost what Tables 1 and 8
report (771 and 1522 GFLOPs) under the convention that reproduces the paper's baselines
(docs/complexity.md §1): 2 × thop-style MACs (``nn.Conv2d``/``nn.Linear`` multiplies) per
960x540 output frame, steady state, SPyNet included. Defaults: U-Net (32, 64, 128, 256) with 2 CABs per
stage and side, temporal features 32 channels, MVR 32, FA 48, codec M = 64, latent L = 64, hyper 32.
Counted per top-level module on the meta device, GMAC per frame (the workbench's counter,
:mod:`workbench.evaluate.complexity`, gives 768.2 and 1545.1 GFLOPs in total: it also counts the
thop-style cost of a few non-conv modules; tests/models/test_ncfl_calibration.py pins both):

- uni ``Md``: SPyNet 167.01, MVR 1.87, FA 13.16, compression 26.45, restoration 175.51; total 383.99 GMAC
  = 768.0 GFLOPs (paper 771, ratio 0.996); 8.29 M parameters (SPyNet 1.44 M);
- bi ``bi``: SPyNet 2 × 167.01, per direction MVR 1.87, FA 13.16, compression 26.45; restoration 175.06
  (backward) + 180.28 (forward); total 772.31 GMAC = 1544.6 GFLOPs (paper 1522, ratio 1.015); 15.14 M;
- ``L`` (W-Net): restoration 350.12; total 558.60 GMAC = 1117.2 GFLOPs; 14.25 M;
- ``dehaze`` (U-Net 48, 96, 192, 384): FA 17.64, compression 32.42, restoration 394.22; total 613.15 GMAC
  = 1226.3 GFLOPs; 15.82 M parameters (paper: 16 M).

GDN's normalisation is a functional 1x1 conv that thop does not see: +1.19 GMAC per direction (uni total
with it 385.18 GMAC = 770.4 GFLOPs). Ablations (GFLOPs): Ma 685.0, Mb 688.8, Mc 741.7, FixedQ 739.3,
NoQ 727.0, M1 715.1. (The "L" runtime ratio in Table 2, 275/188 = 1.46, matches its FLOPs ratio 1.45.)

Training (the paper's two-stage scheme is only in its supplement; this is a choice): eq. 6 as
``mean L2 + λ · aux["ce_bpp"]``. Stage 1 (~80 % of the steps): λ = 1e-4, so that the rate term weighs
about as much as the L2 term at σ = 50 (≈ 1e-3) and the compression module learns which content to
drop. (That figure, ≈ 5.6 bpp at initialisation, was the rate of the old dead start, every symbol zero;
with the live start of :mod:`~workbench.models.ncfl.compression` the full-width rate at step 0 is
≈ 12–18 bpp. At smoke width (batch 2, 32x32 crops, Adam 1e-3) λ = 1e-4 from step 0 drives the zero-bin
share to ≈ 1 within ~30 steps, FixedQ by shrinking the latent, AdapQ by growing ``q`` to ≈ 20: the
untrained restoration net gains less from ``c_{t−1}`` than the bits cost. With λ = 1e-5 FixedQ stays
near 0.45 over 80 steps while AdapQ still grows ``q`` (share 0.95–0.99). A rate warm-up is worth
considering.)
Stage 2 (~20 %): λ = 1e-5 and lr / 4, fine-tuning the
reconstruction with weak rate guidance. Presets without a rate (Ma, Mb, M1, noq, M2) must not weight
``ce_bpp`` (their ``aux`` is empty). Adam with lr ≤ 1e-3 (the smoke model diverges at 4e-3).

``NCFLBi`` (``temporal_mode = "clip"``): a backward pass over the clip (``t = T−1 … 0``; flow
``SPyNet(x_t, x_{t+1})``, its own refiner and a restoration U-Net that only outputs features ``c^b_t``),
then the forward pass of the uni-directional model whose restoration input also holds ``c^b_t``
(concatenated before its head conv). SPyNet is shared by both directions; ``ce_bpp`` is the sum of both
directions' per-step rates (bits per output pixel), and so is ``stats["bpp"]``; the other ``stats`` are
means over the coded steps of both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from workbench.data.raw import ORDERS
from workbench.errors import ConfigError
from workbench.models.base import RestorationModel, RestorationOutput
from workbench.models.ncfl.compression import QuantProxy
from workbench.models.ncfl.refine import NCFL_MODES, FeatureRefiner, NCFLMode
from workbench.models.ncfl.restoration import RestorationKind, RestorationNet
from workbench.models.spynet import SPyNet

#: plane orders of packed raw frames (:mod:`workbench.data.raw`)
RAW_ORDERS: tuple[str, ...] = tuple(ORDERS)


def _mean_stats(steps: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Key-wise mean of the per-step diagnostics of the coded steps (empty when none was coded)."""
    if not steps:
        return {}
    return {k: torch.stack([s[k] for s in steps]).mean() for k in steps[0]}


@dataclass
class NCFLState:
    """Recurrent state: the previous (degraded) frame ``(N, C, H, W)`` and its features ``c_{t−1}``."""

    frame: Tensor
    features: Tensor


class _NCFLBase(RestorationModel):
    """Shared constructor (typed keyword arguments) and input handling; see the module docstring."""

    size_multiple = 1

    def __init__(
        self,
        *,
        in_channels: int = 3,
        blind: bool = True,
        noise_map_channels: int = 1,
        unet_channels: tuple[int, ...] = (32, 64, 128, 256),
        cab_blocks: int = 2,
        restoration: RestorationKind = "unet",
        mvr: bool = True,
        mvr_channels: int = 32,
        mvr_with_frames: bool = False,
        fa: bool = True,
        fa_channels: int = 48,
        ncfl: NCFLMode = "adapq",
        codec_channels: int = 64,
        latent_channels: int = 64,
        hyper_channels: int = 32,
        fixed_step: float = 1.0,
        quant_proxy: QuantProxy = "ste",
        ce: bool = True,
        raw_order: str = "RGBG",
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3, 4):
            raise ConfigError(f"in_channels={in_channels}: NCFL takes 1 (grey), 3 (RGB) or 4 (packed raw)")
        if raw_order not in RAW_ORDERS:
            raise ConfigError(f"raw_order={raw_order!r}: use one of {RAW_ORDERS}")
        if ncfl not in NCFL_MODES:
            raise ConfigError(f"ncfl={ncfl!r}: use one of {tuple(NCFL_MODES)}")
        self.in_channels = in_channels
        # instance-level: blind and non-blind NCFL share the class
        setattr(self, "uses_noise_map", not blind)  # noqa: B010
        self.noise_map_channels = noise_map_channels
        self.feat_channels = int(unet_channels[0])
        self.has_rate = ce and ncfl in ("fixedq", "adapq")
        self.raw_order = raw_order
        self.spynet = SPyNet()
        self._refiner_kwargs = dict(
            frame_channels=in_channels, feat_channels=self.feat_channels, mvr=mvr, mvr_channels=mvr_channels,
            mvr_with_frames=mvr_with_frames, fa=fa, fa_channels=fa_channels, ncfl=ncfl,
            codec_channels=codec_channels, latent_channels=latent_channels, hyper_channels=hyper_channels,
            fixed_step=fixed_step, quant_proxy=quant_proxy, ce=ce,
        )
        self._restoration_kwargs = dict(
            frame_channels=in_channels, feat_channels=self.feat_channels,
            channels=tuple(int(c) for c in unet_channels), blocks=cab_blocks, kind=restoration,
        )
        self.extra_channels = 0 if blind else noise_map_channels
        self._build()

    def _build(self) -> None:  # pragma: no cover - subclasses build their branches
        raise NotImplementedError

    def _refiner(self) -> FeatureRefiner:
        return FeatureRefiner(**self._refiner_kwargs)  # type: ignore[arg-type]

    def _restoration(self, *, extra_features: int = 0, with_output: bool = True) -> RestorationNet:
        return RestorationNet(**self._restoration_kwargs, extra_channels=self.extra_channels + extra_features,  # type: ignore[arg-type]
                              with_output=with_output)

    def rgb(self, frame: Tensor) -> Tensor:
        """The frame as SPyNet sees it: ``(N, 3, H, W)``."""
        c = frame.shape[1]
        if c == 3:
            return frame
        if c == 1:
            return frame.expand(-1, 3, -1, -1)
        idx = {ch: [i for i, x in enumerate(self.raw_order) if x == ch] for ch in "RGB"}
        g = 0.5 * (frame[:, idx["G"][0]] + frame[:, idx["G"][1]])
        return torch.stack([frame[:, idx["R"][0]], g, frame[:, idx["B"][0]]], dim=1)

    def _noise_extra(self, frame: Tensor, noise_map: Tensor | None) -> list[Tensor]:
        if self.extra_channels == 0:
            return []
        if noise_map is None:
            raise ConfigError(f"{type(self).__name__}(blind=False) needs a noise_map; pass the noise σ "
                              "or build it with blind=True")
        n, _, h, w = frame.shape
        if noise_map.dim() != 4 or noise_map.shape[1] != self.noise_map_channels:
            raise ConfigError(f"noise_map of shape {tuple(noise_map.shape)}; expected "
                              f"(N, {self.noise_map_channels}, H, W) (noise_map_channels)")
        return [noise_map.to(frame.dtype).expand(n, -1, h, w)]

    @staticmethod
    def _noise_at(noise_map: Tensor | None, t: int) -> Tensor | None:
        if noise_map is not None and noise_map.dim() == 5:
            return noise_map[:, t]
        return noise_map

    def _zeros(self, frame: Tensor) -> Tensor:
        n, _, h, w = frame.shape
        return frame.new_zeros(n, self.feat_channels, h, w)


class NCFL(_NCFLBase):
    """Uni-directional recurrent NCFL (the paper's default model). See the module docstring."""

    temporal_mode = "recurrent"
    #: channels-last inference: 1.13× faster with the mini zoo's M_d weights, 96×160, one thread
    #: (``workbench bench format``; the bi-directional model gains 1.02–1.17× and stays NCHW)
    inference_memory_format = "channels_last"

    def _build(self) -> None:
        self.refiner = self._refiner()
        self.restoration = self._restoration()

    def step(
        self, frame: Tensor, state: NCFLState | None, noise_map: Tensor | None = None
    ) -> tuple[RestorationOutput, NCFLState]:
        extra = self._noise_extra(frame, noise_map)
        n, _, h, w = frame.shape
        bits = None
        stats: dict[str, Tensor] = {}
        if state is None:
            feats = self._zeros(frame)
        else:
            flow = self.spynet(self.rgb(frame), self.rgb(state.frame))
            feats, bits, stats = self.refiner(frame, state.frame, state.features, flow)
        out, new_feats = self.restoration(frame, feats, *extra)
        assert out is not None
        aux: dict[str, Tensor] = {}
        if self.has_rate:
            aux["ce_bpp"] = frame.new_zeros(()) if bits is None else bits / (n * h * w)
        return RestorationOutput(out, aux, stats), NCFLState(frame, new_feats)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> RestorationOutput:
        state: NCFLState | None = None
        frames, rates, stats = [], [], []
        for t in range(clip.shape[1]):
            out, state = self.step(clip[:, t], state, self._noise_at(noise_map, t))
            frames.append(out.frames)
            if t > 0 and "ce_bpp" in out.aux:
                rates.append(out.aux["ce_bpp"])
            if t > 0 and out.stats:
                stats.append(out.stats)
        aux: dict[str, Tensor] = {}
        if self.has_rate:
            aux["ce_bpp"] = torch.stack(rates).mean() if rates else clip.new_zeros(())
        return RestorationOutput(torch.stack(frames, dim=1), aux, _mean_stats(stats))


class NCFLBi(_NCFLBase):
    """Bi-directional NCFL (Table 8): backward feature propagation, then the forward model fusing both."""

    temporal_mode = "clip"

    def _build(self) -> None:
        self.backward_refiner = self._refiner()
        self.backward_restoration = self._restoration(with_output=False)
        self.forward_refiner = self._refiner()
        self.forward_restoration = self._restoration(extra_features=self.feat_channels)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> RestorationOutput:
        n, num, _, h, w = clip.shape
        xs = clip.unbind(1)
        extras = [self._noise_extra(xs[t], self._noise_at(noise_map, t)) for t in range(num)]
        back: list[Tensor] = [clip.new_zeros(())] * num
        rate_b, rate_f = [], []
        stats_b: list[dict[str, Tensor]] = []
        stats_f: list[dict[str, Tensor]] = []
        for t in reversed(range(num)):
            if t == num - 1:
                feats = self._zeros(xs[t])
            else:
                flow = self.spynet(self.rgb(xs[t]), self.rgb(xs[t + 1]))
                feats, bits, stats = self.backward_refiner(xs[t], xs[t + 1], back[t + 1], flow)
                if bits is not None:
                    rate_b.append(bits / (n * h * w))
                if stats:
                    stats_b.append(stats)
            _, back[t] = self.backward_restoration(xs[t], feats, *extras[t])
        outs = []
        prev: Tensor | None = None
        for t in range(num):
            if prev is None:
                feats = self._zeros(xs[t])
            else:
                flow = self.spynet(self.rgb(xs[t]), self.rgb(xs[t - 1]))
                feats, bits, stats = self.forward_refiner(xs[t], xs[t - 1], prev, flow)
                if bits is not None:
                    rate_f.append(bits / (n * h * w))
                if stats:
                    stats_f.append(stats)
            out, prev = self.forward_restoration(xs[t], feats, back[t], *extras[t])
            assert out is not None
            outs.append(out)
        aux: dict[str, Tensor] = {}
        if self.has_rate:
            zero = clip.new_zeros(())
            aux["ce_bpp"] = ((torch.stack(rate_b).mean() if rate_b else zero)
                             + (torch.stack(rate_f).mean() if rate_f else zero))
        stats = _mean_stats(stats_b + stats_f)
        if stats_b and stats_f:  # like ce_bpp: the rates of both directions add up
            stats["bpp"] = _mean_stats(stats_b)["bpp"] + _mean_stats(stats_f)["bpp"]
        return RestorationOutput(torch.stack(outs, dim=1), aux, stats)
