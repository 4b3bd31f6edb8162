import numpy as np
import pytest

from workbench.data.raw import PATTERNS, normalize_raw, pack_bayer, unpack_bayer


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("order", ["RGBG", "RGGB"])
def test_pack_unpack_round_trip_exact(pattern: str, order: str) -> None:
    raw = np.random.default_rng(1).integers(0, 4096, size=(6, 8), dtype=np.uint16)
    packed = pack_bayer(raw, pattern, order)
    assert packed.shape == (3, 4, 4) and packed.dtype == np.uint16
    np.testing.assert_array_equal(unpack_bayer(packed, pattern, order), raw)


def test_gbrg_plane_positions() -> None:
    # CRVD mosaic G B / R G: R at (1,0), G_r at (1,1), B at (0,1), G_b at (0,0) of each 2x2 block
    block = np.array([[10, 20], [30, 40]])  # Gb, B / R, Gr
    raw = np.tile(block, (2, 3))
    packed = pack_bayer(raw, "GBRG")
    assert packed[0, 0].tolist() == [30, 40, 20, 10]  # R, Gr, B, Gb (RViDeNet order)
    assert pack_bayer(raw, "GBRG", "RGGB")[1, 2].tolist() == [30, 40, 10, 20]


def test_normalize_raw() -> None:
    y = normalize_raw(np.array([240, 4095, 0]))
    np.testing.assert_allclose(y, [0.0, 1.0, -240 / 3855], rtol=1e-6)
    assert normalize_raw(np.array([0]), clip=True)[0] == 0.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        pack_bayer(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        pack_bayer(np.zeros((4, 4)), "RGBX")
