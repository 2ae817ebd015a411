"""Faults (issue 7): spectrogram generation killed part-way resumes with every output valid, and
the runner never reuses a previous run's folder unless asked."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdkit.config import Config
from birdkit.spectrograms import generate_spectrograms, output_paths
from birdkit.tables import read_taxonomy, read_train
from birdkit_tools.runner import prepare_run_dir
from conftest import ROOT, tone

N_FILES, KILL_AFTER, SR = 40, 5, 32000
LABELS = ["amerob", "grekis"]

# The child builds the same table and config as the test, then runs generation slowed to
# ~0.1 s per file (as a real recording would be), so SIGKILL lands part-way through.
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from birdkit import spectrograms
    from birdkit.config import Config
    from birdkit.tables import read_taxonomy, read_train

    comp, cache = sys.argv[2], sys.argv[3]
    process = spectrograms._process
    def slow_process(job):
        time.sleep(0.1)
        return process(job)
    spectrograms._process = slow_process
    df, _ = read_train(comp + "/train.csv", read_taxonomy(comp + "/taxonomy.csv"), comp + "/train_audio")
    cfg = Config(run_dir=cache, cache_dir=cache, workers=1, n_mels=64, n_fft=1024)
    spectrograms.generate_spectrograms(df, cfg, progress=False)
""")


def finished(cache):
    """Finished files: the dB cache (<label>/<stem>.npy) is written last, after PNG and waveform."""
    return [p for p in cache.glob("*/*.npy") if not p.name.startswith(".tmp-")]


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
    return comp


@pytest.mark.slow
def test_killed_generation_resumes_with_every_output_valid(comp, tmp_path):
    cache = tmp_path / "cache"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(ROOT / "src_py"), str(comp), str(cache)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 45
    while len(finished(cache)) < KILL_AFTER and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, f"child ended on its own: {err.decode()[-2000:]}"
    done_before = len(finished(cache))
    assert KILL_AFTER <= done_before < N_FILES, done_before

    df, _ = read_train(comp / "train.csv", read_taxonomy(comp / "taxonomy.csv"), comp / "train_audio")
    todo = [r for r in df.itertuples() if not output_paths(cache, r.primary_label, r.filename)[0].exists()]
    npy, _ = output_paths(cache, todo[0].primary_label, todo[0].filename)
    stale = npy.with_name(f".tmp-999999-{npy.name}")  # what a kill during a write leaves behind
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"\x93NUMPY half-written")

    cfg = Config(run_dir=str(cache), cache_dir=str(cache), workers=1, n_mels=64, n_fft=1024)
    s = generate_spectrograms(df, cfg, progress=False)
    assert s["already_done"] == done_before >= KILL_AFTER  # a .tmp-* file never counts as done
    assert s["stale_tmp_removed"] >= 1 and not stale.exists() and not list(cache.glob("*/.tmp-*"))
    assert s["written"] + s["already_done"] + s["failed"] == s["rows"] == N_FILES and s["failed"] == 0
    frames = cfg.window_samples // cfg.hop_length + 1
    for row in df.itertuples():
        npy, png = output_paths(cache, row.primary_label, row.filename)
        db = np.load(npy)
        assert db.shape == (64, frames) and np.isfinite(db).all(), row.filename
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert image is not None and image.dtype == np.uint8 and image.shape == (64, frames), row.filename


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
