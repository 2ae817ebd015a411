"""The whole suite on the 2024 and 2026 demo layouts through the smoke parameters (2025:
test_notebooks.py): each writes a submission in exactly that year's format."""
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import FIELD_2024, FIELD_2026

WINDOWS_PER_FILE = {2024: 48, 2026: 12}


def _outputs(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module", params=[FIELD_2024, FIELD_2026], ids=["2024", "2026"])
def year_run(request, root, make_demo, tmp_path_factory):
    demo = make_demo(**request.param)
    base = tmp_path_factory.mktemp(f"smoke-{request.param['year']}")
    cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
           "--data-dir", demo["competition_dir"], "--solution", demo["solution_path"],
           "--runs-dir", str(base / "runs"), "--name", "smoke", "--notebooks", str(root / "notebooks")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return request.param["year"], demo, base / "runs" / "smoke", proc.stdout


@pytest.mark.slow
def test_submission_has_the_years_rows_and_columns(year_run):
    year, demo, run, stdout = year_run
    sub = pd.read_csv(run / "submission.csv", dtype={"row_id": str})
    sample = pd.read_csv(Path(demo["competition_dir"]) / "sample_submission.csv", dtype={"row_id": str})
    assert list(sub.columns) == list(sample.columns) and sub.row_id.tolist() == sample.row_id.tolist()
    assert sub.row_id.str.rsplit("_", n=1).str[0].value_counts().eq(WINDOWS_PER_FILE[year]).all()
    values = sub.iloc[:, 1:].to_numpy()
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    for label in demo["untrained_classes"]:  # a column and finite model output, without a recording
        assert label in sub.columns and np.isfinite(sub[label]).all()
    assert "submission score" in stdout


@pytest.mark.slow
def test_notebooks_say_which_year_and_what_is_special(year_run):
    year, demo, run, _ = year_run
    eda = _outputs(run / "notebooks" / "10_eda.ipynb")
    assert f"BirdCLEF {year} layout" in eda
    assert "labelled 5-s windows" in eda and "classes have no training recording" in eda
    if year == 2026:
        assert f"{len(demo['untrained_classes'])} classes occur only in labelled soundscapes" in eda
        assert "soundscape files per site" in eda
    inference = _outputs(run / "notebooks" / "70_inference.ipynb")
    assert f"of the {120 if year == 2024 else 90}-min budget" in inference   # the projection before scoring
