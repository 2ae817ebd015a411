"""Faults: every stage that writes, killed part-way (SIGKILL, ``faults``), reruns
to outputs that are complete and equal to an uninterrupted run's; a truncated cache file,
checkpoint, pseudo-label file or ensemble list is found out and written again, or, where
rebuilding is not the reader's job, is an error naming the file; never loaded half-written.
The runner never reuses a previous run's folder unless asked."""
import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.cache import CacheError, generate_spectrograms, load_cached, output_paths, wave_path
from birdkit.data.datasets import ClipDataset, cached_rows
from birdkit.data.folds import write_split
from birdkit.data.tables import read_taxonomy, read_train
from birdkit.ensemble_list import ENSEMBLE_LIST, EnsembleListError, last_round, read_ensemble_list, write_ensemble_list
from birdkit.models import CheckpointError, load_checkpoint, model_from_checkpoint
from birdkit.train import loop as train_module
from birdkit.train.loop import BEST_NAME, LAST_NAME
from birdkit.train.run import FoldResult, train_fold
from birdkit.train.selftrain import PSEUDO_NAME, PseudoLabelError, PseudoSet, run_round
from birdkit_tools.runner import prepare_run_dir
from conftest import tone, write_tone_clips
from faults import kill_mid_stage

SR = 32000


def truncate(path, keep) -> None:
    """Cut ``path`` to its first ``keep`` bytes (a negative ``keep``: drop that many from the end)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:keep])


def same(a, b, where="") -> None:
    """``a == b`` exactly, through dicts, lists and tensors (NaN equals NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, set(a) ^ set(b))
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, (where, a, b)


# ---- spectrograms and the waveform / dB / PNG cache -----------------------------------------

N_FILES, KILL_AFTER = 12, 6
LABELS = ["amerob", "grekis"]


@pytest.fixture
def comp(tmp_path):
    comp = tmp_path / "competition"
    comp.mkdir()
    pd.DataFrame({"primary_label": LABELS, "class_name": ["Aves"] * 2}).to_csv(comp / "taxonomy.csv", index=False)
    rows = []
    for i in range(N_FILES):
        label = LABELS[i % 2]
        (comp / "train_audio" / label).mkdir(parents=True, exist_ok=True)
        sf.write(comp / "train_audio" / label / f"XC{i:03d}.wav", tone(2.0, SR, 300.0 + 50 * i), SR)
        rows.append({"primary_label": label, "secondary_labels": "[]", "filename": f"{label}/XC{i:03d}.wav"})
    pd.DataFrame(rows).to_csv(comp / "train.csv", index=False)
    df, _ = read_train(comp / "train.csv", read_taxonomy(comp / "taxonomy.csv"), comp / "train_audio")
    return df


def spec_cfg(cache) -> Config:
    return Config(run_dir=str(cache), cache_dir=str(cache), workers=1, n_mels=64, n_fft=1024)


def cache_files(cache, row) -> list:
    """What generation writes for one recording: dB cache, PNG, waveform cache."""
    return [*output_paths(cache, row.primary_label, row.filename), wave_path(cache, row.primary_label, row.filename)]


def assert_same_cache(df, cache, reference) -> None:
    for row in df.itertuples():
        for mine, theirs in zip(cache_files(cache, row), cache_files(reference, row)):
            assert mine.read_bytes() == theirs.read_bytes(), mine


@pytest.mark.slow
def test_killed_generation_resumes_to_the_uninterrupted_cache(comp, tmp_path):
    """Killed while publishing the 7th recording's waveform cache (its PNG written, the waveform's
    temporary file written, not renamed): a rerun removes the temporary file, skips the six
    finished recordings and ends with the bytes of an uninterrupted run."""
    cache = tmp_path / "cache"
    kill_mid_stage("birdkit.data.cache:generate_spectrograms", (comp, spec_cfg(cache), False), tmp_path / "child",
                   stall_on=".npy", stall_at=2 * KILL_AFTER + 1)   # two .npy per recording: waveform, then dB
    finished = [p for p in cache.glob("*/*.npy") if not p.name.startswith(".tmp-")]   # the dB cache comes last
    assert len(finished) == KILL_AFTER and list(cache.glob("waves/*/.tmp-*"))

    s = generate_spectrograms(comp, spec_cfg(cache), progress=False)
    assert s["already_done"] == KILL_AFTER and s["stale_tmp_removed"] >= 1 and not list(cache.rglob(".tmp-*"))
    assert s["written"] == N_FILES - KILL_AFTER and s["failed"] == 0 and s["damaged_rewritten"] == 0
    generate_spectrograms(comp, spec_cfg(tmp_path / "reference"), progress=False)
    assert_same_cache(comp, cache, tmp_path / "reference")


