"""The analysis cell kinds (fig1c, fig4, fig6, fig7) end to end on tiny untrained models, and the specs.

The real smoke profiles train ten models (minutes on a CPU), so here each spec's smoke profile runs with
``train: null``, 3 frames and fewer sequences/realisations: the cells, the published version and the
figures (PDF + 300-dpi PNG + CSV) are checked, not the numbers.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from PIL import Image

from workbench.pipeline.runner import run_pipeline
from workbench.pipeline.spec import expand, load_spec
from workbench.report import fig1c, fig4, fig6, fig7
from workbench.report.figures import PNG_DPI, save_figure

REPO = Path(__file__).resolve().parents[2]
FIGURES = {"fig1c": fig1c, "fig4": fig4, "fig6": fig6, "fig7": fig7}
SHRINK = {"fig1c": {"realisations": 2, "samples": 40}, "fig4": {"sequences": ["astronaut"]},
          "fig6": {"max_sequences": 2}, "fig7": {}}


@pytest.mark.parametrize("spec_id", sorted(FIGURES))
@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_specs_expand(spec_id, profile):
    cells = expand(load_spec(spec_id), profile)
    assert cells and all(kind == spec_id for _, kind, _ in cells)


def test_trained_rows_match_the_tables_they_reuse():
    """Same model, model_args, seed and recipe as the table rows, so the training folders are shared."""
    def rows(spec_id):
        return {(p.model, repr(sorted(p.model_args.items())), p.seed, p.train.recipe if p.train else None)
                for _, _, p in expand(load_spec(spec_id), "smoke")}

    tables = rows("table1") | rows("table5") | rows("table6")
    for spec_id in FIGURES:
        assert rows(spec_id) <= tables, spec_id


def _tiny_spec(spec_id: str, folder: Path) -> Path:
    spec = yaml.safe_load((REPO / "pipelines" / f"{spec_id}.yaml").read_text())
    smoke = spec["profiles"]["smoke"]
    smoke["defaults"]["train"] = None
    smoke["defaults"]["study"].update(max_frames=3, **SHRINK[spec_id])
    if spec_id == "fig7":
        smoke["cells"] = [c for c in smoke["cells"] if c["name"] in ("noisy-input", "ncfl-uni")]
    path = folder / f"{spec_id}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("spec_id", sorted(FIGURES))
def test_cell_runs_publishes_and_renders(spec_id, isolated, tmp_path):
    s = run_pipeline(str(_tiny_spec(spec_id, tmp_path)), "smoke", notebook=False)
    measured = pd.read_csv(s.version_dir / "measured.csv")
    assert set(measured["table"]) == {spec_id} and measured["value"].notna().any()
    outputs = FIGURES[spec_id].render(s.version_dir)
    stems = {p.stem for p in outputs if p.suffix == ".pdf"}
    assert spec_id in stems
    for stem in stems:
        assert (s.version_dir / "figures" / f"{stem}.png").is_file()
    assert (s.version_dir / "figures" / f"{spec_id}.csv").is_file()


def test_fig1c_numbers_per_model(isolated, tmp_path):
    s = run_pipeline(str(_tiny_spec("fig1c", tmp_path)), "smoke", notebook=False)
    fig1c.render(s.version_dir)
    table = pd.read_csv(s.version_dir / "figures" / "fig1c.csv")
    assert list(table["cell"]) == ["ncfl-adapq", "ncfl-fixedq", "ncfl-noq", "ncfl-ma"]
    quantized = table.set_index("cell")["symbol_agreement"].notna().to_dict()
    assert quantized == {"ncfl-adapq": True, "ncfl-fixedq": True, "ncfl-noq": False, "ncfl-ma": False}
    ma = table.set_index("cell").loc["ncfl-ma"]
    assert ma["distance_to_clean_before"] == ma["distance_to_clean_after"]  # no compression: one feature


def test_save_figure_writes_vector_pdf_and_300_dpi_png(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    pdf, png = save_figure(fig, tmp_path / "sub" / "f")
    assert pdf.read_bytes().startswith(b"%PDF")
    dpi = Image.open(png).info["dpi"]
    assert round(dpi[0]) == PNG_DPI
