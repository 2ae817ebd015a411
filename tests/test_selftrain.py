"""Self-training rounds (issue 12): out-of-fold pseudo-labels, resume after an interruption."""
import json

import numpy as np
import pytest
import soundfile as sf

from birdkit.config import Config
from birdkit.data.folds import soundscape_folds
from birdkit.ensemble_list import read_ensemble_list, write_ensemble_list
from birdkit.train.run import train_fold
from birdkit.train.selftrain import PSEUDO_NAME, PseudoSet, first_unfinished_round, run_round
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
