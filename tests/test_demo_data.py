"""The synthetic competition folder: real layout, readable audio, ground truth, reproducibility."""
import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdkit_tools.demo import CLASSIC as SPECIES
from birdkit_tools.demo import TAXONOMY_COLUMNS, generate_demo_competition, window_labels
from birdkit_tools.demo import generate as generate_module
from birdkit_tools.demo.layouts import TRAIN_COLUMNS as YEAR_COLUMNS

COMPETITION = "birdclef-2025"
TRAIN_COLUMNS = YEAR_COLUMNS[2025]
SMALL = dict(design="classic", scale=0.05, n_test=1, n_train_soundscapes=0)
CLASSIC = dict(design="classic", scale=0.3, n_test=2, n_train_soundscapes=1)


@pytest.fixture(scope="module")
def demo(demo_competition):
    """The session's classic 2025 demo (conftest): ``(out folder, info)``."""
    return Path(demo_competition["competition_dir"]).parent, demo_competition


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Three small generations: two with seed 2025, one with seed 7 (no test files: cheaper)."""
    dirs = [tmp_path_factory.mktemp(name) for name in ("a", "b", "c")]
    for out, seed, n_test in zip(dirs, (2025, 2025, 7), (1, 1, 0)):
        generate_demo_competition(out, seed=seed, **{**SMALL, "n_test": n_test})
    return [d / COMPETITION for d in dirs]


def _read(path):
    return pd.read_csv(path, dtype={"primary_label": str})


def test_tables_have_real_columns(demo):
    out, info = demo
    comp = out / COMPETITION
    assert list(_read(comp / "taxonomy.csv").columns) == TAXONOMY_COLUMNS
    assert list(_read(comp / "train.csv").columns) == TRAIN_COLUMNS
    assert TRAIN_COLUMNS[:4] == ["primary_label", "secondary_labels", "type", "filename"]
    assert (comp / "recording_location.txt").read_text().strip()
    assert info["n_species"] == 12 and info["n_test"] == 2


def test_taxonomy_labels(demo):
    tax = _read(demo[0] / COMPETITION / "taxonomy.csv")
    labels = tax.primary_label.tolist()
    assert len(labels) == 12 and labels == sorted(labels)
    numeric = [lab for lab in labels if lab.isdigit()]
    assert "1139490" in numeric and len(numeric) == 3 and len(labels) > len(numeric)
    assert set(tax.class_name) == {"Aves", "Amphibia", "Insecta", "Mammalia"}
    assert tax.inat_taxon_id.dtype.kind == "i"


def test_train_rows(demo):
    train = _read(demo[0] / COMPETITION / "train.csv")
    counts = train.primary_label.value_counts()
    assert (counts == 1).any() and counts.max() >= 10
    assert set(counts.index) == {sp.label for sp in SPECIES}
    secondary = train.secondary_labels.map(ast.literal_eval)
    assert all(isinstance(x, list) for x in secondary)
    assert any(x != [""] for x in secondary)
    assert all(isinstance(x, list) for x in train.type.map(ast.literal_eval))
    assert set(train.collection) <= {"XC", "iNat", "CSA"}
    ids = train.filename.str.split("/").str[1]
    assert all(i.startswith(c) for i, c in zip(ids, train.collection))
    assert (train.filename.str.split("/").str[0] == train.primary_label).all()
    assert train.rating.between(0, 5).all() and ((train.rating * 2) % 1 == 0).all()
    assert train.latitude.between(-10, 20).all() and train.longitude.between(-90, -55).all()
    assert (train.license == "cc-by-nc-sa 4.0").all()


def test_train_audio_reads(demo):
    comp = demo[0] / COMPETITION
    train = _read(comp / "train.csv")
    for filename in train.filename:
        info = sf.info(str(comp / "train_audio" / filename))
        assert info.samplerate == 32000 and info.channels == 1
        assert 1.5 < info.duration < 16
    audio, sr = sf.read(comp / "train_audio" / train.filename[0])
    assert sr == 32000 and audio.ndim == 1 and 0.3 < np.abs(audio).max() < 1.0


def test_soundscapes_are_60s(demo):
    comp = demo[0] / COMPETITION
    files = sorted((comp / "test_soundscapes").glob("soundscape_*.ogg"))
    files += sorted((comp / "train_soundscapes").glob("H*_*_*.ogg"))
    assert len(files) == 3
    for path in files:
        info = sf.info(str(path))
        assert info.samplerate == 32000 and info.channels == 1
        assert info.frames == 60 * 32000


def test_submission_and_solution(demo):
    out = demo[0]
    labels = _read(out / COMPETITION / "taxonomy.csv").primary_label.tolist()
    sample = pd.read_csv(out / COMPETITION / "sample_submission.csv")
    solution = pd.read_csv(out / "solution.csv")
    assert list(sample.columns) == ["row_id"] + labels
    assert list(solution.columns) == list(sample.columns)
    assert solution.row_id.tolist() == sample.row_id.tolist()
    stems = sorted(p.stem for p in (out / COMPETITION / "test_soundscapes").glob("*.ogg"))
    assert sample.row_id.tolist() == [f"{s}_{end}" for s in stems for end in range(5, 61, 5)]
    y = solution[labels].to_numpy()
    assert set(np.unique(y)) <= {0, 1}
    assert (y.sum(axis=1) == 0).any() and y.sum(axis=1).max() >= 2
    covered = [sp.label for sp in SPECIES if sp.n_train > 1]
    assert (solution[covered].sum() > 0).all()


def test_window_labels_overlap_rule():
    events = [(0, 1.0, 1.3),    # short call inside window 0
              (1, 4.4, 5.4),    # 0.6 s in window 0, 0.4 s in window 1
              (2, 14.8, 16.0)]  # 0.2 s in window 2, 1.0 s in window 3
    y = window_labels(events, 3)
    assert y.shape == (12, 3)
    assert y[:, 0].tolist()[:2] == [1, 0]
    assert y[:, 1].tolist()[:2] == [1, 0]
    assert y[:, 2].tolist()[2:4] == [0, 1]


def test_same_seed_same_output(twins):
    a, b, c = twins
    assert (a / "train.csv").read_bytes() == (b / "train.csv").read_bytes()
    assert (a.parent / "solution.csv").read_bytes() == (b.parent / "solution.csv").read_bytes()
    first = _read(a / "train.csv").filename[0]
    x, _ = sf.read(a / "train_audio" / first)
    y, _ = sf.read(b / "train_audio" / first)
    assert np.array_equal(x, y)
    for path in sorted(a.rglob("*.ogg")):  # Ogg serials are fixed, so even the bytes match
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()


def test_other_seed_differs(twins):
    a, _, c = twins
    assert (a / "train.csv").read_bytes() != (c / "train.csv").read_bytes()


def test_second_call_reuses(demo, monkeypatch):
    out, _ = demo
    watched = [out / COMPETITION / "train.csv", out / "solution.csv"]
    watched += sorted((out / COMPETITION / "test_soundscapes").glob("*.ogg"))[:1]
    before = [p.stat().st_mtime_ns for p in watched]

    def no_synthesis(*args, **kwargs):
        raise AssertionError("a complete demo folder was generated again")

    monkeypatch.setattr(generate_module, "_write_all", no_synthesis)
    info = generate_demo_competition(out, **CLASSIC)
    assert info["reused"] and info["n_test"] == 2
    assert [p.stat().st_mtime_ns for p in watched] == before


def test_regenerates_when_params_change_or_incomplete(tmp_path):
    tiny = {**SMALL, "n_test": 0}
    generate_demo_competition(tmp_path, **tiny)
    first = (tmp_path / COMPETITION / "train.csv").read_bytes()
    info = generate_demo_competition(tmp_path, seed=7, **tiny)
    assert not info["reused"]
    assert (tmp_path / COMPETITION / "train.csv").read_bytes() != first
    (tmp_path / ".complete").unlink()
    info = generate_demo_competition(tmp_path, seed=7, **tiny)
    assert not info["reused"] and (tmp_path / ".complete").is_file()
    assert len(pd.read_csv(tmp_path / "solution.csv")) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []
