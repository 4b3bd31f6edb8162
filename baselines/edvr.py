"""EDVR: video restoration with enhanced deformable convolutional networks.

Paper: X. Wang, K. C. K. Chan, K. Yu, C. Dong, C. C. Loy, "EDVR: Video Restoration with Enhanced
Deformable Convolutional Networks", CVPR Workshops 2019 (Sec. 3, Figs. 2-4): per-frame feature extraction
(optionally a PreDeblur module, and strided convolutions when the input is high-resolution), Pyramid,
Cascading and Deformable (PCD) alignment with modulated deformable convolutions (eq. 3), Temporal and
Spatial Attention (TSA) fusion (eq. 5), a residual-block reconstruction trunk, ×4 pixel-shuffle
up-sampling and a global residual. The NCFL paper (CVPR 2022, Table 1) compares against EDVR for
denoising; its FLOPs match the EDVR-L deblurring configuration (``"L-deblur"``, see
``docs/complexity.md``).

Architecture and checkpoint key layout read from XPixelGroup/BasicSR ``basicsr/archs/edvr_arch.py`` and
``arch_util.py`` (commit 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a); the code is written for the workbench.
Parameter names follow BasicSR's layout (``predeblur.*``, ``conv_1x1``/``conv_first``,
``feature_extraction.i.conv1``, ``conv_l2_1`` …, ``pcd_align.{offset_conv1,dcn_pack,…}.l3``,
``fusion.*``, ``reconstruction.i``, ``upconv1/2``, ``conv_hr``, ``conv_last``) so official BasicSR files
load strictly; :mod:`baselines.importers_basicsr` maps MMagic's names.

Input/output: clips ``(N, T, C, H, W)`` float32 in ``[0, 1]`` with ``T = num_frame``; the restored
centre frame is ``(N, C, H, W)`` when ``hr_in=True`` (deblurring/denoising: features are computed at
1/4 resolution after two stride-2 convolutions and brought back by the ×4 pixel-shuffle tail; the
residual base is the centre input frame; ``feat_stride`` 2 or 1 keeps one or none of those convolutions
and pixel shuffles, a workbench option that is not EDVR's, see :class:`EDVR`) and ``(N, C, 4H, 4W)`` when
``hr_in=False`` (super-resolution; base = bilinear ×4 up-sampling of the centre frame). The network needs
H, W divisible by ``4·feat_stride`` (``hr_in``; 16 for EDVR's own stride 4) or 4: other sizes are
reflect-padded at the bottom/right inside ``forward`` and the output is cropped back, e.g. 960×540 runs as
960×544 (replicate padding when a side is shorter than its pad). Outputs are not clamped. Blind:
``noise_map`` is ignored.

Parameter counts (3 channels in/out; identical to BasicSR's ``EDVR`` with the same arguments):
``"L-deblur"`` 23,602,019; ``"M-deblur"`` 4,042,851; ``"L-sr"`` 20,633,827; ``"L-sr-wotsa"`` 19,419,875;
``"L-srblur"`` 23,306,851; ``"M-sr"`` 3,300,131; ``"M-sr-wotsa"`` 2,996,259.
FLOP counters that hook ``nn.Conv2d`` see the offset-predicting ``conv_offset`` layers but not the main
deformable convolution (:class:`workbench.ops.DCNv2Pack`), which is how the NCFL paper's EDVR FLOPs were
counted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.blocks import ResidualBlockNoBN
from workbench.models.base import RestorationModel
from workbench.ops import DCNv2Pack, ModulatedDeformConv2d


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.1)


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class EDVRConfig:
    """Constructor arguments of :class:`EDVR` (the BasicSR ``network_g`` fields); the defaults are
    EDVR-L for deblurring (``"L-deblur"``), the configuration the NCFL paper's EDVR numbers fit."""

    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 128
    num_frame: int = 5
    deformable_groups: int = 8
    num_extract_block: int = 5
    num_reconstruct_block: int = 40
    center_frame_idx: int | None = None
    hr_in: bool = True
    with_predeblur: bool = True
    with_tsa: bool = True


