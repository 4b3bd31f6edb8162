"""Codecs of the motivation study: our RGB↔YUV 4:2:0 conversion, x265 through ffmpeg, and a
scale-hyperprior learned codec (Ballé et al. 2018) and its mean-scale variant (Minnen et al. 2018) with real ANS
bitstreams (constriction), and the importer of CompressAI's published weights for them."""
