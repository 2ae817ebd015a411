"""Bad-input corpus: each recording is decoded or skipped with a counted reason, in
the spectrogram, dataset and inference stages; nothing raises out of a stage, nothing is NaN.

Covered elsewhere, not repeated here: empty/junk/missing files and unsafe paths (test_audio.py),
bad train.csv rows (test_tables_split.py), a crafted pickle checkpoint (test_models.py).
"""
import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.audio import AudioError
from birdkit.data.cache import REPORT_NAME, SUMMARY_NAME, generate_spectrograms, output_paths
from birdkit.data.datasets import ClipDataset, ImageDataset
from birdkit.data.tables import read_taxonomy, read_train
from birdkit.data.windows import row_ids
from birdkit.infer.predict import list_audio, load_ensemble, predict_soundscapes
from birdkit.models import build_model, make_contract, save_checkpoint
from conftest import REAL_AUDIO, tone

SR = 32000
LABELS = ["1139490", "amerob", "grekis"]
SOUNDSCAPE = "birdnet_soundscape_120s.ogg"

# case -> ("decoded", rows: one per 5-s window at inference) | ("skipped", reason in every report)
EXPECTED = {
    "zero_byte.ogg": ("skipped", "empty file"),
    "truncated_3000b.ogg": ("skipped", "undecodable"),   # first 3000 bytes: Vorbis headers cut off
    "header_only_5000b.ogg": ("skipped", "no samples"),  # headers complete, no audio packet
    "truncated_100kb.ogg": ("decoded", 3),       # cut mid-stream: the 12.04 s before the cut decode
    "wav_named.ogg": ("decoded", 1),             # a WAV named .ogg: libsndfile sniffs the content
    "short_0.2s.wav": ("decoded", 1),            # padded to one window
    "silence.wav": ("decoded", 2),               # 10 s of digital zeros
    "nan_inf.wav": ("decoded", 2),               # float32, 6 s, NaN/+inf/-inf samples become 0
    "huge_float.wav": ("decoded", 1),            # float32 with corrupt 1e30 samples, clipped to +-1
    "stereo_48k.wav": ("decoded", 2),            # 8 s, downmixed and resampled
    "mono_16k.flac": ("decoded", 1),             # exactly 5.0 s: one window, not two
    "high_256k.wav": ("decoded", 1),             # 2 s at 256 kHz, resampled 8:1
    "real_mp3.mp3": ("decoded", 2),              # real_mp3..real_float64: 21100_36_48.*, 10 s at 16 kHz
    "real_flac24.flac": ("decoded", 2),
    "real_opus.opus": ("decoded", 2),
    "real_float64.wav": ("decoded", 2),
    "silence_10s.mp3": ("decoded", 2),           # 44.1 kHz
    SOUNDSCAPE: ("decoded", 24),                 # 120 s at 48 kHz
}
DECODED = [n for n, (kind, _) in EXPECTED.items() if kind == "decoded"]
SKIPPED = [n for n, (kind, _) in EXPECTED.items() if kind == "skipped"]


