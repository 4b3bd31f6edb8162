"""Streaming inference of the recurrent NCFL model runs in constant memory: the peak RSS of a 200-frame
clip equals that of a 20-frame clip within 10 % (each measured in a fresh subprocess)."""

from workbench.evaluate.complexity.memory import measure_once

MODEL = "workbench.models.ncfl.presets:smoke_default"


def test_peak_memory_does_not_grow_with_sequence_length():
    short = measure_once(MODEL, frames=20, resolution=(64, 48), timeout_s=180)
    long = measure_once(MODEL, frames=200, resolution=(64, 48), timeout_s=180)
    assert short["temporal_mode"] == "recurrent"
    assert long["peak_mb"] <= 1.10 * short["peak_mb"], (short, long)
    # the streaming itself (peak minus the model-resident baseline) does not grow either
    assert long["delta_mb"] <= short["delta_mb"] + 0.10 * short["peak_mb"], (short, long)
