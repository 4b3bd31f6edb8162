"""Datasets: streaming frame sequences read from disk, and embedded mini datasets built from package media.

- :mod:`~workbench.data.sequence` — Sequence / ArraySequence / PairedSequence (float32 (H, W, C) in [0, 1]),
  ``require_length`` (refuses a sequence shorter than a model's window or a protocol's frames);
- :mod:`~workbench.data.readers` — FolderSequence (image folders), VideoFileSequence (via the ffmpeg binary);
- :mod:`~workbench.data.frameformat` — the frame files a dataset declares (default 8-bit RGB); others refused;
- :mod:`~workbench.data.set8`, :mod:`~workbench.data.davis` — real datasets with layout checks;
- :mod:`~workbench.data.paired` — degraded/clean folder pairs (CRVD, RainSyn, REVIDE);
- :mod:`~workbench.data.raw` — Bayer packing and raw normalisation; :mod:`~workbench.data.sensors` — the raw
  sensors' facts (CRVD: GBRG, black 240, white 4095, noise per ISO) and :mod:`~workbench.data.sensor_noise` their
  seeded Poisson–Gaussian sampler; :mod:`~workbench.data.rawtiff` — 16-bit TIFF mosaics;
- :mod:`~workbench.data.crvd`, :mod:`~workbench.data.srvd` — CRVD (three layouts, paired raw sequences) and SRVD
  (reader, and the build from MOT17 with :mod:`~workbench.data.unprocess`, RViDeNet's unprocessing);
  :mod:`~workbench.data.embedded_raw` — the embedded RGB clips unprocessed and noised per ISO (raw smoke data);
- :mod:`~workbench.data.embedded` — ``embedded-train`` / ``embedded-test`` (camera clips + synthetic motion
  with ground-truth flow), built on first use, bit-identical everywhere (committed checksums);
  :mod:`~workbench.data.yuv` and :mod:`~workbench.data.pngfile` — the integer colour/resampling and the
  byte-exact PNG writer it uses;
- :mod:`~workbench.data.catalog` — ``open_dataset(name)``, ``check_dataset``, ``dataset_checksums``.
"""
