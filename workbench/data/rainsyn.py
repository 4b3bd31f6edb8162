"""The video deraining benchmarks on disk: RainSynLight25, RainSynComplex25, RainSynAll100, NTURain
(docs/protocols.md §3; layouts checked and opened by :mod:`workbench.data.paired_bench`).

=====================  ==============================================================  =====  ========
catalog id             folder under the data root (degraded / clean)                    first  test
=====================  ==============================================================  =====  ========
``rainsyn-light25``    ``RainSynLight25/video_rain_light/test/{input,processed}/<v>/``  1.png  25
``rainsyn-complex25``  ``RainSynComplex25/video_rain_heavy/test/{input,processed}/<v>/``  1.png  25
``rainsyn-all100``     ``RainSynAll100/test/{Rain_Haze,GT}/<v>/``                       1.jpg  100
``nturain``            ``NTURain/Dataset_Testing_Synthetic/{<v>_Rain,<v>_GT}/``           00001  8
=====================  ==============================================================  =====  ========

Each has a ``-train`` split beside it (``train/`` instead of ``test/``; NTURain
``Dataset_Training_Synthetic/t<k>_Rain_<NN>`` paired with ``t<k>_GT``, several rain renderings per scene).
Sources: J4RNet (Liu et al. CVPR 2018) README and the VDMamba README for the RainSyn25 layout (``input`` =
rainy, ``processed`` = ground truth, 1-indexed ``%d.png``); RMFD (Yang et al. TPAMI 2021)
``datasets_multiple_haze.py`` and its lists for RainSynAll100 (``Rain_Haze`` = the rendered input with streaks
and accumulation, ``GT``; test videos 0900–0999; the ``Haze``, ``Alpha`` and ``Trans`` folders beside them are
not read); SPAC-CNN's supplementary README and S2VD's test sets for NTURain (640×480 ``%05d.jpg``).

Counts: the test splits must be complete (25, 25, 100, 8 videos); training splits are not counted (190 videos
for RainSyn25 per RMFD's list; RainSynAll100's train list has 899 where the paper says 900). Every frame of a
video is read, including the first and last two that RMFD's test script does not produce: the frames a metric
leaves out are declared by the metric (:mod:`workbench.evaluate.paired`), not by the reader.
"""

from __future__ import annotations

from workbench.data.frameformat import FrameFormat
from workbench.data.paired_bench import PairedLayout

_J4R = ("download RainSynLight25/RainSynComplex25 from the links of J4RNet's README (github.com/flyywh/"
        "J4RNet-Deep-Video-Deraining-CVPR-2018) and unzip it under the data root")
_RMFD = ("download RainSynAll100 from the links of RMFD's README (github.com/flyywh/Recurrent-Multi-Frame-Deraining)"
         " and unpack it as <root>/RainSynAll100/{train,test}/{Rain_Haze,GT}/<video>/")
_NTU = ("download NTURain from SPAC-CNN's supplementary material (github.com/hotndy/SPAC-SupplementaryMaterials)"
        " and unpack it as <root>/NTURain/Dataset_Testing_Synthetic/")
_JPG_ALL100 = FrameFormat("RainSynAll100", extensions=(".jpg",))
_JPG_NTU = FrameFormat("NTURain", extensions=(".jpg",))


def _rainsyn25(title: str, set_folder: str, sub: str, split: str, videos: int | None) -> PairedLayout:
    return PairedLayout(title=f"{title} {split}", folder=f"{title}/{set_folder}/{split}", degraded="input",
                        clean="processed", frames=FrameFormat(title, extensions=(".png",)), first_frame=1,
                        videos=videos, obtain=_J4R + f" ({sub})")


LAYOUTS: dict[str, PairedLayout] = {
    "rainsyn-light25": _rainsyn25("RainSynLight25", "video_rain_light", "light", "test", 25),
    "rainsyn-light25-train": _rainsyn25("RainSynLight25", "video_rain_light", "light", "train", None),
    "rainsyn-complex25": _rainsyn25("RainSynComplex25", "video_rain_heavy", "heavy", "test", 25),
    "rainsyn-complex25-train": _rainsyn25("RainSynComplex25", "video_rain_heavy", "heavy", "train", None),
    "rainsyn-all100": PairedLayout(title="RainSynAll100 test", folder="RainSynAll100/test", degraded="Rain_Haze",
                                   clean="GT", frames=_JPG_ALL100, first_frame=1, videos=100, obtain=_RMFD),
    "rainsyn-all100-train": PairedLayout(title="RainSynAll100 train", folder="RainSynAll100/train",
                                         degraded="Rain_Haze", clean="GT", frames=_JPG_ALL100, first_frame=1,
                                         obtain=_RMFD),
    "nturain": PairedLayout(title="NTURain synthetic test", folder="NTURain/Dataset_Testing_Synthetic",
                            pairing="suffix", frames=_JPG_NTU, first_frame=1, videos=8, size_hw=(480, 640),
                            obtain=_NTU),
    "nturain-train": PairedLayout(title="NTURain synthetic train", folder="NTURain/Dataset_Training_Synthetic",
                                  pairing="suffix", frames=_JPG_NTU, first_frame=1, size_hw=(480, 640),
                                  obtain=_NTU),
}
