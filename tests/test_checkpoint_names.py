"""A fold's best checkpoint is ``best.pth``; runs and Kaggle outputs made before the rename hold
``best_model_improved.pth``, and inference and the self-training import still find and load it."""
import json
from pathlib import Path

import numpy as np
import pytest

from birdkit.config import Config
from birdkit.ensemble_list import BEST_NAME, OLD_BEST_NAME, best_checkpoint, read_ensemble_list
from birdkit.infer.ensemble import TTA, load_ensemble
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.notebook.paths import find_checkpoints
from birdkit.train.selftrain import import_teacher, teachers_for

CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=1)
    path = save_checkpoint(tmp_path_factory.mktemp("m") / "m.pth", build_model(cfg, CLASSES),
                           make_contract(cfg, CLASSES))
    return path.read_bytes()


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def scores(paths, work: Path) -> np.ndarray:
    ensemble = load_ensemble(paths, "torch", work)
    try:
        return ensemble.member_probs(np.zeros(32000 * 5, np.float32), TTA(1, 1.0, "mean"))
    finally:
        ensemble.close()


def test_best_checkpoint_prefers_the_new_name_and_reads_the_old_one(tmp_path):
    assert BEST_NAME == "best.pth" and best_checkpoint(tmp_path) == tmp_path / BEST_NAME   # nothing yet
    old = put(tmp_path / OLD_BEST_NAME, b"x")
    assert best_checkpoint(tmp_path) == old                  # a fold finished before the rename
    new = put(tmp_path / BEST_NAME, b"y")
    assert best_checkpoint(tmp_path) == new                  # both: the one training writes now


def test_a_run_folder_holding_only_the_old_name_still_scores(tmp_path, model_bytes):
    old = put(tmp_path / "run" / "checkpoints" / OLD_BEST_NAME, model_bytes)
    assert find_checkpoints([], tmp_path / "run", str(tmp_path / "no-input")) == [old]
    assert scores([old], tmp_path / "export").shape == (1, 1, len(CLASSES))


def test_a_kaggle_input_holding_only_the_old_name_still_scores(tmp_path, model_bytes):
    root = tmp_path / "input"
    old = put(root / "notebooks" / "someone" / "birdkit-train" / "checkpoints" / OLD_BEST_NAME, model_bytes)
    assert find_checkpoints([], tmp_path / "no-run", str(root)) == [old]
    new = put(root / "notebooks" / "someone" / "birdkit-train2" / "checkpoints" / BEST_NAME, model_bytes)
    assert find_checkpoints([], tmp_path / "no-run", str(root)) == [new]     # the new name first


def test_self_training_imports_a_teacher_listed_under_the_old_name(tmp_path, model_bytes):
    """An older training kernel's output: ``ensemble.json`` lists ``fold0/best_model_improved.pth``."""
    source = tmp_path / "input" / "notebooks" / "someone" / "birdkit-train" / "checkpoints"
    put(source / "fold0" / OLD_BEST_NAME, model_bytes)
    put(source / "fold0" / "last.pth", b"not copied")
    (source / "ensemble.json").write_text(json.dumps({"members": [
        {"round": 0, "fold": 0, "checkpoint": f"fold0/{OLD_BEST_NAME}"}]}))
    cfg = Config(run_dir=str(tmp_path / "run"), kaggle_input=str(tmp_path / "input"))
    assert import_teacher(cfg, source / "ensemble.json") == 0
    teacher = cfg.checkpoint_dir / "fold0" / OLD_BEST_NAME
    assert read_ensemble_list(cfg.checkpoint_dir) == [teacher] and teacher.is_file()
    assert not (cfg.checkpoint_dir / "fold0" / "last.pth").exists()
    assert teachers_for(cfg, 1) == {-1: [teacher]}
    assert find_checkpoints([], cfg.run_dir, cfg.kaggle_input) == [teacher]
    assert scores(teachers_for(cfg, 1)[-1], tmp_path / "export").shape == (1, 1, len(CLASSES))