def _write_case(name, path):
    ogg = (REAL_AUDIO / SOUNDSCAPE).read_bytes()
    real = {"real_mp3.mp3": "mp3", "real_flac24.flac": "flac", "real_opus.opus": "opus",
            "real_float64.wav": "wav"}
    if name == "zero_byte.ogg":
        path.write_bytes(b"")
    elif name.startswith("truncated_") or name.startswith("header_only_"):
        size = {"truncated_3000b.ogg": 3000, "header_only_5000b.ogg": 5000, "truncated_100kb.ogg": 100_000}[name]
        path.write_bytes(ogg[:size])
    elif name == "wav_named.ogg":
        sf.write(path, tone(3.0, 16000), 16000, format="WAV")
    elif name == "short_0.2s.wav":
        sf.write(path, tone(0.2, SR), SR)
    elif name == "silence.wav":
        sf.write(path, np.zeros(10 * SR, np.float32), SR)
    elif name == "nan_inf.wav":
        wave = tone(6.0, SR)
        wave[100:400], wave[5000], wave[9000:9010] = np.nan, np.inf, -np.inf
        sf.write(path, wave, SR, subtype="FLOAT")
    elif name == "huge_float.wav":
        wave = tone(4.0, SR)
        wave[2000:2100], wave[50000] = 1e30, -3e38
        sf.write(path, wave, SR, subtype="FLOAT")
    elif name == "stereo_48k.wav":
        sf.write(path, np.stack([tone(8.0, 48000, 500.0), tone(8.0, 48000, 3000.0)], axis=1), 48000)
    elif name == "mono_16k.flac":
        sf.write(path, tone(5.0, 16000), 16000, subtype="PCM_16")
    elif name == "high_256k.wav":
        sf.write(path, tone(2.0, 256000, 2000.0), 256000)
    elif name in real:
        shutil.copyfile(REAL_AUDIO / f"21100_36_48.{real[name]}", path)
    else:
        shutil.copyfile(REAL_AUDIO / name, path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Competition layout: taxonomy.csv, train.csv naming every file, train_audio/, test_soundscapes/."""
    comp = tmp_path_factory.mktemp("bad_input") / "competition"
    (comp / "test_soundscapes").mkdir(parents=True)
    pd.DataFrame({"primary_label": LABELS, "inat_taxon_id": [1139490, 1, 2], "scientific_name": LABELS,
                  "common_name": LABELS, "class_name": ["Amphibia", "Aves", "Aves"]}
                 ).to_csv(comp / "taxonomy.csv", index=False)
    rows = []
    for i, name in enumerate(EXPECTED):
        label = LABELS[i % len(LABELS)]
        path = comp / "train_audio" / label / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_case(name, path)
        shutil.copyfile(path, comp / "test_soundscapes" / name)
        rows.append({"primary_label": label, "secondary_labels": "[]", "filename": f"{label}/{name}"})
    pd.DataFrame(rows).to_csv(comp / "train.csv", index=False)
    taxonomy = read_taxonomy(comp / "taxonomy.csv")
    df, report = read_train(comp / "train.csv", taxonomy, comp / "train_audio")
    assert report == [] and len(df) == len(EXPECTED)  # the table check only looks at names
    return comp, df, sorted(taxonomy.primary_label)


@pytest.fixture(scope="module")
def cfg(corpus):
    comp = corpus[0]
    return Config(run_dir=str(comp.parent / "run"), cache_dir=str(comp.parent / "run" / "spectrograms"),
                  workers=1, n_mels=64, n_fft=1024, model_name="test_efficientnet",
                  infer_workers=2)  # inference in worker processes: errors must cross the process boundary


@pytest.fixture(scope="module")
def spectrograms(corpus, cfg):
    return generate_spectrograms(corpus[1], cfg, progress=False)


def test_spectrogram_counts_add_up_and_reasons_are_reported(spectrograms, cfg):
    s = spectrograms
    assert s["written"] + s["failed"] + s["already_done"] == s["rows"] == len(EXPECTED)
    assert (s["written"], s["failed"], s["already_done"]) == (len(DECODED), len(SKIPPED), 0)
    report = pd.read_csv(cfg.cache_path / REPORT_NAME)
    reasons = {row.filename.split("/")[1]: row.reason for row in report.itertuples()}
    assert reasons == {n: EXPECTED[n][1] for n in SKIPPED}
    assert report[report.reason == "undecodable"]["error"].str.contains("LibsndfileError").all()
    assert json.loads((cfg.cache_path / SUMMARY_NAME).read_text())["failed_by_reason"] == \
        {r: sum(EXPECTED[n][1] == r for n in SKIPPED) for r in set(reasons.values())}


def test_cached_spectrograms_are_finite_and_pngs_decode(spectrograms, corpus, cfg):
    for row in corpus[1].itertuples():
        name = row.filename.split("/")[1]
        npy, png = output_paths(cfg.cache_path, row.primary_label, row.filename)
        if EXPECTED[name][0] == "skipped":
            assert not npy.exists() and not png.exists(), name
            continue
        frames = min(EXPECTED[name][1], cfg.max_windows) * cfg.window_samples // cfg.hop_length + 1
        db = np.load(npy)
        assert db.dtype == np.float16 and db.shape == (64, frames), (name, db.shape)
        assert np.isfinite(db).all(), name
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.dtype == np.uint8 and image.shape == (64, frames), name


def test_spectrogram_rerun_skips_finished_and_retries_failed(spectrograms, corpus, cfg):
    again = generate_spectrograms(corpus[1], cfg, progress=False)
    assert (again["already_done"], again["written"], again["failed"]) == (len(DECODED), 0, len(SKIPPED))


def test_datasets_from_audio_are_finite_in_range(corpus, cfg):
    _, df, classes = corpus
    names = df["filename"].str.split("/").str[1]
    model = build_model(cfg, classes).eval()
    for train in (False, True):
        waves = ClipDataset(df[names.isin(DECODED)], cfg, classes, train=train, source="audio")
        images = ImageDataset(df[names.isin(DECODED)], cfg, classes, train=train, source="audio")
        assert len(waves) == len(images) == len(DECODED)
        for i in range(len(waves)):
            wave, target, primary = waves[i]
            assert wave.shape == (cfg.train_samples,) and torch.isfinite(wave).all(), waves.df.filename[i]
            assert wave.abs().max() <= 1.0 and target[primary] == 1.0
            with torch.no_grad():
                seen = model.image(wave[None])
            assert torch.isfinite(seen).all() and 0.0 <= seen.min() and seen.max() <= 1.0
            image, _, _ = images[i]
            assert image.shape == (3, 64, cfg.n_frames) and torch.isfinite(image).all(), images.df.filename[i]
            assert 0.0 <= image.min() and image.max() <= 1.0
    bad = ClipDataset(df[names.isin(SKIPPED)], cfg, classes, train=False, source="audio")
    for i in range(len(bad)):  # the dataset itself does not skip: its error names the file and reason
        name = bad.df.filename[i].split("/")[1]
        with pytest.raises(AudioError, match=f"{name}: {EXPECTED[name][1]}"):
            bad[i]


@pytest.fixture(scope="module")
def ensemble(corpus, cfg, tmp_path_factory):
    classes = corpus[2]
    torch.manual_seed(0)
    model = build_model(cfg, classes)
    work = tmp_path_factory.mktemp("ensemble")
    path = save_checkpoint(work / "tiny.pth", model, make_contract(cfg, classes))
    return load_ensemble([path], "torch", work)


@pytest.mark.slow
def test_inference_gives_every_file_its_rows(corpus, cfg, ensemble):
    files = list_audio(corpus[0] / "test_soundscapes")
    assert sorted(f.name for f in files) == sorted(EXPECTED)
    result = predict_soundscapes(files, ensemble, cfg, progress=False)
    sub = result.submission
    skipped = {s["filename"]: s["reason"] for s in result.skipped}
    assert skipped == {n: EXPECTED[n][1] for n in SKIPPED}
    assert all(s["error"] for s in result.skipped if s["reason"] == "undecodable")
    read = [f for f in files if f.name not in skipped]
    assert len(read) + len(skipped) == result.timings["files"] == len(EXPECTED)
    start = 0
    for f in files:  # rows come in file order
        kind, value = EXPECTED[f.name]
        n = 12 if kind == "skipped" else value  # an undecodable file gets a 60-s soundscape's rows
        assert sub["row_id"].iloc[start:start + n].tolist() == row_ids(f.stem, n, 5.0), f.name
        block = sub.iloc[start:start + n, 1:].to_numpy()
        assert (block == 0).all() if kind == "skipped" else (block > 0).all(), f.name
        start += n
    assert start == len(sub)
    probs = sub[ensemble.classes].to_numpy()
    assert np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0


def test_same_stem_in_one_label_folder_is_reported_not_overwritten(tmp_path):
    """x.wav and x.flac under one label would share the cache file x.npy: the second is reported."""
    label = tmp_path / "train_audio" / "amerob"
    label.mkdir(parents=True)
    sf.write(label / "x.wav", tone(1.0, SR), SR)
    sf.write(label / "x.flac", tone(1.0, SR, 3000.0), SR)
    df = pd.DataFrame({"primary_label": ["amerob"] * 2, "filename": ["amerob/x.wav", "amerob/x.flac"],
                       "path": [str(label / "x.wav"), str(label / "x.flac")]})
    cfg = Config(run_dir=str(tmp_path / "run"), workers=1, n_mels=64, n_fft=1024)
    for done in (0, 1):  # first run, then a rerun: the counts still add up to the rows
        s = generate_spectrograms(df, cfg, progress=False)
        assert (s["already_done"], s["written"], s["failed"]) == (done, 1 - done, 1)
        report = pd.read_csv(cfg.cache_path / REPORT_NAME)
        assert report.filename.tolist() == ["amerob/x.flac"] and report.reason[0] == "duplicate output name"
        assert "amerob/x.wav" in report.error[0]
