"""RViDeNet: "Supervised Raw Video Denoising with a Benchmark Dataset on Dynamic Scenes" (Yue, Cao, Liao,
Chu, Yang; CVPR 2020), the CRVD authors' network (Table 2 of the NCFL paper).

Written for the workbench from the paper (Fig. 3) and the official code cao-cong/RViDeNet@4615032b01
``models.py`` (``RViDeNet``, ``Predenoiser``, ``Alignment``, ``Non_Local_Attention``, ``Temporal_Fusion``),
``modules/cbam.py``, ``modules/dual_attention.py`` and ``modules/cc_attention`` (read, not copied). Parameter
names follow the official checkpoint layout, except the deformable convolutions' offset branch
(``*_dcnpack.conv_offset`` here, ``conv_offset_mask`` in DCNv2's ``DCN_sep``).

Per output frame (``temporal_mode = "window"``, 3 frames, centre = 1; blind):

1. **pre-denoising**: a 4-level U-Net on each packed frame (``Predenoiser``: widths p, 2p, 4p, 8p with
   p = 64, LeakyReLU 0.2 as ``max(0.2x, x)``, max-pool down, 2×2 transposed-conv up, 1×1 conv to 4 planes);
2. each of the 4 Bayer planes is processed **separately** (planes folded into the batch): a 1-channel
   conv, ``front_RBs`` residual blocks and two stride-2 levels give a 3-level pyramid of ``nf`` features,
   for the noisy and the pre-denoised frames with shared weights;
3. **alignment** (PCD-like, ``Alignment``): offsets from the pre-denoised features, the same deformable
   convolutions applied to the noisy and the pre-denoised features, a cascading DCN on the noisy ones;
4. **non-local attention** on the aligned noisy features: criss-cross spatial attention (applied twice,
   shared weights), channel attention (DANet CAM) and temporal attention (over the frames), each between
   3×3 convs with ReLU, summed, 1×1 conv, residual;
5. **temporal fusion** (EDVR's TSA: correlation to the centre frame, pyramid spatial attention) → ``nf``;
6. the 4 planes' fused features concatenated (``4·nf``) → ``back_RBs`` residual blocks → CBAM (reduction
   16, avg+max channel gate, 7×7 spatial gate) → 3×3 conv to 4 planes, plus the centre noisy frame.

Criss-cross attention (a CUDA operator in the official code) is written in plain PyTorch: at pixel (y, x) the
softmax runs over the H + W − 1 positions of its row and column (the pixel itself once), exactly the
operator's support; the deformable convolutions use :class:`workbench.ops.DCNv2Pack`. Parity with the official
``models.py`` (its two CUDA operators stubbed, tests/data_parity/README.md): max |difference| 6.0e-8 at full size
(8,572,916 parameters in both).

Defaults (official): ``nf=16, nframes=3, groups=1, front_RBs=5, back_RBs=10``, pre-denoiser width 64.
Input ``(N, 3, 4, H, W)`` normalised packed raw, H and W multiples of 8 (inference pads:
``size_multiple``); output the centre frame ``(N, 4, H, W)``, not clamped.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.blocks import ResidualBlockNoBN
from workbench.models.base import RestorationModel
from workbench.ops import DCNv2Pack


def _lrelu02(x: Tensor) -> Tensor:
    return torch.max(0.2 * x, x)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.1)


class Predenoiser(nn.Module):
    """The pre-denoising U-Net (official ``Predenoiser``): ``(N, 4, H, W)`` → ``(N, 4, H, W)``."""

    def __init__(self, *, channels: int = 64) -> None:
        super().__init__()
        c = channels
        widths = [(4, c), (c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)]
        for i, (cin, cout) in enumerate(widths, start=1):
            setattr(self, f"conv{i}_1", nn.Conv2d(cin, cout, 3, 1, 1))
            setattr(self, f"conv{i}_2", nn.Conv2d(cout, cout, 3, 1, 1))
        for i, cout in zip((5, 6, 7), (4 * c, 2 * c, c)):
            setattr(self, f"upv{i}", nn.ConvTranspose2d(2 * cout, cout, 2, stride=2))
            setattr(self, f"conv{i}_1", nn.Conv2d(2 * cout, cout, 3, 1, 1))
            setattr(self, f"conv{i}_2", nn.Conv2d(cout, cout, 3, 1, 1))
        self.conv8_1 = nn.Conv2d(c, 4, 1)

    def _double(self, i: int, x: Tensor) -> Tensor:
        x = _lrelu02(getattr(self, f"conv{i}_1")(x))
        return _lrelu02(getattr(self, f"conv{i}_2")(x))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i in (1, 2, 3):
            x = self._double(i, x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self._double(4, x)
        for i, skip in zip((5, 6, 7), reversed(skips)):
            x = self._double(i, torch.cat([getattr(self, f"upv{i}")(x), skip], dim=1))
        return self.conv8_1(x)


def _dcn(nf: int, groups: int) -> DCNv2Pack:
    return DCNv2Pack(in_channels=nf, out_channels=nf, kernel_size=3, stride=1, padding=1, deformable_groups=groups)


class Alignment(nn.Module):
    """PCD-like alignment of one neighbour to the centre; offsets from the pre-denoised pyramids."""

    def __init__(self, *, nf: int, groups: int) -> None:
        super().__init__()
        for lv in ("L3", "L2", "L1"):
            setattr(self, f"{lv}_offset_conv1", nn.Conv2d(2 * nf, nf, 3, 1, 1))
            setattr(self, f"{lv}_offset_conv2", nn.Conv2d(nf if lv == "L3" else 2 * nf, nf, 3, 1, 1))
            if lv != "L3":
                setattr(self, f"{lv}_offset_conv3", nn.Conv2d(nf, nf, 3, 1, 1))
                setattr(self, f"{lv}_fea_conv", nn.Conv2d(2 * nf, nf, 3, 1, 1))
            setattr(self, f"{lv}_dcnpack", _dcn(nf, groups))
        self.cas_offset_conv1 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.cas_offset_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.cas_dcnpack = _dcn(nf, groups)

    def forward(self, nbr: list[Tensor], nbr_pre: list[Tensor], ref_pre: list[Tensor]) -> Tensor:
        """Pyramids (L1, L2, L3) of the neighbour (noisy, pre-denoised) and the centre (pre-denoised)."""
        offset: Tensor | None = None
        fea = fea_pre = None
        for k, lv in ((2, "L3"), (1, "L2"), (0, "L1")):
            o = _lrelu(getattr(self, f"{lv}_offset_conv1")(torch.cat([nbr_pre[k], ref_pre[k]], dim=1)))
            if offset is not None:
                up = F.interpolate(offset, scale_factor=2, mode="bilinear", align_corners=False)
                o = _lrelu(getattr(self, f"{lv}_offset_conv2")(torch.cat([o, up * 2], dim=1)))
                o = _lrelu(getattr(self, f"{lv}_offset_conv3")(o))
            else:
                o = _lrelu(getattr(self, f"{lv}_offset_conv2")(o))
            offset = o
            dcn = getattr(self, f"{lv}_dcnpack")
            new_pre, new = dcn(nbr_pre[k], o), dcn(nbr[k], o)
            if fea is None or fea_pre is None:  # L3
                fea_pre, fea = _lrelu(new_pre), _lrelu(new)
                continue
            conv = getattr(self, f"{lv}_fea_conv")
            up_pre = F.interpolate(fea_pre, scale_factor=2, mode="bilinear", align_corners=False)
            up = F.interpolate(fea, scale_factor=2, mode="bilinear", align_corners=False)
            fea_pre, fea = conv(torch.cat([new_pre, up_pre], dim=1)), conv(torch.cat([new, up], dim=1))
            if lv == "L2":
                fea_pre, fea = _lrelu(fea_pre), _lrelu(fea)
        assert fea is not None and fea_pre is not None
        o = _lrelu(self.cas_offset_conv1(torch.cat([fea_pre, ref_pre[0]], dim=1)))
        o = _lrelu(self.cas_offset_conv2(o))
        return _lrelu(self.cas_dcnpack(fea, o))


class CrissCrossAttention(nn.Module):
    """CCNet's criss-cross attention in plain PyTorch (query/key ``C/8``, value ``C``, ``gamma`` from 0)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query_conv = nn.Conv2d(channels, max(channels // 8, 1), 1)
        self.key_conv = nn.Conv2d(channels, max(channels // 8, 1), 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.query_conv(x), self.key_conv(x), self.value_conv(x)
        h = x.shape[-2]
        row = torch.einsum("ncyx,ncyi->nyxi", q, k)  # (N, H, W, W): the pixel's row, itself included
        col = torch.einsum("ncyx,ncjx->nyxj", q, k)  # (N, H, W, H): its column, itself masked out below
        col = col.masked_fill(torch.eye(h, dtype=torch.bool, device=x.device).view(1, h, 1, h), float("-inf"))
        att = torch.softmax(torch.cat([row, col], dim=-1), dim=-1)
        w = x.shape[-1]
        out = torch.einsum("nyxi,ncyi->ncyx", att[..., :w], v) + torch.einsum("nyxj,ncjx->ncyx", att[..., w:], v)
        return self.gamma * out + x


class _GramAttention(nn.Module):
    """DANet-style attention over the channel axis of ``(B, K, H, W)`` (CAM over channels, TAM over frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        b, k, h, w = x.shape
        flat = x.reshape(b, k, h * w)
        energy = torch.bmm(flat, flat.transpose(1, 2))
        att = torch.softmax(energy.max(dim=-1, keepdim=True)[0].expand_as(energy) - energy, dim=-1)
        return self.gamma * torch.bmm(att, flat).view(b, k, h, w) + x


def _conv_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.ReLU())


class NonLocalAttention(nn.Module):
    """Spatial (criss-cross ×2), channel and temporal non-local attention on ``(B, N, C, H, W)``."""

    def __init__(self, *, nf: int, nframes: int) -> None:
        super().__init__()
        self.conv_before_cca, self.conv_after_cca = _conv_relu(nf, nf), _conv_relu(nf, nf)
        self.conv_before_ca, self.conv_after_ca = _conv_relu(nf, nf), _conv_relu(nf, nf)
        self.conv_before_ta, self.conv_after_ta = _conv_relu(nframes, nframes), _conv_relu(nframes, nframes)
        self.cca = CrissCrossAttention(nf)
        self.ca, self.ta = _GramAttention(), _GramAttention()
        self.conv_final = nn.Conv2d(nf, nf, 1)
        self.recurrence = 2

    def forward(self, fea: Tensor) -> Tensor:
        b, n, c, h, w = fea.shape
        flat = fea.reshape(-1, c, h, w)
        s = self.conv_before_cca(flat)
        for _ in range(self.recurrence):
            s = self.cca(s)
        spatial = self.conv_after_cca(s).reshape(b, n, c, h, w)
        channel = self.conv_after_ca(self.ca(self.conv_before_ca(flat))).reshape(b, n, c, h, w)
        t = self.conv_before_ta(fea.permute(0, 2, 1, 3, 4).reshape(-1, n, h, w))
        temporal = self.conv_after_ta(self.ta(t)).reshape(b, c, n, h, w).permute(0, 2, 1, 3, 4)
        out = self.conv_final((spatial + channel + temporal).reshape(-1, c, h, w)).reshape(b, n, c, h, w)
        return fea + out


class TemporalFusion(nn.Module):
    """EDVR's temporal-spatial attention fusion (official ``Temporal_Fusion``) → ``(B, nf, H, W)``."""

    def __init__(self, *, nf: int, nframes: int, center: int) -> None:
        super().__init__()
        self.center = center
        self.tAtt_1, self.tAtt_2 = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_fusion = nn.Conv2d(nframes * nf, nf, 1)
        self.sAtt_1 = nn.Conv2d(nframes * nf, nf, 1)
        self.sAtt_2 = nn.Conv2d(2 * nf, nf, 1)
        self.sAtt_3, self.sAtt_4 = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 1)
        self.sAtt_5 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.sAtt_L1, self.sAtt_L2 = nn.Conv2d(nf, nf, 1), nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.sAtt_L3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.sAtt_add_1, self.sAtt_add_2 = nn.Conv2d(nf, nf, 1), nn.Conv2d(nf, nf, 1)

    @staticmethod
    def _pool(x: Tensor) -> Tensor:
        return torch.cat([F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)], dim=1)

    def forward(self, fea: Tensor) -> Tensor:
        b, n, c, h, w = fea.shape
        emb_ref = self.tAtt_2(fea[:, self.center])
        emb = self.tAtt_1(fea.reshape(-1, c, h, w)).view(b, n, -1, h, w)
        prob = torch.sigmoid((emb * emb_ref.unsqueeze(1)).sum(dim=2))  # (B, N, H, W)
        fea = (fea * prob.unsqueeze(2)).reshape(b, -1, h, w)
        out = _lrelu(self.fea_fusion(fea))
        att = _lrelu(self.sAtt_2(self._pool(_lrelu(self.sAtt_1(fea)))))
        att_l = _lrelu(self.sAtt_L3(_lrelu(self.sAtt_L2(self._pool(_lrelu(self.sAtt_L1(att)))))))
        att = _lrelu(self.sAtt_3(att)) + F.interpolate(att_l, scale_factor=2, mode="bilinear", align_corners=False)
        att = F.interpolate(_lrelu(self.sAtt_4(att)), scale_factor=2, mode="bilinear", align_corners=False)
        att = self.sAtt_5(att)
        add = self.sAtt_add_2(_lrelu(self.sAtt_add_1(att)))
        return out * torch.sigmoid(att) * 2 + add


