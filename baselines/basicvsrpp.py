"""BasicVSR++ adapted to video denoising: full-resolution features, no up-sampling.

Paper: K. C. K. Chan, S. Zhou, X. Xu, C. C. Loy, "BasicVSR++: Improving Video Super-Resolution with
Enhanced Propagation and Alignment", CVPR 2022 (Sec. 3.1 second-order grid propagation, Sec. 3.2
flow-guided deformable alignment; the offset-residue bound is "Eq. 6" in the official code's comments).
Architecture and checkpoint key layout read from XPixelGroup/BasicSR ``basicsr/archs/basicvsrpp_arch.py``
(commit 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a) and open-mmlab/mmagic
``mmagic/models/editors/basicvsr_plusplus_net/basicvsr_plusplus_net.py`` (commit
0a560bba9b79ebe78574e1d4cbbdd0e798e63568); the code is written for the workbench, parameter names follow
that layout (``feat_extract.main.*``, ``deform_align.<branch>.{weight,bias,conv_offset.*}``,
``backbone.<branch>.main.*``, ``reconstruction.main.*``, ``conv_hr``, ``conv_last``).

Denoising variants (NCFL paper, Tables 1/8; see ``docs/complexity.md``):

- the input-resolution configuration of the super-resolution network (``feat_extract`` = conv + 5
  residual blocks, flows at full resolution), with the ×4 tail replaced by a :data:`~baselines.basicvsr.Head`
  and the output ``input frame + head(reconstruction(...))``;
- ``BasicVSRPlusPlusUni``: only the ``forward_1`` (input 2C: spatial, propagated) and ``forward_2``
  (input 3C: spatial, forward_1, propagated) branches, reconstruction input 3C, one SPyNet flow per
  frame; second-order propagation needs only the two previous features of each branch and the previous
  flow, so it runs as a constant-memory recurrence (``temporal_mode="recurrent"``);
- ``BasicVSRPlusPlusBi``: the original four branches ``backward_1, forward_1, backward_2, forward_2``
  (``temporal_mode="clip"``).

The deformable convolution is :func:`workbench.ops.deform_conv.modulated_deform_conv2d` on every device
(BasicSR skips the alignment when CUDA is absent; here it never is).

Parameter counts (num_feat=64, num_block=7; SPyNet 1,440,300; each alignment module 509,872):

========== ============ ============ ============
direction  head "min"   head "hr"    head "up64"
========== ============ ============ ============
uni        4,531,215    4,568,143    4,641,999
bi         6,990,575    7,027,503    7,101,359
========== ============ ============ ============

Conventions: clips ``(N, T, 3, H, W)`` float32 RGB in ``[0, 1]``, ``H, W >= 64``; outputs not clamped;
blind (``noise_map`` ignored).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn

from baselines.basicvsr import ConvResidualBlocks, Head, HeadMixin, check_clip, pair_flows
from workbench.models.base import RestorationModel, forward_by_steps
from workbench.models.spynet import SPyNet
from workbench.models.warp import flow_warp
from workbench.ops.deform_conv import modulated_deform_conv2d

UNI_BRANCHES = ("forward_1", "forward_2")
BI_BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")


class SecondOrderDeformableAlignment(nn.Module):
    """Flow-guided deformable alignment (BasicVSR++ Sec. 3.2): a 3×3 modulated deformable conv
    (2C→C, 16 deformable groups) whose offsets are ``max_residue_magnitude · tanh(o)`` residues added to
    the two flows, and whose masks are ``sigmoid(m)``; ``(o, m)`` come from ``conv_offset`` applied to
    ``[warped features, current features, flow_1, flow_2]`` (3C + 4 channels)."""

    def __init__(self, *, channels: int, deformable_groups: int = 16, max_residue_magnitude: float = 10.0):
        super().__init__()
        self.deformable_groups = deformable_groups
        self.max_residue_magnitude = max_residue_magnitude
        self.weight = nn.Parameter(torch.empty(channels, 2 * channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * channels + 4, channels, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, 27 * deformable_groups, 3, 1, 1),
        )
        # zero residues at initialisation: alignment starts as pure flow warping
        last = self.conv_offset[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: Tensor, cond: Tensor, flow_1: Tensor, flow_2: Tensor) -> Tensor:
        """``x`` (N, 2C, H, W) = [feature t-1, feature t-2]; ``cond`` (N, 3C, H, W); flows (N, 2, H, W)
        in pixels (dx, dy) → aligned features (N, C, H, W)."""
        o1, o2, mask = torch.chunk(self.conv_offset(torch.cat([cond, flow_1, flow_2], dim=1)), 3, dim=1)
        off_1, off_2 = torch.chunk(self.max_residue_magnitude * torch.tanh(torch.cat([o1, o2], dim=1)), 2, 1)
        # the deformable-conv offsets are (dy, dx) pairs: flip the (dx, dy) flows
        off_1 = off_1 + flow_1.flip(1).repeat(1, off_1.shape[1] // 2, 1, 1)
        off_2 = off_2 + flow_2.flip(1).repeat(1, off_2.shape[1] // 2, 1, 1)
        return modulated_deform_conv2d(x, torch.cat([off_1, off_2], dim=1), torch.sigmoid(mask), self.weight,
                                       self.bias, 1, 1, 1, 1, self.deformable_groups)


class _BasicVSRPlusPlusBase(HeadMixin, RestorationModel):
    #: channels-last inference: 1.09× (uni) and 1.17× (bi) faster at the mini widths, 96×160, one thread
    #: (``workbench bench format``); the deformable convolution keeps its input's format
    inference_memory_format: ClassVar[str] = "channels_last"

    def __init__(self, *, branches: tuple[str, ...], num_feat: int, num_block: int, head: Head,
                 max_residue_magnitude: float, deformable_groups: int = 16) -> None:
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SPyNet()
        self.feat_extract = ConvResidualBlocks(in_channels=3, out_channels=num_feat, num_block=5)
        self.deform_align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, name in enumerate(branches):
            self.deform_align[name] = SecondOrderDeformableAlignment(
                channels=num_feat, deformable_groups=deformable_groups, max_residue_magnitude=max_residue_magnitude)
            self.backbone[name] = ConvResidualBlocks(in_channels=(2 + i) * num_feat, out_channels=num_feat,
                                                     num_block=num_block)
        self.reconstruction = ConvResidualBlocks(in_channels=(1 + len(branches)) * num_feat,
                                                 out_channels=num_feat, num_block=5)
        self._build_head(head, num_feat)

    def _propagate(self, branch: str, current: Tensor, extra: list[Tensor], prev: Tensor | None,
                   prev2: Tensor | None, flow_n1: Tensor | None, flow_prev: Tensor | None) -> Tensor:
        """One step of branch ``branch`` at one frame. ``current`` = spatial features (N, C, H, W);
        ``extra`` = this frame's features of the earlier branches; ``prev``/``prev2`` = this branch's
        outputs one/two steps back (None at the sequence start); ``flow_n1`` = flow current→previous,
        ``flow_prev`` = previous→the one before (pixels). Second-order grid propagation (Sec. 3.1)."""
        if prev is None or flow_n1 is None:
            feat_prop = torch.zeros_like(current)
        else:
            cond_n1 = flow_warp(prev, flow_n1)
            if prev2 is None or flow_prev is None:
                # first-order step (second frame of the branch): the t-2 inputs are zeros
                feat_n2, cond_n2 = torch.zeros_like(prev), torch.zeros_like(prev)
                flow_n2 = torch.zeros_like(flow_n1)
            else:
                flow_n2 = flow_n1 + flow_warp(flow_prev, flow_n1)
                feat_n2, cond_n2 = prev2, flow_warp(prev2, flow_n2)
            cond = torch.cat([cond_n1, current, cond_n2], dim=1)
            feat_prop = self.deform_align[branch](torch.cat([prev, feat_n2], dim=1), cond, flow_n1, flow_n2)
        return feat_prop + self.backbone[branch](torch.cat([current, *extra, feat_prop], dim=1))

    def _output(self, frame: Tensor, feats: list[Tensor]) -> Tensor:
        return frame + self._head(self.reconstruction(torch.cat(feats, dim=1)))


class PlusPlusState(NamedTuple):
    """Recurrent state after frame t-1: the frame, the flow (t-1 → t-2) and, per branch, the outputs
    at t-1 and t-2 (``None`` where the sequence is shorter)."""

    frame: Tensor
    flow: Tensor | None
    f1: Tensor
    f1_prev: Tensor | None
    f2: Tensor
    f2_prev: Tensor | None


class BasicVSRPlusPlusUni(_BasicVSRPlusPlusBase):
    """Uni-directional BasicVSR++ (``forward_1``, ``forward_2``) as a recurrence over frames."""

    temporal_mode: ClassVar[str] = "recurrent"

    def __init__(self, *, num_feat: int = 64, num_block: int = 7, head: Head = "hr",
                 max_residue_magnitude: float = 10.0, deformable_groups: int = 16) -> None:
        super().__init__(branches=UNI_BRANCHES, num_feat=num_feat, num_block=num_block, head=head,
                         max_residue_magnitude=max_residue_magnitude, deformable_groups=deformable_groups)

    def step(
        self, frame: Tensor, state: Any, noise_map: Tensor | None = None
    ) -> tuple[Tensor, PlusPlusState]:
        """One frame (N, 3, H, W) → (restored (N, 3, H, W), :class:`PlusPlusState`); ``state=None`` at t=0."""
        spatial = self.feat_extract(frame)
        if state is None:
            f1 = self._propagate("forward_1", spatial, [], None, None, None, None)
            f2 = self._propagate("forward_2", spatial, [f1], None, None, None, None)
            return self._output(frame, [spatial, f1, f2]), PlusPlusState(frame, None, f1, None, f2, None)
        flow = self.spynet(frame, state.frame)
        f1 = self._propagate("forward_1", spatial, [], state.f1, state.f1_prev, flow, state.flow)
        f2 = self._propagate("forward_2", spatial, [f1], state.f2, state.f2_prev, flow, state.flow)
        return self._output(frame, [spatial, f1, f2]), PlusPlusState(frame, flow, f1, state.f1, f2, state.f2)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Clip (N, T, 3, H, W) → restored clip (N, T, 3, H, W) by looping :meth:`step`."""
        check_clip(clip)
        return forward_by_steps(self, clip, noise_map)


