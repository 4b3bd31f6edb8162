"""The crop study on the identity (noisy-input) model: its crop PSNR is the noisy crop's, in closed form."""

import numpy as np
import pytest

from workbench.data.sequence import ArraySequence
from workbench.evaluate.analysis.crops import CropStudy, crop_box, crop_study
from workbench.evaluate.analysis.streams import noisy_frames
from workbench.evaluate.metrics import psnr
from workbench.zoo import build_model


def test_crop_box_is_centred_and_clipped():
    assert crop_box((96, 160), 64, None) == (16, 48, 64, 64)
    assert crop_box((96, 160), 64, [90, 150]) == (32, 96, 64, 64)
    assert crop_box((20, 30), 64, None) == (0, 0, 20, 30)


def test_noisy_input_crop_psnr_is_that_of_the_noisy_crop():
    frames = np.random.default_rng(0).uniform(0.2, 0.8, size=(3, 32, 48, 3)).astype(np.float32)
    seq = ArraySequence("toy", frames)
    model = build_model("noisy-input", {}, seed=0, where="test")
    p = CropStudy(dataset="toy-set", sigma=10, max_frames=3, frame=-1, crop_size=16)
    rows, crops, (y, x, h, w) = crop_study(model, seq, dataset="toy-set", p=p, device="cpu")
    noisy = np.clip(noisy_frames("toy-set", seq, 10, 0)(2), 0, 1)
    expected = psnr(frames[2][y:y + h, x:x + w], noisy[y:y + h, x:x + w])
    got = [r["value"] for r in rows if r["level"] == "crop" and r["metric"] == "psnr_db"][0]
    assert got == pytest.approx(expected)
    assert crops["restored"].shape == (16, 16, 3)
    assert np.allclose(crops["restored"], crops["noisy"])
