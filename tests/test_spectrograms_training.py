"""Spectrogram cache and PNGs; training reproducibility and resume, on a tiny demo."""
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from birdkit.config import Config
from birdkit.data.audio import load_audio
from birdkit.data.cache import generate_spectrograms, output_paths, select_segment, select_wave, wave_path
from birdkit.data.folds import split_table
from birdkit.models.frontend import MelFrontEnd
from birdkit.notebook.session import load_tables
from birdkit.train.factory import make_training_data
from birdkit.train.loop import LAST_NAME, Trainer


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_competition):
    base = tmp_path_factory.mktemp("demo")
    info = demo_competition
    cfg = Config(data_dir=str(info["competition_dir"]), run_dir=str(base / "run"), workers=2,
                 model_name="test_efficientnet", n_mels=128, epochs=1, batch_size=8, samples_per_epoch=16,
                 lr=1e-3, max_windows=2)
    tables = load_tables(Path(info["competition_dir"]), cfg.run_dir)
    summary = generate_spectrograms(tables.train, cfg, progress=False)
    return cfg, tables, summary


def test_every_row_is_accounted_for(demo):
    cfg, tables, summary = demo
    assert summary["written"] + summary["failed"] + summary["already_done"] == len(tables.train)
    assert summary["failed"] == 0 and summary["species_folders"] == tables.train.primary_label.nunique()


def test_png_is_128xT_uint8_and_cache_matches_on_the_fly_mel(demo):
    cfg, tables, _ = demo
    frontend = MelFrontEnd(cfg.mel)
    for row in tables.train.head(5).itertuples():
        npy_path, png_path = output_paths(cfg.cache_path, row.primary_label, row.filename)
        image = cv2.imread(str(png_path), cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint8 and image.ndim == 2 and image.shape[0] == 128
        segment = select_segment(load_audio(row.path, cfg.sample_rate), cfg.window_samples, "windows", 2)
        with torch.no_grad():
            db = frontend(torch.from_numpy(segment)[None])[0].numpy()
        cached = np.load(npy_path)
        assert cached.dtype == np.float16 and cached.shape == db.shape == image.shape
        np.testing.assert_allclose(cached.astype(np.float32), db, rtol=1e-3, atol=0.06)


def test_rerun_only_does_missing_files(demo):
    cfg, tables, _ = demo
    victims = list(tables.train.head(3).itertuples())
    for row in victims:
        output_paths(cfg.cache_path, row.primary_label, row.filename)[0].unlink()
    summary = generate_spectrograms(tables.train, cfg, progress=False)
    assert summary["written"] == 3 and summary["already_done"] == len(tables.train) - 3


@pytest.mark.parametrize("policy", ["first", "windows", "loudest"])
def test_crop_policies(policy):
    wave = np.zeros(35, dtype=np.float32)
    wave[22] = 1.0  # the loudest window is the third (20-29)
    out = select_segment(wave, 10, policy, max_windows=2)
    expected = {"first": wave[:10], "windows": wave[:20], "loudest": wave[20:30]}[policy]
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("policy", ["first", "windows", "loudest"])
def test_waveform_cache_segment_is_at_least_one_training_crop(policy):
    wave = np.arange(60, dtype=np.float32)
    wave[42] = 100.0  # the loudest window is the fifth (40-49)
    out = select_wave(wave, 10, policy, max_windows=2, min_samples=30)
    expected = {"first": wave[:30], "windows": wave[:30], "loudest": wave[30:60]}[policy]
    assert np.array_equal(out, expected)
    assert len(select_wave(wave[:12], 10, "windows", 2, 30)) == 12   # never padded


def test_waveform_cache_holds_the_decoded_segment(demo):
    cfg, tables, _ = demo
    for row in tables.train.head(3).itertuples():
        cached = np.load(wave_path(cfg.cache_path, row.primary_label, row.filename))
        full = load_audio(row.path, cfg.sample_rate)
        assert cached.dtype == np.float16 and len(cached) == min(len(full), cfg.max_windows * cfg.window_samples)
        np.testing.assert_allclose(cached.astype(np.float32), full[:len(cached)], atol=1e-3)


def _train(cfg, tables):
    train_df, val_df, _ = split_table(tables.train, cfg.n_folds, cfg.seed)
    data = make_training_data(cfg, tables.classes, train_df, val_df)
    trainer = Trainer(cfg, tables.classes, data, cfg.checkpoint_dir)
    resumed = trainer.maybe_resume()
    return trainer, resumed, trainer.fit(progress=False)


@pytest.mark.slow
def test_same_seed_same_metric_and_resume(demo, tmp_path):
    cfg, tables, _ = demo
    cfg_a = dataclasses.replace(cfg, run_dir=str(tmp_path / "a"), cache_dir=str(cfg.cache_path))
    cfg_b = dataclasses.replace(cfg_a, run_dir=str(tmp_path / "b"))
    _, _, h_a = _train(cfg_a, tables)
    _, _, h_b = _train(cfg_b, tables)
    assert round(h_a.val_auc.iloc[-1], 4) == round(h_b.val_auc.iloc[-1], 4)
    assert round(h_a.val_loss.iloc[-1], 4) == round(h_b.val_loss.iloc[-1], 4)
    assert (cfg_a.checkpoint_dir / LAST_NAME).is_file()
    trainer, resumed, history = _train(dataclasses.replace(cfg_a, epochs=2), tables)
    assert resumed and trainer.start_epoch == 1
    assert history.epoch.tolist() == [1, 2]   # epoch 1 came from the checkpoint, only epoch 2 ran