class BasicVSRPlusPlusBi(_BasicVSRPlusPlusBase):
    """Bi-directional BasicVSR++: branches backward_1, forward_1, backward_2, forward_2 over the clip."""

    temporal_mode: ClassVar[str] = "clip"

    def __init__(self, *, num_feat: int = 64, num_block: int = 7, head: Head = "hr",
                 max_residue_magnitude: float = 10.0, deformable_groups: int = 16) -> None:
        super().__init__(branches=BI_BRANCHES, num_feat=num_feat, num_block=num_block, head=head,
                         max_residue_magnitude=max_residue_magnitude, deformable_groups=deformable_groups)

    def forward(self, clip: Tensor, noise_map: Tensor | None = None) -> Tensor:
        """Clip (N, T, 3, H, W) → restored clip (N, T, 3, H, W)."""
        check_clip(clip)
        n, t, c, h, w = clip.shape
        spatial = list(self.feat_extract(clip.reshape(-1, c, h, w)).view(n, t, -1, h, w).unbind(1))
        to_next, to_prev = pair_flows(self.spynet, clip)
        done: list[list[Tensor]] = []
        for branch in BI_BRANCHES:
            backward = branch.startswith("backward")
            flows, order = (to_next, range(t - 1, -1, -1)) if backward else (to_prev, range(t))
            out: list[Tensor | None] = [None] * t
            prev: Tensor | None = None
            prev2: Tensor | None = None
            flow_prev: Tensor | None = None
            for idx in order:
                # flow from frame idx to the previously processed neighbour (idx+1 backward, idx-1 forward)
                flow = None if prev is None else flows[:, idx if backward else idx - 1]
                feat = self._propagate(branch, spatial[idx], [d[idx] for d in done], prev, prev2, flow,
                                       flow_prev)
                out[idx], prev, prev2, flow_prev = feat, feat, prev, flow
            done.append([f for f in out if f is not None])
        return torch.stack([self._output(clip[:, i], [spatial[i], *(d[i] for d in done)]) for i in range(t)],
                           dim=1)


def build_basicvsrpp(
    *, direction: Literal["uni", "bi"] = "uni", num_feat: int = 64, num_block: int = 7, head: Head = "hr"
) -> BasicVSRPlusPlusUni | BasicVSRPlusPlusBi:
    """``BasicVSRPlusPlusUni`` (``direction="uni"``) or ``BasicVSRPlusPlusBi`` (``"bi"``)."""
    if direction == "uni":
        return BasicVSRPlusPlusUni(num_feat=num_feat, num_block=num_block, head=head)
    if direction == "bi":
        return BasicVSRPlusPlusBi(num_feat=num_feat, num_block=num_block, head=head)
    raise ValueError(f"direction={direction!r}; expected 'uni' or 'bi'")
