"""The staged inference kernel finds data, code and weights by itself in a Kaggle-like layout.

``<tmp>/input`` plays ``/kaggle/input``: the competition under ``competitions/birdclef-2025``
(a newer Kaggle mount), the code dataset under ``birdkit-code/birdkit``, the training kernel's
output under ``<owner>/birdkit-train``. Only the mount root, the working folder and the backend
are overridden; everything else is what ``make push`` stages. No network is used.
"""
import logging
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from birdkit.config import Config
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.tables import class_list, read_taxonomy
from birdkit_tools.kaggle_stage import stage

pytestmark = pytest.mark.slow  # runs a staged notebook

ROOT = Path(__file__).resolve().parents[1]


def kaggle_input(tmp: Path, demo: dict) -> Path:
    inputs = tmp / "input"
    comp = inputs / "competitions" / "birdclef-2025"
    shutil.copytree(demo["competition_dir"], comp)
    shutil.copytree(ROOT / "src_py" / "birdkit", inputs / "birdkit-code" / "birdkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024)
    classes = class_list(read_taxonomy(comp / "taxonomy.csv"))
    save_checkpoint(inputs / "someone" / "birdkit-train" / "best_model_improved.pth",
                    build_model(cfg, classes), make_contract(cfg, classes))
    return inputs


def test_staged_inference_kernel_writes_submission_from_kaggle_layout(tmp_path, demo_competition):
    inputs = kaggle_input(tmp_path, demo_competition)
    manifest = stage(ROOT, tmp_path / "staging", env={"KAGGLE_OWNER": "someone", "HOME": str(tmp_path)})
    infer = next(k for k in manifest["kernels"] if k["key"] == "infer")
    notebook = next(Path(infer["folder"]).glob("*.ipynb"))
    working = tmp_path / "working"
    working.mkdir()
    logging.getLogger("papermill").setLevel(logging.ERROR)
    pm.execute_notebook(str(notebook), str(tmp_path / "executed.ipynb"), kernel_name="birdkit",
                        cwd=str(working), progress_bar=False,
                        parameters={"kaggle_input": str(inputs), "run_dir": str(working),
                                    "submission_path": str(working / "submission.csv"), "backend": "torch"})
    submission = pd.read_csv(working / "submission.csv")
    sample = pd.read_csv(inputs / "competitions" / "birdclef-2025" / "sample_submission.csv")
    assert list(submission.columns) == list(sample.columns)
    stems = sorted(p.stem for p in (inputs / "competitions" / "birdclef-2025" / "test_soundscapes").glob("*.ogg"))
    assert len(stems) == 2 and len(submission) == 12 * len(stems)
    assert submission.row_id.str.rsplit("_", n=1).str[0].value_counts().to_dict() == {s: 12 for s in stems}
    printed = "".join(o.get("text", "") for c in nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells
                      for o in c.get("outputs", []))
    assert f"data {inputs / 'competitions' / 'birdclef-2025'}" in printed  # found by search
    assert "1 checkpoint(s), backend torch, 2 soundscapes" in printed
    assert "openvino==" in printed  # the offline install cell ran (no network: --no-index or nothing)
