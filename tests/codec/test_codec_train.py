"""Rate–distortion training: the loss is λ·255²·MSE + bpp; an interrupted run resumes to the same weights."""

from pathlib import Path

import torch

from workbench.codec.learned import HyperpriorCodec, estimated_bits
from workbench.codec.train import TrainSettings, rd_loss, train_hyperprior


def test_rd_loss_definition() -> None:
    torch.manual_seed(0)
    model = HyperpriorCodec(n=8, m=8).eval()
    x = torch.rand(2, 3, 64, 64)
    loss, mse, bpp = rd_loss(model, x, lam=0.01)
    with torch.no_grad():
        out = model(x)
    assert abs(mse - float(torch.mean((out["x_hat"] - x) ** 2))) < 1e-7
    assert abs(bpp - float(estimated_bits(out)) / (2 * 64 * 64)) < 1e-6
    assert abs(float(loss.detach()) - (0.01 * 255**2 * mse + bpp)) < 1e-4


def test_resume_reproduces_an_uninterrupted_run(tmp_path: Path, smooth_clip) -> None:  # type: ignore[no-untyped-def]
    frames = list(smooth_clip(2, 64, 64))
    full = TrainSettings(lam=0.01, steps=4, n=8, m=8, batch=2, checkpoint_every=2)
    a, _ = train_hyperprior(frames, full, checkpoint=tmp_path / "a.pt")
    half = TrainSettings(lam=0.01, steps=2, n=8, m=8, batch=2, checkpoint_every=2)
    train_hyperprior(frames, half, checkpoint=tmp_path / "b.pt")  # "killed" after 2 steps
    b, summary = train_hyperprior(frames, full, checkpoint=tmp_path / "b.pt")
    assert summary["steps"] == 4
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    c, summary = train_hyperprior(frames, full, checkpoint=tmp_path / "a.pt")  # finished: loaded, not trained
    assert summary["steps"] == 4 and all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters()))
