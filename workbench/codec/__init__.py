"""Codecs of the motivation study: our RGB↔YUV 4:2:0 conversion, x265 through ffmpeg, and a
scale-hyperprior learned codec (Ballé et al. 2018) with real ANS bitstreams (constriction)."""