#: Named configurations: BasicSR's released models (``L-deblur`` also fits ``deblurcomp``; ``L-srblur``
#: is ``EDVR_L_x4_SRblur``) and ``M-deblur``, EDVR-M widths with the full-resolution deblurring front end.
EDVR_CONFIGS: dict[str, EDVRConfig] = {
    "L-deblur": EDVRConfig(),
    "M-deblur": EDVRConfig(num_feat=64, num_reconstruct_block=10),
    "L-sr": EDVRConfig(hr_in=False, with_predeblur=False),
    "L-sr-wotsa": EDVRConfig(hr_in=False, with_predeblur=False, with_tsa=False),
    "L-srblur": EDVRConfig(hr_in=False),
    "M-sr": EDVRConfig(num_feat=64, num_reconstruct_block=10, hr_in=False, with_predeblur=False),
    "M-sr-wotsa": EDVRConfig(
        num_feat=64, num_reconstruct_block=10, hr_in=False, with_predeblur=False, with_tsa=False
    ),
}


INITS = ("pytorch", "kaiming")

#: ``feat_stride`` → the number of ×2 steps between the input and the trunk (stride-2 convolutions in
#: PreDeblur, pixel shuffles in the tail)
HALVINGS = {4: 2, 2: 1, 1: 0}


def _kaiming_init(model: nn.Module) -> None:
    """Kaiming-normal (LeakyReLU slope 0.1, fan-in), zero bias, for the convolutions outside
    :class:`ResidualBlockNoBN` (already Kaiming × 0.1) and the zero-initialised ``conv_offset`` layers."""
    keep: set[int] = set()
    for name, mod in model.named_modules():
        if isinstance(mod, ResidualBlockNoBN) or name.endswith("conv_offset"):
            keep |= {id(m) for m in mod.modules()}
    for mod in model.modules():
        if id(mod) in keep or not isinstance(mod, (nn.Conv2d, ModulatedDeformConv2d)):
            continue
        nn.init.kaiming_normal_(mod.weight, a=0.1, mode="fan_in", nonlinearity="leaky_relu")
        if mod.bias is not None:
            nn.init.zeros_(mod.bias)


def _half_conv(conv: nn.Module, x: Tensor, half: int) -> Tensor:
    """``conv`` (an ``nn.Conv2d``) restricted to the first (``half=0``, no bias) or second (``half=1``, with
    the bias) half of its input channels, applied to ``x`` ``(N, C_in/2, H, W)``."""
    assert isinstance(conv, nn.Conv2d)
    c = conv.in_channels // 2
    weight = conv.weight[:, :c] if half == 0 else conv.weight[:, c:]
    return F.conv2d(x, weight, conv.bias if half == 1 else None, conv.stride, conv.padding)


class FramePyramid(NamedTuple):
    """One frame's :meth:`EDVR.frame_features`: its pyramid ``levels`` (L1, L2, L3, each
    ``(N, C, h_l, w_l)``) and the per-frame halves of PCD's first offset convolutions
    (:meth:`PCDAlignment.split_parts`)."""

    levels: tuple[Tensor, Tensor, Tensor]
    nbr_parts: list[Tensor]
    ref_parts: list[Tensor]
    cas_ref: Tensor


def _blocks(n: int, num_feat: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlockNoBN(num_feat=num_feat) for _ in range(n)))


class PredeblurModule(nn.Module):
    """PreDeblur (Sec. 3.1): a small 3-level encoder of residual blocks applied to each blurry frame
    before alignment; with ``hr_in`` two stride-2 convolutions first bring it to 1/4 resolution."""

    def __init__(self, *, num_in_ch: int, num_feat: int, hr_in: bool, feat_stride: int = 4) -> None:
        """``feat_stride`` (with ``hr_in``): 4 = EDVR's two stride-2 convolutions, 2 = the first only,
        1 = none (features at input resolution)."""
        super().__init__()
        self.hr_in = hr_in
        self.n_hr = HALVINGS[feat_stride] if hr_in else 0
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        if self.n_hr >= 1:
            self.stride_conv_hr1 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
        if self.n_hr == 2:
            self.stride_conv_hr2 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
        self.stride_conv_l2 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
        self.stride_conv_l3 = nn.Conv2d(num_feat, num_feat, 3, 2, 1)
        self.resblock_l3 = ResidualBlockNoBN(num_feat=num_feat)
        self.resblock_l2_1 = ResidualBlockNoBN(num_feat=num_feat)
        self.resblock_l2_2 = ResidualBlockNoBN(num_feat=num_feat)
        self.resblock_l1 = nn.ModuleList(ResidualBlockNoBN(num_feat=num_feat) for _ in range(5))

    def forward(self, x: Tensor) -> Tensor:
        l1 = _lrelu(self.conv_first(x))
        if self.n_hr >= 1:
            l1 = _lrelu(self.stride_conv_hr1(l1))
        if self.n_hr == 2:
            l1 = _lrelu(self.stride_conv_hr2(l1))
        l2 = _lrelu(self.stride_conv_l2(l1))
        l3 = _lrelu(self.stride_conv_l3(l2))
        l2 = _up2(self.resblock_l2_2(self.resblock_l2_1(l2) + _up2(self.resblock_l3(l3))))
        l1 = self.resblock_l1[1](self.resblock_l1[0](l1)) + l2
        for block in list(self.resblock_l1)[2:]:
            l1 = block(l1)
        return l1