def test_a_truncated_cache_file_is_found_and_written_again(comp, tmp_path):
    """Cut dB caches, waveform caches and PNGs (as a full disk or a copy cut short leaves them) are
    never skipped as done, never trained on (the skip record and the error name the file), and a
    rerun writes them again, byte for byte."""
    cache = tmp_path / "cache"
    cfg = spec_cfg(cache)
    generate_spectrograms(comp, cfg, progress=False)
    shutil.copytree(cache, tmp_path / "whole")
    rows = list(comp.itertuples())
    cut_db, png, _ = cache_files(cache, rows[0])
    cut_wave = cache_files(cache, rows[1])[2]
    empty_db = cache_files(cache, rows[2])[0]
    truncate(cut_db, -7)
    truncate(png, -5)
    truncate(cut_wave, 100)    # inside the header
    truncate(empty_db, 0)

    with pytest.raises(CacheError, match=re.escape(str(cut_db))):
        load_cached(cut_db)
    clips = ClipDataset(comp, dataclasses.replace(cfg, data_source="waves"), LABELS, train=False)
    with pytest.raises(CacheError, match=re.escape(str(cut_wave))):
        clips[1]
    kept, skipped = cached_rows(comp, cfg, "waves")
    assert len(kept) == N_FILES - 1 and [s["filename"] for s in skipped] == [rows[1].filename]
    assert str(cut_wave) in skipped[0]["reason"]
    kept, skipped = cached_rows(comp, cfg, "images")
    assert sorted(s["filename"] for s in skipped) == [rows[0].filename, rows[2].filename]

    s = generate_spectrograms(comp, cfg, progress=False)
    assert s["damaged_rewritten"] == 4 and s["written"] == 3 and s["already_done"] == N_FILES - 3
    assert str(cut_db) in s["damaged_files"]
    assert_same_cache(comp, cache, tmp_path / "whole")


# ---- training: checkpoints, history, split.csv, ensemble.json -------------------------------

CLASSES = ["a", "b", "c"]
FREQS = {"a": 600.0, "b": 2500.0, "c": 7000.0}


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return write_tone_clips(tmp_path_factory.mktemp("tones"), FREQS, 4, 2.0, seed=1)


def train_cfg(run_dir, **over) -> Config:
    """Two folds of three epochs in about a second each, with every random step on (Mixup,
    SpecAugment, random gain and crops), so an RNG state a resume forgot shows in the weights."""
    values = dict(run_dir=str(run_dir), model_name="birdkit_cnn", in_chans=1, n_mels=32, n_fft=512,
                  data_source="audio", train_seconds=1.0, epochs=3, batch_size=4, samples_per_epoch=8, lr=3e-3,
                  gain_db=6.0, n_folds=2, folds=(0, 1), seed=0, num_workers=0)
    return Config(**{**values, **over})


def train_stage(cfg, table) -> list:
    """What the training notebook (40_train) writes: split.csv, each fold's checkpoints, history
    and counts, and ensemble.json."""
    write_split(cfg, table, cfg.run_path / "split.csv")
    results = [train_fold(cfg, CLASSES, table, fold, progress=False) for fold in cfg.train_folds]
    write_ensemble_list(cfg.checkpoint_dir, results)
    return results


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tones):
    """The uninterrupted run every interrupted one is compared with."""
    cfg = train_cfg(tmp_path_factory.mktemp("uninterrupted") / "run")
    train_stage(cfg, tones)
    return cfg


