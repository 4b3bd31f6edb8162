"""sRGB PSNR/SSIM on CRVD through RViDeNet's ISP network, as ``test_indoor.py`` scores them
(docs/protocols.md §2.4; the network: :mod:`baselines.rvidenet_isp`).

Per frame: the prediction is clipped, truncated to integer DN (as for the raw metric), re-packed with
``pack_gbrg_raw`` (``max(x − black, 0) / (white − black)``); the ground truth is re-packed the same way. Both go
through the ISP, are clipped to [0, 1] and truncated to uint8 (``np.uint8(x · 255)``), then PSNR (data range 1)
and SSIM (scikit-image defaults over the 3 channels: 7×7 uniform window) are computed. Only with the user's
converted ISP weights (``<data root>/weights/rvidenet/ISP_CNN_state.pth``); without them there is no sRGB
column, never a substitute ISP.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity

from baselines.rvidenet_isp import ISPNet, load_rvidenet_isp
from workbench.data.sensors import CRVD, Sensor
from workbench.errors import DatasetError
from workbench.evaluate.raw_metrics import quantize_prediction, raw_psnr

ISP_FILE = Path("weights") / "rvidenet" / "ISP_CNN_state.pth"


def isp_weights(root: Path) -> Path:
    """The converted ISP weights under the data root; one-line :class:`DatasetError` when absent."""
    path = Path(root) / ISP_FILE
    if not path.is_file():
        raise DatasetError(f"{path}: RViDeNet's ISP weights not found (needed by evaluate.srgb); convert "
                           "isp/ISP_CNN.pth to a state dict as baselines/rvidenet_isp.py explains, or set srgb: false")
    return path


def load_isp(root: Path, device: str) -> ISPNet:
    return load_rvidenet_isp(isp_weights(root)).to(device)


@torch.no_grad()
def _to_srgb(isp: ISPNet, packed: np.ndarray, device: str) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(packed.transpose(2, 0, 1), dtype=np.float32))[None].to(device)
    out = isp(x).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    return (out * 255).astype(np.uint8).astype(np.float32) / 255


def srgb_frame_metrics(isp: ISPNet, gt_packed: np.ndarray, pred_packed: np.ndarray, *, device: str = "cpu",
                       sensor: Sensor = CRVD) -> dict[str, float]:
    """``{"psnr_srgb_db", "ssim_srgb"}`` of one frame from packed ``(H/2, W/2, 4)`` normalised arrays."""
    pred = np.maximum(quantize_prediction(pred_packed, sensor), 0)
    gt = np.maximum(np.asarray(gt_packed, np.float32), 0)
    a, b = _to_srgb(isp, gt, device), _to_srgb(isp, pred, device)
    ssim = structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1.0, channel_axis=-1)
    return {"psnr_srgb_db": raw_psnr(a, b), "ssim_srgb": float(ssim)}
