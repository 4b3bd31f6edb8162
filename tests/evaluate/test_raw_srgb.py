"""sRGB metrics through RViDeNet's ISP: weights read weights-only from the data root, one-line error when
absent, and the script's pipeline (DN truncation, re-packing floored at 0, uint8 truncation) reproduced."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from baselines.rvidenet_isp import ISPNet
from workbench.errors import DatasetError
from workbench.evaluate.raw_srgb import ISP_FILE, load_isp, srgb_frame_metrics


def _weights(root: Path) -> ISPNet:
    torch.manual_seed(0)
    net = ISPNet()
    (root / ISP_FILE).parent.mkdir(parents=True)
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, root / ISP_FILE)  # DataParallel keys
    return net.eval()


def test_missing_isp_weights_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="ISP_CNN_state.pth: RViDeNet's ISP weights not found"):
        load_isp(tmp_path, "cpu")


def test_srgb_metrics_follow_the_script(tmp_path: Path) -> None:
    net = _weights(tmp_path)
    isp = load_isp(tmp_path, "cpu")
    rng = np.random.default_rng(0)
    gt = rng.uniform(-0.01, 1, size=(8, 12, 4)).astype(np.float32)
    pred = gt + rng.normal(0, 0.05, size=gt.shape).astype(np.float32)
    got = srgb_frame_metrics(isp, gt, pred)

    def srgb(packed: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = net(torch.from_numpy(packed.transpose(2, 0, 1).copy())[None]).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        return np.floor(y.astype(np.float64) * 255) / 255

    q = (np.floor(np.clip(pred.astype(np.float64), 0, 1) * 3855 + 240) - 240) / 3855
    a, b = srgb(np.maximum(gt, 0)), srgb(np.maximum(q, 0).astype(np.float32))
    assert a.shape == (16, 24, 3)
    assert got["psnr_srgb_db"] == pytest.approx(10 * np.log10(1 / np.mean((a - b) ** 2)), abs=1e-4)
    assert got["ssim_srgb"] == pytest.approx(structural_similarity(a, b, data_range=1.0, channel_axis=-1), abs=1e-4)


def test_evaluation_rows_carry_srgb_metrics_and_card(tmp_path: Path) -> None:
    from workbench.data.catalog import open_dataset
    from workbench.evaluate.raw_restoration import RawEvalSpec, evaluate_raw_model, select
    from workbench.models.reference import NoisyInput

    _weights(tmp_path)
    spec = RawEvalSpec(dataset="embedded-raw-test", max_frames=2, max_sequences=1, isos=[3200], srgb=True)
    seqs = select(open_dataset("embedded-raw-test", max_frames=2), spec)
    rows = evaluate_raw_model(NoisyInput(), seqs, dataset=spec.dataset, spec=spec, device="cpu",
                              isp=load_isp(tmp_path, "cpu"))
    top = {r["metric"]: r for r in rows if r["level"] == "dataset"}
    assert set(top) == {"psnr_db", "ssim", "psnr_srgb_db", "ssim_srgb"}
    assert top["psnr_srgb_db"]["protocol_srgb"].startswith("RViDeNet ISP_CNN")
    assert 0 < top["ssim_srgb"]["value"] <= 1