def assert_same_training(cfg, reference) -> None:
    assert (cfg.run_path / "split.csv").read_bytes() == (reference.run_path / "split.csv").read_bytes()
    assert json.loads((cfg.checkpoint_dir / ENSEMBLE_LIST).read_text()) == \
        json.loads((reference.checkpoint_dir / ENSEMBLE_LIST).read_text())
    for fold in ("fold0", "fold1"):
        mine, theirs = cfg.checkpoint_dir / fold, reference.checkpoint_dir / fold
        for name in (LAST_NAME, BEST_NAME):
            a, b = load_checkpoint(mine / name), load_checkpoint(theirs / name)
            for ckpt in (a, b):
                del ckpt["contract"]                         # holds the run folder
                for row in ckpt.get("history", []):
                    del row["seconds"]
            same(a, b, f"{fold}/{name}")
        history = [pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (mine, theirs)]
        pd.testing.assert_frame_equal(*history, check_exact=True)
        assert json.loads((mine / "counts.json").read_text()) == json.loads((theirs / "counts.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("stall_on, stall_at, epochs_left", [("last.pth", 2, 2 + 3), ("history.csv", 2, 0)],
                         ids=["mid-fold0", "fold1-trained"])
def test_killed_training_resumes_to_the_uninterrupted_weights(tones, trained, tmp_path, monkeypatch, stall_on,
                                                              stall_at, epochs_left):
    """Killed while publishing fold 0's second last.pth (the epoch-2 checkpoint written under its
    temporary name, the epoch-1 one in place), or fold 1's history.csv (both folds trained): the
    rerun trains only the epochs left and ends with an uninterrupted run's split, weights,
    optimizer and scheduler states, best checkpoints, histories and ensemble list, exactly. This
    holds because last.pth carries every state the next epoch draws on (the torch, numpy and
    Python RNGs and the sampler's generator among them) and training here is deterministic (CPU,
    no loader workers, the child on the parent's thread count)."""
    cfg = train_cfg(tmp_path / "run")
    kill_mid_stage("test_interrupt_resume:train_stage", (cfg, tones), tmp_path / "child",
                   stall_on=stall_on, stall_at=stall_at)
    if stall_on == "last.pth":
        assert load_checkpoint(cfg.checkpoint_dir / "fold0" / LAST_NAME)["epoch"] == 0
        assert (cfg.checkpoint_dir / "fold0" / (LAST_NAME + ".tmp")).is_file()
    else:
        assert not (cfg.checkpoint_dir / "fold1" / "history.csv").exists()
    assert not (cfg.checkpoint_dir / ENSEMBLE_LIST).exists()

    epochs = []
    train_epoch = train_module.Trainer.train_epoch
    monkeypatch.setattr(train_module.Trainer, "train_epoch",
                        lambda self, epoch, progress=True: epochs.append(epoch) or train_epoch(self, epoch, progress))
    train_stage(cfg, tones)
    assert len(epochs) == epochs_left
    assert_same_training(cfg, trained)


def test_a_truncated_checkpoint_is_never_loaded(tones, tmp_path):
    """A cut best checkpoint is an error naming it (inference's job to report, not to rebuild);
    a cut last.pth is said and the fold trains again from the first epoch (training rebuilds its
    own output), to the weights of the first run."""
    cfg = train_cfg(tmp_path / "run", epochs=1, folds=(0,))
    first = train_fold(cfg, CLASSES, tones, 0, progress=False)
    whole = load_checkpoint(first.last)["state_dict"]
    for keep in (0, 100, first.best.stat().st_size // 2, -1):
        bad = tmp_path / f"cut{keep}.pth"
        shutil.copy(first.best, bad)
        truncate(bad, keep)
        with pytest.raises(CheckpointError, match=re.escape(str(bad))):
            load_checkpoint(bad)
        with pytest.raises(CheckpointError, match=re.escape(str(bad))):
            model_from_checkpoint(bad)
    truncate(first.last, first.last.stat().st_size // 2)
    with pytest.warns(UserWarning, match=re.escape(str(first.last)) + ".*from the first epoch"):
        again = train_fold(cfg, CLASSES, tones, 0, progress=False)
    assert again.history.epoch.tolist() == [1]
    same(load_checkpoint(again.last)["state_dict"], whole)


def test_a_damaged_ensemble_list_is_an_error_naming_it(tmp_path):
    """ensemble.json lists every round's models, so no stage can rebuild it from its own results:
    a cut or malformed one is an error naming it, for readers and for the next writer (which
    would otherwise drop the other rounds), and a temporary file left by a kill is ignored."""
    ckpt = tmp_path / "checkpoints"
    results = [FoldResult(f, pd.DataFrame(), ckpt / f"fold{f}" / BEST_NAME, ckpt / f"fold{f}" / LAST_NAME, {})
               for f in (0, 1)]
    path = write_ensemble_list(ckpt, results, 0)
    write_ensemble_list(ckpt, results[:1], 1)
    (ckpt / f".tmp-999999-{ENSEMBLE_LIST}").write_text('{"members": [')   # what a kill mid-write leaves
    assert [p.parent.name for p in read_ensemble_list(ckpt, "all")] == ["fold0", "fold1", "fold0"]
    whole = path.read_text()
    for damage in (whole[: len(whole) // 2], "", '{"members": [1, 2]}', '{"models": []}', "[]"):
        path.write_text(damage)
        for call in (lambda: read_ensemble_list(ckpt), lambda: last_round(ckpt),
                     lambda: write_ensemble_list(ckpt, results, 0)):
            with pytest.raises(EnsembleListError, match=re.escape(str(path))):
                call()
        assert path.read_text() == damage        # the writer did not replace what it could not read


# ---- pseudo-labels --------------------------------------------------------------------------

def pseudo_set(n_files=3, n_classes=4) -> PseudoSet:
    rng = np.random.default_rng(0)
    probs = [rng.random((w, n_classes)).astype(np.float16).astype(np.float32) for w in range(2, 2 + n_files)]
    return PseudoSet([Path(f"/ss/ss{i}.ogg") for i in range(n_files)], probs,
                     [[f"round0/fold{i % 2}/best.pth"] for i in range(n_files)])


def test_a_truncated_pseudo_label_file_is_never_loaded(tmp_path):
    """A cut pseudo_labels.npz (or one whose lengths do not add up) raises an error naming it;
    ``load_whole`` says so and returns None, so the round labels the soundscapes again."""
    path = pseudo_set().save(tmp_path / PSEUDO_NAME)
    same(PseudoSet.load(path).probs, pseudo_set().probs)
    size = path.stat().st_size
    for keep in (0, 10, size // 2, size - 22, size - 1):
        bad = tmp_path / f"cut{keep}.npz"
        shutil.copy(path, bad)
        truncate(bad, keep)
        with pytest.raises(PseudoLabelError, match=re.escape(str(bad))):
            PseudoSet.load(bad)
        with pytest.warns(UserWarning, match=re.escape(str(bad)) + ".*pseudo-labelling again"):
            assert PseudoSet.load_whole(bad) is None
    odd = tmp_path / "odd.npz"
    np.savez_compressed(odd, files=np.array(["a", "b"]), lengths=np.array([2, 2]), probs=np.zeros((3, 4)),
                        labelled_by=np.array(["[]", "[]"]))
    with pytest.raises(PseudoLabelError, match="odd.npz"):
        PseudoSet.load(odd)
    assert PseudoSet.load_whole(tmp_path / "none.npz") is None


@pytest.mark.slow
def test_a_killed_pseudo_label_save_keeps_the_previous_file(tmp_path):
    """Killed while publishing a new set (written under its temporary name): the previous set is
    still there, whole."""
    path = pseudo_set(2).save(tmp_path / PSEUDO_NAME)
    kill_mid_stage("test_interrupt_resume:save_pseudo", (path,), tmp_path / "child", stall_on=PSEUDO_NAME)
    same(PseudoSet.load(path).probs, pseudo_set(2).probs)
    assert list(tmp_path.glob(f"{PSEUDO_NAME}.tmp*"))


def save_pseudo(path) -> None:
    pseudo_set(5).save(path)


@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("soundscapes")
    rng = np.random.default_rng(1)
    files = []
    for i in range(2):   # 10-s soundscapes, two species each
        wave = np.concatenate([tone(5.0, SR, FREQS[c], 0.1) for c in np.roll(CLASSES, i)[:2]])
        files.append(root / f"ss{i}.wav")
        sf.write(files[-1], wave + rng.normal(0, 0.05, len(wave)).astype(np.float32), SR)
    return files


def round_cfg(run_dir) -> Config:
    return train_cfg(run_dir, val_fold=-1, folds=(), epochs=2, train_seconds=5.0, backend="torch",
                     pseudo_mix_prob=1.0, pseudo_rounds=1)


@pytest.fixture(scope="module")
def uninterrupted_round(tmp_path_factory, tones, soundscapes):
    """A supervised teacher (its checkpoints folder kept aside) and the round it teaches, not interrupted."""
    base = tmp_path_factory.mktemp("round")
    cfg = round_cfg(base / "run")
    write_ensemble_list(cfg.checkpoint_dir, [train_fold(cfg, CLASSES, tones, -1, progress=False)], 0)
    shutil.copytree(cfg.checkpoint_dir, base / "teacher")
    return base / "teacher", run_round(cfg, CLASSES, tones, 1, soundscapes, False)


@pytest.mark.slow
@pytest.mark.parametrize("stall_on", [PSEUDO_NAME, LAST_NAME], ids=["publishing-labels", "training-students"])
def test_killed_self_training_round_reruns_to_the_uninterrupted_round(tones, soundscapes, uninterrupted_round,
                                                                      tmp_path, stall_on):
    """A self-training round killed while publishing its pseudo-labels (the set written under its
    temporary name), then found with a cut pseudo-label file in place (what a writer without the
    rename, or a copy cut short, leaves), says the file is damaged and labels again; one killed
    while publishing its student's second-epoch checkpoint reuses the saved labels and resumes the
    student. Both end with an uninterrupted round's soft labels and student weights, exactly (the
    labels a round trains on are the float16 values it saves, so a resumed student sees the same)."""
    teacher, uninterrupted = uninterrupted_round
    cfg = round_cfg(tmp_path / "run")
    shutil.copytree(teacher, cfg.checkpoint_dir)
    pseudo = cfg.checkpoint_dir / "round1" / PSEUDO_NAME
    args = (cfg, CLASSES, tones, 1, soundscapes, False)
    kill_mid_stage("birdkit.train.selftrain:run_round", args, tmp_path / "child", stall_on=stall_on,
                   stall_at=1 if stall_on == PSEUDO_NAME else 2)
    if stall_on == PSEUDO_NAME:
        [tmp] = pseudo.parent.glob(f"{PSEUDO_NAME}.tmp*")
        assert not pseudo.exists() and PseudoSet.load(tmp).files
        shutil.copy(tmp, pseudo)
        truncate(pseudo, pseudo.stat().st_size // 2)
        with pytest.warns(UserWarning, match=re.escape(str(pseudo)) + ".*pseudo-labelling again"):
            result = run_round(*args)
    else:
        stamp = pseudo.stat().st_mtime_ns
        assert load_checkpoint(cfg.checkpoint_dir / "round1" / "all" / LAST_NAME)["epoch"] == 0
        result = run_round(*args)
        assert pseudo.stat().st_mtime_ns == stamp                   # the saved labels, not new ones
    assert [Path(f).name for f in result.pseudo.files] == [f.name for f in soundscapes]
    same(result.pseudo.probs, uninterrupted.pseudo.probs)
    same(PseudoSet.load(pseudo).probs, uninterrupted.pseudo.probs)
    a, b = (load_checkpoint(r.students[-1][0].last)["state_dict"] for r in (result, uninterrupted))
    same(a, b, "student")


# ---- the runner -----------------------------------------------------------------------------

def test_runner_refuses_a_used_run_folder_unless_overwrite(tmp_path):
    run = prepare_run_dir(tmp_path, "r1", overwrite=False)  # new folder: fine
    assert run.is_dir()
    (run / "score.txt").write_text("0.8")
    with pytest.raises(SystemExit, match="exists.*--overwrite"):
        prepare_run_dir(tmp_path, "r1", overwrite=False)
    assert (run / "score.txt").read_text() == "0.8"
    assert prepare_run_dir(tmp_path, "r1", overwrite=True) == run
    (tmp_path / "empty").mkdir()
    assert prepare_run_dir(tmp_path, "empty", overwrite=False).is_dir()  # an empty folder is not a run
