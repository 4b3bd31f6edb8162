"""REVIDE-indoor, the real hazy/clean video pairs of CG-IDN (Zhang et al. CVPR 2021), docs/protocols.md §4.

Layout under the data root (MMagic/MAP-Net ``configs/.../revide.py``: ``filename_tmpl='{:05d}.JPG'``; REVIDE-utils
and Video-Dehazing-Extension agree on ``Train``/``Test`` with ``hazy``/``gt``)::

    REVIDE_indoor/Test/hazy/<video>/00000.JPG ...     6 test videos (E005, E006, J004, L006, W002 and one more)
    REVIDE_indoor/Test/gt/<video>/00000.JPG ...
    REVIDE_indoor/Train/{hazy,gt}/<video>/...         42 training videos

Frames are upper-case ``.JPG``, numbered from ``00000``; the reader accepts the extension in any case. Only the
indoor part is released (2021-08-08). The frame size (2708×1800 recalled from the paper) is **[unconfirmed]**,
so it is not checked beyond "one size per video, the same for hazy and gt".
"""

from __future__ import annotations

from workbench.data.frameformat import FrameFormat
from workbench.data.paired_bench import PairedLayout

_OBTAIN = ("REVIDE-indoor comes from the links of github.com/BookerDeWitt/REVIDE_Dataset; unpack it as "
           "<root>/REVIDE_indoor/{Train,Test}/{hazy,gt}/<video>/<%05d>.JPG")
_FRAMES = FrameFormat("REVIDE", extensions=(".jpg",))

LAYOUTS: dict[str, PairedLayout] = {
    "revide-indoor": PairedLayout(title="REVIDE-indoor Test", folder="REVIDE_indoor/Test", degraded="hazy",
                                  clean="gt", frames=_FRAMES, first_frame=0, videos=6, obtain=_OBTAIN),
    "revide-indoor-train": PairedLayout(title="REVIDE-indoor Train", folder="REVIDE_indoor/Train", degraded="hazy",
                                        clean="gt", frames=_FRAMES, first_frame=0, videos=42, obtain=_OBTAIN),
}
