"""Rain and haze: closed-form haze transmission, monotone rain cover, and golden checksums of fixed seeds.

The golden sha256 are of the 8-bit rounding of the degraded frame (``round(255 · x)``), so they pin the model
(kernel, seeding, blend, veil) without depending on the last float bit; regenerate them only after a
deliberate change of the model (and bump the embedded paired recipe version).
"""

import hashlib

import numpy as np
import pytest

from workbench.degrade.haze import HazeParams, add_haze_frame, draw_haze, haze_seed, ramp_depth, scatter, transmission
from workbench.degrade.rain import (
    RainParams,
    add_rain_frame,
    covered_fraction,
    line_kernel,
    rain_seed,
    screen_blend,
    streak_layer,
)
from workbench.errors import ConfigError


def _frame(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / (w - 1), y / (h - 1), 0.25 + 0.5 * ((x + y) % 2)], axis=-1).astype(np.float32)


def _sha8(x: np.ndarray) -> str:
    return hashlib.sha256(np.round(np.clip(x, 0, 1) * 255).astype(np.uint8).tobytes()).hexdigest()


def test_haze_transmission_equals_its_formula_on_a_constant_depth_frame():
    j = _frame()
    depth = np.full(j.shape[:2], 0.7, np.float32)
    t = transmission(depth, 1.3)
    assert np.allclose(t, np.exp(-1.3 * 0.7), rtol=0, atol=1e-7)
    out = scatter(j, t, 0.9)
    expected = j * np.exp(-0.91) + 0.9 * (1 - np.exp(-0.91))
    assert np.allclose(out, expected, atol=1e-6)
    # t = 1 (no depth) leaves the frame; beta large turns it into the airlight
    assert np.array_equal(scatter(j, transmission(np.zeros_like(depth), 1.3), 0.9), j)
    assert np.allclose(scatter(j, transmission(depth, 1e3), 0.9), 0.9, atol=1e-6)


def test_haze_depth_ramp_and_per_sequence_draw():
    d = ramp_depth(5, 3, near=0.3, far=1.5)
    assert np.allclose(d[:, 0], [1.5, 1.2, 0.9, 0.6, 0.3]) and np.all(d == d[:, :1])
    p = HazeParams()
    a, b = draw_haze(p, haze_seed("x", "s1")), draw_haze(p, haze_seed("x", "s2"))
    assert a != b and p.beta_min <= a.beta <= p.beta_max and p.airlight_min <= a.airlight <= p.airlight_max
    hazy = add_haze_frame(_frame(), p, haze_seed("x", "s1"))
    assert hazy.dtype == np.float32 and 0 <= hazy.min() and hazy.max() <= 1
    # farther rows (top) are closer to the airlight than nearer rows (bottom)
    air = draw_haze(p, haze_seed("x", "s1")).airlight
    gap = np.abs(hazy - air).mean(axis=(1, 2))
    assert gap[0] < gap[-1]


def test_rain_density_changes_the_covered_fraction_monotonically():
    seed = rain_seed("embedded-test", "bikes")
    fractions = [covered_fraction(streak_layer(64, 96, RainParams(density=d), seed, 0))
                 for d in (0.0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032)]
    assert fractions[0] == 0.0
    assert all(a < b for a, b in zip(fractions, fractions[1:])), fractions


def test_rain_streaks_follow_length_and_angle():
    k = line_kernel(9, 0.0)
    assert k.sum() == pytest.approx(1.0) and k.shape == (11, 11)
    cols = np.nonzero(k.sum(axis=0) > 1e-9)[0]
    assert list(cols) == [5]  # vertical: one column
    k45 = line_kernel(9, 45.0)
    assert np.allclose(k45, k45.T)  # symmetric about the diagonal
    longer = covered_fraction(streak_layer(64, 96, RainParams(length=25), 7, 0))
    shorter = covered_fraction(streak_layer(64, 96, RainParams(length=5), 7, 0))
    assert longer > shorter


def test_rain_is_screen_blended_and_the_veil_brightens():
    b = _frame()
    s = np.linspace(0, 1, b.shape[0] * b.shape[1], dtype=np.float32).reshape(b.shape[:2])
    out = screen_blend(b, s)
    assert np.allclose(out, 1 - (1 - b) * (1 - s[..., None])) and np.all(out >= b - 1e-7)
    streaks = add_rain_frame(b, RainParams(), 3, 0)
    veiled = add_rain_frame(b, RainParams(accumulation_beta=1.0), 3, 0)
    assert streaks.dtype == np.float32 and 0 <= veiled.min() and veiled.max() <= 1
    assert np.all(streaks >= b - 1e-7)
    assert not np.array_equal(streaks, veiled)


def test_rain_streams_frame_by_frame_and_depends_on_the_seed():
    b = _frame()
    s = rain_seed("d", "q")
    assert np.array_equal(add_rain_frame(b, RainParams(), s, 4), add_rain_frame(b, RainParams(), s, 4))
    assert not np.array_equal(add_rain_frame(b, RainParams(), s, 4), add_rain_frame(b, RainParams(), s, 5))
    assert rain_seed("d", "q") != rain_seed("d", "r") != rain_seed("e", "q")


GOLDEN = {
    "rain": "f330fa9d50f0f375746c7922bf662be41e5d38ad536f4d28cebca1a8b5991fc9",
    "rain-accumulation": "1804bf3e4611d6552c01b4aea148522eba35fd659cfaace585d7e456419c89fa",
    "haze": "65982cc99df4f29687af927e0cb3d1ceb2667296a1db397ef975f2a36b913b9c",
}


def _golden_outputs() -> dict[str, np.ndarray]:
    b = _frame(48, 64)
    return {
        "rain": add_rain_frame(b, RainParams(), 12345, 2),
        "rain-accumulation": add_rain_frame(b, RainParams(accumulation_beta=1.0), 12345, 2),
        "haze": add_haze_frame(b, HazeParams(), 12345),
    }


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_fixed_seed_gives_the_golden_checksum(name: str):
    assert _sha8(_golden_outputs()[name]) == GOLDEN[name]


def test_parameters_are_validated():
    with pytest.raises(ConfigError, match="density"):
        RainParams(density=2).validate()
    with pytest.raises(ConfigError, match="beta_min"):
        HazeParams(beta_min=2, beta_max=1).validate()