class PCDAlignment(nn.Module):
    """Pyramid, Cascading and Deformable alignment (Sec. 3.2, Fig. 3, eq. 3).

    Levels l3 (1/4), l2 (1/2), l1 (full feature size) are aligned coarse to fine: at each level the
    offset features come from ``[neighbour, reference]`` and the ×2-up-sampled (and ×2-scaled) offset
    features of the coarser level; a final cascaded DCN refines the l1 result against the reference.
    """

    def __init__(self, *, num_feat: int, deformable_groups: int, use_torchvision: bool | None = None) -> None:
        super().__init__()
        c = num_feat
        self.offset_conv1 = nn.ModuleDict()
        self.offset_conv2 = nn.ModuleDict()
        self.offset_conv3 = nn.ModuleDict()
        self.dcn_pack = nn.ModuleDict()
        self.feat_conv = nn.ModuleDict()
        dcn: dict[str, Any] = dict(in_channels=c, out_channels=c, kernel_size=3, padding=1,
                                   deformable_groups=deformable_groups, use_torchvision=use_torchvision)
        for i in (3, 2, 1):
            lv = f"l{i}"
            self.offset_conv1[lv] = nn.Conv2d(2 * c, c, 3, 1, 1)
            self.offset_conv2[lv] = nn.Conv2d(c if i == 3 else 2 * c, c, 3, 1, 1)
            if i < 3:
                self.offset_conv3[lv] = nn.Conv2d(c, c, 3, 1, 1)
                self.feat_conv[lv] = nn.Conv2d(2 * c, c, 3, 1, 1)
            self.dcn_pack[lv] = DCNv2Pack(**dcn)
        self.cas_offset_conv1 = nn.Conv2d(2 * c, c, 3, 1, 1)
        self.cas_offset_conv2 = nn.Conv2d(c, c, 3, 1, 1)
        self.cas_dcnpack = DCNv2Pack(**dcn)

    def split_parts(self, levels: tuple[Tensor, Tensor, Tensor]) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """The per-frame halves of the first offset convolutions, for :meth:`forward`'s ``parts``.

        ``offset_conv1[l]`` and ``cas_offset_conv1`` take ``[x, reference]`` concatenated, so each is the sum
        of two convolutions, one per half of its input channels (``W · [a; b] = W_a · a + W_b · b``). For
        a frame's pyramid ``levels`` this returns the neighbour halves ``W_a · l_k`` (no bias), the
        reference halves ``W_b · l_k + bias`` and the cascade's reference half ``W_b · l_1 + bias``: in a
        sliding window each frame is a neighbour five times and the reference once, so streaming inference
        computes these once per frame instead of the concatenated convolution once per pair (the same
        function; outputs agree with :meth:`forward` to ~1e-6)."""
        nbr_parts = [_half_conv(self.offset_conv1[f"l{i + 1}"], levels[i], 0) for i in range(3)]
        ref_parts = [_half_conv(self.offset_conv1[f"l{i + 1}"], levels[i], 1) for i in range(3)]
        return nbr_parts, ref_parts, _half_conv(self.cas_offset_conv1, levels[0], 1)

    def forward(self, nbr: list[Tensor], ref: list[Tensor],
                parts: tuple[list[Tensor], list[Tensor], Tensor] | None = None) -> Tensor:
        """``nbr``, ``ref``: features ``[l1, l2, l3]``, each ``(N, C, h/2^k, w/2^k)`` → aligned ``l1``.
        ``parts``: :meth:`split_parts` of the same neighbours and references (stacked alike), used in
        place of the concatenated first offset convolutions."""
        up_off: Tensor | None = None
        up_feat: Tensor | None = None
        feat = nbr[0]
        for i in (3, 2, 1):
            lv = f"l{i}"
            if parts is None:
                off = _lrelu(self.offset_conv1[lv](torch.cat([nbr[i - 1], ref[i - 1]], dim=1)))
            else:
                off = _lrelu(parts[0][i - 1] + parts[1][i - 1])
            if up_off is None:
                off = _lrelu(self.offset_conv2[lv](off))
            else:
                off = _lrelu(self.offset_conv2[lv](torch.cat([off, up_off], dim=1)))
                off = _lrelu(self.offset_conv3[lv](off))
            feat = self.dcn_pack[lv](nbr[i - 1], off)
            if up_feat is not None:
                feat = self.feat_conv[lv](torch.cat([feat, up_feat], dim=1))
            if i > 1:
                feat = _lrelu(feat)
                # offsets are in pixels of this level: double them with the resolution
                up_off, up_feat = _up2(off) * 2, _up2(feat)
        if parts is None:
            cas = self.cas_offset_conv1(torch.cat([feat, ref[0]], dim=1))
        else:
            cas = _half_conv(self.cas_offset_conv1, feat, 0) + parts[2]
        off = _lrelu(self.cas_offset_conv2(_lrelu(cas)))
        return _lrelu(self.cas_dcnpack(feat, off))


