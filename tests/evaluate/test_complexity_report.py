"""The complexity report explains the known FLOPs gaps beside the measured values."""

import pandas as pd

from workbench.report.complexity import add_notes


def test_gap_notes_only_on_flops_rows_of_known_models():
    table = pd.DataFrame({"method": ["basicvsr-uni", "basicvsr-uni", "fastdvdnet"],
                          "metric": ["gflops_paper", "params_m", "gflops_paper"]})
    notes = add_notes(table)["note"].tolist()
    assert "complexity.md" in notes[0] and notes[1] == "" and notes[2] == ""
