"""Self-training rounds: out-of-fold pseudo-labels, resume after an interruption; the teacher's
plan shared by a round's estimate and the round, and its soft labels taken from the inference result."""
import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.folds import soundscape_folds
from birdkit.ensemble_list import read_ensemble_list, write_ensemble_list
from birdkit.infer import predict
from birdkit.metrics import file_stems
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.train.run import train_fold
from birdkit.train.selftrain import (
    PSEUDO_NAME,
    PseudoSet,
    estimate_first_round,
    first_unfinished_round,
    label_files,
    run_round,
    teacher_plan,
)
from conftest import tone, write_tone_clips
from faults import kill_mid_stage

pytestmark = pytest.mark.slow  # trains students
SR = 32000
CLASSES = ["a", "b", "c"]
FREQS = {"a": 600.0, "b": 2500.0, "c": 7000.0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("st")
    table = write_tone_clips(root, FREQS, 4, 2.0, seed=1)
    rng = np.random.default_rng(1)
    (root / "soundscapes").mkdir()
    files = []
    for i in range(4):   # 15-s soundscapes: three windows, one species each
        wave = np.concatenate([tone(5.0, SR, FREQS[c], 0.1) for c in np.roll(CLASSES, i)])
        files.append(root / "soundscapes" / f"ss{i}.wav")
        sf.write(files[-1], wave + rng.normal(0, 0.05, len(wave)).astype(np.float32), SR)
    return table, files


def cfg_for(tmp_path, **over):
    base = dict(run_dir=str(tmp_path / "run"), model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024,
                data_source="audio", train_seconds=5.0, epochs=1, batch_size=4, samples_per_epoch=8, lr=3e-3,
                n_folds=2, val_fold=-1, backend="torch", pseudo_mix_prob=1.0, seed=0)
    return Config(**{**base, **over})


def supervised(cfg, table):
    write_ensemble_list(cfg.checkpoint_dir, [train_fold(cfg, CLASSES, table, f, progress=False)
                                             for f in cfg.train_folds], 0)


def test_out_of_fold_pseudo_labels_never_come_from_a_model_that_saw_the_soundscape(data, tmp_path):
    table, files = data
    cfg = cfg_for(tmp_path, pseudo_oof_folds=2, pseudo_rounds=2)
    supervised(cfg, table)
    for r in (1, 2):
        result = run_round(cfg, CLASSES, table, r, files, progress=False)
        assert sorted(result.students) == [0, 1]
    folds = dict(zip(map(str, files), soundscape_folds(files, 2, cfg.seed)))
    pseudo = PseudoSet.load(cfg.checkpoint_dir / "round2" / PSEUDO_NAME)
    assert sorted(map(str, pseudo.files)) == sorted(map(str, files))
    for f, teachers in zip(pseudo.files, pseudo.labelled_by):
        assert len(teachers) == 1 and f"oof{folds[str(f)]}" in teachers[0]
        seen = json.loads((cfg.checkpoint_dir / teachers[0]).parent.joinpath("pseudo_files.json").read_text())
        assert str(f) not in seen and seen, (f, teachers)
    assert [p.parts[-3:-1] for p in read_ensemble_list(cfg.checkpoint_dir, "last")] == \
        [("oof0", "all"), ("oof1", "all")]
    assert len(read_ensemble_list(cfg.checkpoint_dir, "all")) == 1 + 2 + 2     # folds x rounds


def test_a_round_resumes_after_an_interruption(data, tmp_path):
    table, files = data
    cfg = cfg_for(tmp_path, epochs=4, samples_per_epoch=24, pseudo_rounds=1)
    supervised(cfg, table)
    last = cfg.checkpoint_dir / "round1" / "all" / "last.pth"
    kill_mid_stage("birdkit.train.selftrain:run_round", (cfg, CLASSES, table, 1, files, False), tmp_path / "child",
                   ready=last.is_file, timeout=240)
    pseudo = cfg.checkpoint_dir / "round1" / PSEUDO_NAME
    stamp = pseudo.stat().st_mtime_ns
    assert first_unfinished_round(cfg) == 1
    result = run_round(cfg, CLASSES, table, 1, files, progress=False)
    assert pseudo.stat().st_mtime_ns == stamp                    # pseudo-labels reused, not recomputed
    history = result.students[-1][0].history
    assert history.epoch.tolist() == [1, 2, 3, 4] and first_unfinished_round(cfg) == 2


def untrained_teacher(cfg):
    """An untrained model listed as round 0 (no training: the plan and the arrays are tested, not the labels)."""
    torch.manual_seed(0)
    best = save_checkpoint(cfg.checkpoint_dir / "fold0" / "best.pth", build_model(cfg, CLASSES),
                           make_contract(cfg, CLASSES))
    write_ensemble_list(cfg.checkpoint_dir, [SimpleNamespace(fold=0, best=best)], 0)
    return best


@pytest.mark.parametrize("gpu", [False, True])
def test_a_rounds_estimate_and_the_round_score_with_one_plan(data, tmp_path, monkeypatch, gpu):
    _, files = data
    cfg = cfg_for(tmp_path, backend="openvino", threads=2, infer_chunk_seconds=5.0)
    teacher = untrained_teacher(cfg)
    asked, real = [], predict.load_ensemble

    def spy(paths, backend, work_dir, threads=0, frontend_in_graph=False, chunk_seconds=0.0, device="cpu", **kw):
        asked.append((backend, device, threads, frontend_in_graph, chunk_seconds))
        return real(paths, "torch", work_dir, chunk_seconds=chunk_seconds, **kw)   # scored on this CPU anyway
    monkeypatch.setattr(predict, "gpu_here", lambda: gpu)   # a training session's GPU, or none
    monkeypatch.setattr(predict, "load_ensemble", spy)
    estimate = estimate_first_round(cfg, files)                        # the notebook's estimate
    label_files([teacher], files, cfg, tmp_path / "round1", progress=False)   # the round's scoring
    assert len(asked) == 2 and asked[0] == asked[1], asked
    assert asked[0] == (("torch", "cuda") if gpu else ("openvino", "cpu")) + (2, False, 5.0)
    assert estimate["plan"] == teacher_plan(cfg, len(files))
    assert estimate["plan"].backend == ("torch" if gpu else "openvino") and estimate["rate"] > 0
    assert estimate["audio_minutes"] == pytest.approx(4 * 15 / 60, rel=1e-3) and estimate["epoch_seconds"] == 0.0


def test_soft_labels_are_each_files_submission_rows(data, tmp_path):
    _, files = data
    cfg = cfg_for(tmp_path, smoothing=0.3, file_max_rescale=1.0)   # the teacher scores raw: neither applies
    teacher = untrained_teacher(cfg)
    (tmp_path / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    kept, probs, skipped = label_files([teacher], files + [tmp_path / "broken.ogg"], cfg, tmp_path / "w",
                                       progress=False)
    assert kept == files and [s["filename"] for s in skipped] == ["broken.ogg"]
    raw = dataclasses.replace(cfg, smoothing=0.0, file_max_rescale=0.0)
    sub = predict.predict_soundscapes(files, predict.load_ensemble([teacher], "torch", tmp_path / "x"), raw,
                                      progress=False).submission
    stems = file_stems(sub["row_id"])
    for path, p in zip(kept, probs):
        assert p.dtype == np.float32 and p.shape == (3, len(CLASSES))
        np.testing.assert_allclose(p, sub.loc[stems == path.stem, CLASSES].to_numpy(np.float32), atol=1e-6)