class TSAFusion(nn.Module):
    """Temporal and Spatial Attention fusion (Sec. 3.3, Fig. 4, eq. 5).

    Temporal: each aligned frame is weighted per pixel by ``sigmoid(<θ(F_t), φ(F_ref)>)``; the weighted
    frames are fused by a 1×1 conv. Spatial: a two-level max/avg-pool pyramid predicts a multiplicative
    mask ``2·sigmoid(a)`` and an additive term applied to the fused features.
    """

    def __init__(self, *, num_feat: int, num_frame: int, center_frame_idx: int) -> None:
        super().__init__()
        c, tc = num_feat, num_frame * num_feat
        self.center_frame_idx = center_frame_idx
        self.temporal_attn1 = nn.Conv2d(c, c, 3, 1, 1)
        self.temporal_attn2 = nn.Conv2d(c, c, 3, 1, 1)
        self.feat_fusion = nn.Conv2d(tc, c, 1, 1)
        self.spatial_attn1 = nn.Conv2d(tc, c, 1)
        self.spatial_attn2 = nn.Conv2d(2 * c, c, 1)
        self.spatial_attn3 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn4 = nn.Conv2d(c, c, 1)
        self.spatial_attn5 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn_l1 = nn.Conv2d(c, c, 1)
        self.spatial_attn_l2 = nn.Conv2d(2 * c, c, 3, 1, 1)
        self.spatial_attn_l3 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn_add1 = nn.Conv2d(c, c, 1)
        self.spatial_attn_add2 = nn.Conv2d(c, c, 1)

    @staticmethod
    def _pool_pair(x: Tensor) -> Tensor:
        return torch.cat([F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)], dim=1)

    def forward(self, aligned: Tensor) -> Tensor:
        """``aligned`` ``(N, T, C, h, w)`` → fused ``(N, C, h, w)``."""
        b, t, c, h, w = aligned.shape
        emb_ref = self.temporal_attn1(aligned[:, self.center_frame_idx])
        emb = self.temporal_attn2(aligned.reshape(b * t, c, h, w)).view(b, t, c, h, w)
        corr = torch.sigmoid((emb * emb_ref.unsqueeze(1)).sum(dim=2, keepdim=True))  # (N, T, 1, h, w)
        weighted = (aligned * corr).reshape(b, t * c, h, w)
        feat = _lrelu(self.feat_fusion(weighted))

        attn = _lrelu(self.spatial_attn1(weighted))
        attn = _lrelu(self.spatial_attn2(self._pool_pair(attn)))
        level = _lrelu(self.spatial_attn_l1(attn))
        level = _lrelu(self.spatial_attn_l2(self._pool_pair(level)))
        level = _up2(_lrelu(self.spatial_attn_l3(level)))
        attn = _lrelu(self.spatial_attn3(attn)) + level
        attn = self.spatial_attn5(_up2(_lrelu(self.spatial_attn4(attn))))
        add = self.spatial_attn_add2(_lrelu(self.spatial_attn_add1(attn)))
        return feat * torch.sigmoid(attn) * 2 + add


