"""Sensor facts of the raw video data, in one place (read by the loaders, the noise model and the metric).

CRVD (Yue et al., "Supervised Raw Video Denoising with a Benchmark Dataset on Dynamic Scenes", CVPR 2020;
official code cao-cong/RViDeNet@4615032b01, docs/protocols.md §2):

- Bayer pattern ``GBRG`` (top-left 2×2 block G B / R G), black level 240, white level 2^12 − 1 = 4095
  (README; ``utils.pack_gbrg_raw``); frames are single-channel 16-bit TIFF, 1080×1920 (H×W);
- five ISO levels; the Poisson–Gaussian noise parameters per ISO in 12-bit DN after black-level
  subtraction (``train_pretrain.py`` ``a_list``/``b_list``, ``synthesize_noise.py``): ``a`` = σ_s² (the
  shot-noise gain: Var[shot] = a · (x − black)), ``b`` = σ_r² (the read-noise variance, DN²).

SRVD (RViDeNet ``sRGB_to_raw.py``) is unprocessed into the same sensor: same pattern, black and white level.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NoiseParams:
    """Poisson–Gaussian parameters of one ISO: variance ``a · (x − black) + b`` in DN² (x in DN)."""

    iso: int
    a: float
    b: float

    def normalized(self, black: float, white: float) -> tuple[float, float]:
        """``(a_n, b_n)`` in normalised units ``(x − black) / (white − black)``: variance ``a_n · x_n + b_n``."""
        span = white - black
        return self.a / span, self.b / span**2


@dataclass(frozen=True)
class Sensor:
    """One raw sensor: Bayer pattern, black/white level (DN), frame size (H, W), noise per ISO."""

    name: str
    pattern: str
    black: int
    white: int
    height: int
    width: int
    noise: tuple[NoiseParams, ...]

    @property
    def isos(self) -> tuple[int, ...]:
        return tuple(p.iso for p in self.noise)

    def noise_at(self, iso: int) -> NoiseParams:
        for p in self.noise:
            if p.iso == iso:
                return p
        raise KeyError(f"ISO {iso} is not a {self.name} ISO; known: {', '.join(map(str, self.isos))}")


CRVD = Sensor(
    name="CRVD", pattern="GBRG", black=240, white=4095, height=1080, width=1920,
    noise=(
        NoiseParams(1600, 3.513262, 11.917691),
        NoiseParams(3200, 6.955588, 38.117816),
        NoiseParams(6400, 13.486051, 130.818508),
        NoiseParams(12800, 26.585953, 484.539790),
        NoiseParams(25600, 52.032536, 1819.818657),
    ),
)
CRVD_ISOS: tuple[int, ...] = CRVD.isos
