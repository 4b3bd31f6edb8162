"""The codec study of the paper's motivation (§3, Fig. 2): x265 vs a learned codec on noisy video."""

from workbench.evaluate.codec.params import CodecStudyParams
from workbench.evaluate.codec.study import CODEC_STUDY_CELL, run_codec_study

__all__ = ["CODEC_STUDY_CELL", "CodecStudyParams", "run_codec_study"]