class _ChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        gate = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(gate)[..., None, None]


class _BasicConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, 1, 3)


class _SpatialGate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.spatial = _BasicConv()

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.max(dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial.conv(pooled))


class CBAM(nn.Module):
    """Convolutional block attention (official ``modules/cbam.py``): channel gate (avg + max, MLP with
    reduction ``reduction``), then spatial gate (7×7 conv over channel max and mean)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.ChannelGate = _ChannelGate(channels, reduction)
        self.SpatialGate = _SpatialGate()

    def forward(self, x: Tensor) -> Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class RViDeNet(RestorationModel):
    """RViDeNet (module docstring)."""

    temporal_mode: ClassVar[str] = "window"
    in_channels = 4
    size_multiple = 8

    def __init__(self, *, nf: int = 16, nframes: int = 3, groups: int = 1, front_RBs: int = 5,  # noqa: N803
                 back_RBs: int = 10, predenoiser_channels: int = 64) -> None:  # noqa: N803
        super().__init__()
        self.window = nframes
        self.center = nframes // 2
        self.pre_denoise = Predenoiser(channels=predenoiser_channels)
        self.conv_first = nn.Conv2d(1, nf, 3, 1, 1)
        self.feature_extraction = nn.Sequential(*(ResidualBlockNoBN(num_feat=nf) for _ in range(front_RBs)))
        self.fea_L2_conv1, self.fea_L2_conv2 = nn.Conv2d(nf, nf, 3, 2, 1), nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_L3_conv1, self.fea_L3_conv2 = nn.Conv2d(nf, nf, 3, 2, 1), nn.Conv2d(nf, nf, 3, 1, 1)
        self.align = Alignment(nf=nf, groups=groups)
        self.non_local_attention = NonLocalAttention(nf=nf, nframes=nframes)
        self.temporal_fusion = TemporalFusion(nf=nf, nframes=nframes, center=self.center)
        self.recon_trunk = nn.Sequential(*(ResidualBlockNoBN(num_feat=4 * nf) for _ in range(back_RBs)))
        self.cbam = CBAM(4 * nf, 16)
        self.conv_last = nn.Conv2d(4 * nf, 4, 3, 1, 1)

    def _pyramid(self, planes: Tensor) -> list[Tensor]:
        """``(B·4·N, 1, H, W)`` single planes → features at 1, 1/2, 1/4 resolution."""
        l1 = self.feature_extraction(_lrelu(self.conv_first(planes)))
        l2 = _lrelu(self.fea_L2_conv2(_lrelu(self.fea_L2_conv1(l1))))
        l3 = _lrelu(self.fea_L3_conv2(_lrelu(self.fea_L3_conv1(l2))))
        return [l1, l2, l3]

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """``clip`` (B, N, 4, H, W) → centre frame (B, 4, H, W); ``noise_map`` is ignored (blind)."""
        if clip.dim() != 5 or clip.shape[1] != self.window or clip.shape[2] != 4:
            raise ValueError(f"RViDeNet expects (B, {self.window}, 4, H, W), got {tuple(clip.shape)}")
        b, n, c, h, w = clip.shape
        pre = self.pre_denoise(clip.reshape(-1, c, h, w)).view(b, n, c, h, w)

        def planes(x: Tensor) -> Tensor:  # (B, N, C, H, W) → (C·B·N, 1, H, W), plane-major as the official code
            return x.permute(2, 0, 1, 3, 4).reshape(-1, 1, h, w)

        def per_frame(levels: list[Tensor]) -> list[Tensor]:
            return [f.view(c * b, n, *f.shape[1:]) for f in levels]

        noisy, denoised = per_frame(self._pyramid(planes(clip))), per_frame(self._pyramid(planes(pre)))
        ref_pre = [f[:, self.center] for f in denoised]
        aligned = torch.stack([self.align([f[:, i] for f in noisy], [f[:, i] for f in denoised], ref_pre)
                               for i in range(n)], dim=1)
        fused = self.temporal_fusion(self.non_local_attention(aligned))  # (C·B, nf, H, W)
        fused = fused.view(c, b, -1, h, w).permute(1, 0, 2, 3, 4).reshape(b, -1, h, w)
        out = self.conv_last(self.cbam(self.recon_trunk(fused)))
        return out + clip[:, self.center]


__all__ = ["RViDeNet"]