class EDVR(RestorationModel):
    """EDVR (window model): ``forward(clip (N, num_frame, C, H, W))`` → centre frame (see module doc).

    Defaults: EDVR-L deblurring (= ``EDVRConfig()``, 23,602,019 parameters), output at input size."""

    temporal_mode: ClassVar[str] = "window"
    uses_noise_map: ClassVar[bool] = False
    caches_frame_features: ClassVar[bool] = True

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 128,
        num_frame: int = 5,
        deformable_groups: int = 8,
        num_extract_block: int = 5,
        num_reconstruct_block: int = 40,
        center_frame_idx: int | None = None,
        hr_in: bool = True,
        with_predeblur: bool = True,
        with_tsa: bool = True,
        use_torchvision: bool | None = None,
        zero_init_output: bool = False,
        init: str = "pytorch",
        feat_stride: int = 4,
    ) -> None:
        """``feat_stride`` (``hr_in`` only): the resolution divisor of the features that are aligned, fused
        and reconstructed. 4 is EDVR's (two stride-2 convolutions in PreDeblur, a tail of two ×2 pixel
        shuffles); 2 keeps one stride-2 convolution and one pixel shuffle (``upconv2`` then maps to 64
        channels without shuffling); 1 keeps neither (``upconv1`` maps ``num_feat`` to ``num_feat``,
        ``upconv2`` to 64, both at input resolution). A workbench option, not part of EDVR: the mini
        profile uses it because the stride-4 mini EDVR does not leave its centre frame in 400 steps
        (docs/protocols.md §7). Parameter names are unchanged; stride 4 loads BasicSR's files.

        ``zero_init_output``: ``conv_last`` starts at zero, so the untrained model returns its centre frame
        (with ``hr_in``); off by default (BasicSR's initialisation).

        ``init``: ``"pytorch"`` (default; BasicSR's EDVR keeps PyTorch's default initialisation outside its
        residual blocks) or ``"kaiming"``: every plain and deformable convolution outside the residual
        blocks and the offset predictors is Kaiming-normal for LeakyReLU(0.1) (fan-in) with zero bias.
        Measured on the mini EDVR (32 features, 64² patches): with PyTorch's default the input signal
        shrinks through the ~20 plain convolutions before the trunk, so the gradient reaching the first
        layer is ~5e-8; with ``"kaiming"`` it is ~9. At ``feat_stride`` 4 neither init gets the mini EDVR
        off its centre frame (loss = noise variance for 100–400 steps, with ``zero_init_output``, without
        TSA, at lr 4e-4 and at 64 features too). Kaiming and TSA do not go together: at Kaiming's scale the
        temporal-attention logits ``<θ(F_t), φ(F_ref)>`` are ~14 in magnitude at initialisation (down to
        −29), 59 % of the sigmoids are below 1e-6, their gradient vanishes and the backward pass fills with
        subnormal floats (CPU training steps 3–20× slower). With PyTorch's init the aligned features are
        ~0.008 in scale and the logits ~0.002 (``tests/baselines/test_edvr.py`` measures both). The mini
        profile's EDVR (Table 1, Fig. 7) is ``feat_stride=1, with_tsa=False, init="kaiming",
        zero_init_output=True`` (docs/protocols.md §7)."""
        super().__init__()
        centre = num_frame // 2 if center_frame_idx is None else center_frame_idx
        if not 0 <= centre < num_frame:
            raise ValueError(f"center_frame_idx={centre} outside 0..{num_frame - 1}")
        if hr_in and num_out_ch != num_in_ch:
            raise ValueError("hr_in adds the centre input frame to the output: num_out_ch must be num_in_ch")
        if feat_stride not in HALVINGS or (feat_stride != 4 and not hr_in):
            raise ValueError(f"feat_stride={feat_stride}: use 4, or 2 or 1 with hr_in=True")
        self.feat_stride = feat_stride
        self.window = num_frame
        self.in_channels = num_in_ch
        self.center_frame_idx = centre
        self.hr_in = hr_in
        self.with_predeblur = with_predeblur
        self.with_tsa = with_tsa
        c = num_feat
        self.predeblur: PredeblurModule | None = None
        if with_predeblur:
            self.predeblur = PredeblurModule(num_in_ch=num_in_ch, num_feat=c, hr_in=hr_in,
                                             feat_stride=feat_stride)
            self.conv_1x1 = nn.Conv2d(c, c, 1, 1)
        else:
            if hr_in:
                raise ValueError("hr_in=True needs with_predeblur=True (its strided convolutions live there)")
            self.conv_first = nn.Conv2d(num_in_ch, c, 3, 1, 1)
        self.feature_extraction = _blocks(num_extract_block, c)
        self.conv_l2_1 = nn.Conv2d(c, c, 3, 2, 1)
        self.conv_l2_2 = nn.Conv2d(c, c, 3, 1, 1)
        self.conv_l3_1 = nn.Conv2d(c, c, 3, 2, 1)
        self.conv_l3_2 = nn.Conv2d(c, c, 3, 1, 1)
        self.pcd_align = PCDAlignment(num_feat=c, deformable_groups=deformable_groups,
                                      use_torchvision=use_torchvision)
        self.fusion: nn.Module = (
            TSAFusion(num_feat=c, num_frame=num_frame, center_frame_idx=centre)
            if with_tsa else nn.Conv2d(num_frame * c, c, 1, 1)
        )
        self.reconstruction = _blocks(num_reconstruct_block, c)
        # the tail is 64 channels wide whatever num_feat is (as in the released models)
        self.shuffles = HALVINGS[feat_stride]
        self.upconv1 = nn.Conv2d(c, (4 if self.shuffles >= 1 else 1) * c, 3, 1, 1)
        self.upconv2 = nn.Conv2d(c, (4 if self.shuffles == 2 else 1) * 64, 3, 1, 1)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, num_out_ch, 3, 1, 1)
        if init not in INITS:
            raise ValueError(f"init={init!r}: use one of {', '.join(INITS)}")
        if init == "kaiming":
            _kaiming_init(self)
        if zero_init_output:
            nn.init.zeros_(self.conv_last.weight)
            assert self.conv_last.bias is not None
            nn.init.zeros_(self.conv_last.bias)

    @property
    def scale(self) -> int:
        """Output size / input size: 1 with ``hr_in``, else 4."""
        return 1 if self.hr_in else 4

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """``clip`` ``(N, num_frame, C, H, W)`` float32 in [0, 1] → ``(N, C, scale·H, scale·W)``."""
        if clip.ndim != 5 or clip.shape[1] != self.window or clip.shape[2] != self.in_channels:
            raise ValueError(
                f"EDVR expects (N, {self.window}, {self.in_channels}, H, W) clips, got {tuple(clip.shape)}"
            )
        h, w = clip.shape[-2:]
        out = self._forward_aligned(self._padded(clip))
        return out[..., : h * self.scale, : w * self.scale]

    def _pyramid(self, frames: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-frame features ``(M, C, H', W')`` (padded input) → the three pyramid levels L1, L2, L3."""
        if self.predeblur is not None:
            l1 = self.conv_1x1(self.predeblur(frames))
        else:
            l1 = _lrelu(self.conv_first(frames))
        l1 = self.feature_extraction(l1)
        l2 = _lrelu(self.conv_l2_2(_lrelu(self.conv_l2_1(l1))))
        l3 = _lrelu(self.conv_l3_2(_lrelu(self.conv_l3_1(l2))))
        return l1, l2, l3

    def _padded(self, x: Tensor) -> Tensor:
        """``(..., C, H, W)`` reflect-padded (replicate when a side is shorter than its pad) at the
        bottom/right to the multiple the network needs."""
        h, w = x.shape[-2:]
        m = 4 * self.feat_stride if self.hr_in else 4
        ph, pw = (-h) % m, (-w) % m
        if not (ph or pw):
            return x
        mode = "reflect" if ph < h and pw < w else "replicate"
        flat = F.pad(x.reshape(-1, *x.shape[-3:]), (0, pw, 0, ph), mode=mode)
        return flat.view(*x.shape[:-2], h + ph, w + pw)

    def frame_features(self, frames: Tensor, noise_map: Tensor | None = None) -> FramePyramid:
        """One frame ``frames (N, 1, C, H, W)`` (``feature_span`` 1): the pyramid :meth:`forward` computes
        for every frame of a window before alignment, and the per-frame halves of PCD's first offset
        convolutions (:class:`FramePyramid`); ``noise_map`` is not used (blind)."""
        levels = self._pyramid(self._padded(frames[:, 0]))
        return FramePyramid(levels, *self.pcd_align.split_parts(levels))

    def from_frame_features(self, feats: list[Any], clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """:meth:`forward` of ``clip (N, num_frame, C, H, W)`` from its frames' :meth:`frame_features`."""
        if len(feats) != self.window:
            raise ValueError(f"EDVR needs {self.window} frame features, got {len(feats)}")
        h, w = clip.shape[-2:]
        c = self.center_frame_idx
        pyr = [torch.stack([f.levels[lv] for f in feats], dim=1) for lv in range(3)]
        n, t = pyr[0].shape[:2]
        parts = ([torch.stack([f.nbr_parts[lv] for f in feats], dim=1).flatten(0, 1) for lv in range(3)],
                 [_repeat(feats[c].ref_parts[lv], t) for lv in range(3)], _repeat(feats[c].cas_ref, t))
        out = self._fuse(pyr, self._padded(clip[:, c]), parts)
        return out[..., : h * self.scale, : w * self.scale]

    def _forward_aligned(self, x: Tensor) -> Tensor:
        b, t, c, h, w = x.shape
        levels = self._pyramid(x.reshape(b * t, c, h, w))
        return self._fuse([f.view(b, t, *f.shape[1:]) for f in levels], x[:, self.center_frame_idx])

    def _fuse(self, pyr: list[Tensor], centre: Tensor,
              parts: tuple[list[Tensor], list[Tensor], Tensor] | None = None) -> Tensor:
        """Pyramids ``(N, T, C, h_l, w_l)`` per level and the padded centre frame → the padded output;
        ``parts``: the pairs' :meth:`PCDAlignment.split_parts`, flattened like the pairs (``N·T`` first)."""
        n, t = pyr[0].shape[:2]
        # every frame (the reference too) aligned to the reference in one batch of N·T pairs: BasicSR's loop
        # over the T frames, computed at once (the same function; bigger products for the CPU)
        nbr = [f.flatten(0, 1) for f in pyr]
        ref = [f[:, self.center_frame_idx, None].expand_as(f).flatten(0, 1) for f in pyr]
        aligned = self.pcd_align(nbr, ref, parts).unflatten(0, (n, t))
        if self.with_tsa:
            feat = self.fusion(aligned)
        else:
            feat = self.fusion(aligned.flatten(1, 2))
        out = self.reconstruction(feat)
        out = self.upconv1(out)
        out = _lrelu(F.pixel_shuffle(out, 2) if self.shuffles >= 1 else out)
        out = self.upconv2(out)
        out = _lrelu(F.pixel_shuffle(out, 2) if self.shuffles == 2 else out)
        out = self.conv_last(_lrelu(self.conv_hr(out)))
        if self.hr_in:
            return out + centre
        return out + F.interpolate(centre, scale_factor=4, mode="bilinear", align_corners=False)


def _repeat(x: Tensor, t: int) -> Tensor:
    """``(N, ...)`` → ``(N·t, ...)``, each image ``t`` times in a row (the reference of each of ``t`` pairs)."""
    return x.unsqueeze(1).expand(x.shape[0], t, *x.shape[1:]).flatten(0, 1)


def build_edvr(config: str | EDVRConfig = "L-deblur", **overrides: Any) -> EDVR:
    """EDVR from a named configuration (:data:`EDVR_CONFIGS`) or an :class:`EDVRConfig`, with
    keyword ``overrides`` of single fields (e.g. ``num_in_ch=4``)."""
    if isinstance(config, str):
        if config not in EDVR_CONFIGS:
            raise ValueError(f"unknown EDVR config {config!r}; known: {', '.join(EDVR_CONFIGS)}")
        config = EDVR_CONFIGS[config]
    kwargs = dataclasses.asdict(config)
    kwargs.update(overrides)
    return EDVR(**kwargs)
