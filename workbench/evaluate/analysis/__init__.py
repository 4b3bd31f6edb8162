"""Measured numbers behind the paper's analysis figures (Figs. 1c, 4, 6, 7 of Huang et al., CVPR 2022).

- :mod:`.probe`: forward hooks that read NCFL's intermediate tensors (flow before/after MVR, the
  compression module's input ĉ_t, output c~_t, latent e_t, μ_t, q_t) without changing the model;
- :mod:`.robustness`: distance of noisy features to clean ones, spread between noise realisations,
  agreement of quantized symbols (Fig. 1c, §4.3's claim);
- :mod:`.embedding`: the t-SNE embedding (perplexity, seed and sampling recorded);
- :mod:`.flow`: endpoint error against a ground-truth flow (Fig. 4);
- :mod:`.qmap`: local variance and the rank correlation of the step map q with it (Fig. 6);
- :mod:`.features`, :mod:`.motion`, :mod:`.stepmap`, :mod:`.crops`: the per-figure studies that run a
  trained model over one sequence and return long-format rows plus side files.
"""
