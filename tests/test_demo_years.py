"""The demo generator's years (2024, 2026 layouts) and designs (field, field-b): real formats,
what field recordings do to a call, and reproducibility."""
import ast
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import welch

from birdkit.data.competition import detect_layout
from birdkit.data.labels import name_metadata, read_soundscape_labels
from birdkit.data.tables import submission_classes
from birdkit_tools.demo import DEFAULT_DESIGN, DESIGNS, generate_demo_competition
from birdkit_tools.demo.generate import plan_field
from birdkit_tools.demo.layouts import TRAIN_COLUMNS
from birdkit_tools.demo.sound import far_away, render_field, reverb_tail
from birdkit_tools.demo.species import SR, synth_call
from conftest import FIELD_2024, FIELD_2026

FIELD_B = dict(year=2025, design="field-b", n_labelled=1, n_test=1)


def _comp(info) -> Path:
    return Path(info["competition_dir"])


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_designs_and_defaults():
    assert DEFAULT_DESIGN == "field" and {"classic", "field", "field-b"} <= set(DESIGNS)
    for name in ("field", "field-b"):
        d = DESIGNS[name]
        assert d.field and d.n_train_soundscapes >= 20 and 4 <= d.n_labelled <= 6 and 8 <= d.n_test <= 12
        assert d.unknown_species > 0 and d.distance_m[1] > d.distance_m[0] >= 10
        assert 0.3 <= d.rt60_s[0] and d.rt60_s[1] <= 2.0
    assert DESIGNS["field-b"].species_seed and DESIGNS["field-b"].rate_44k_share and DESIGNS["field-b"].stereo_share


def test_2026_layout(make_demo):
    info = make_demo(**FIELD_2026)
    comp = _comp(info)
    assert comp.name == "birdclef-2026" and detect_layout(comp).year == 2026
    train = _read(comp / "train.csv")
    assert list(train.columns) == TRAIN_COLUMNS[2026] and len(train.columns) == 15
    assert set(train.collection) <= {"XC", "iNat"}
    tax = _read(comp / "taxonomy.csv")
    classes = submission_classes(comp / "sample_submission.csv")
    assert tax.primary_label.tolist() == classes == sorted(classes)
    assert "Reptilia" in set(tax.class_name) and any(c.startswith("47158son") for c in classes)
    untrained = sorted(set(classes) - set(train.primary_label))
    assert untrained == sorted(info["untrained_classes"]) and len(untrained) >= 1
    assert not any((comp / "train_audio" / c).exists() for c in untrained)
    names = [p.stem for p in (comp / "train_soundscapes").glob("*.ogg")]
    tests = [p.stem for p in (comp / "test_soundscapes").glob("*.ogg")]
    assert all(name_metadata(n)["split"] == "train" for n in names)
    assert all(name_metadata(n)["split"] == "test" for n in tests)


def test_2026_labels_file_is_the_real_format(make_demo):
    comp = _comp(make_demo(**FIELD_2026))
    raw = _read(comp / "train_soundscapes_labels.csv")
    assert list(raw.columns) == ["filename", "start", "end", "primary_label"]
    assert raw.start.str.fullmatch(r"\d\d:\d\d:\d\d").all() and (raw.groupby(list(raw.columns)).size() == 2).all()
    labelled = read_soundscape_labels(comp / "train_soundscapes_labels.csv", submission_classes(
        comp / "sample_submission.csv"))
    assert labelled.duplicate_rows == len(raw) // 2 and labelled.unknown == {}
    assert all((comp / "train_soundscapes" / f).is_file() for f in labelled.files)
    counts = labelled.class_counts()
    untrained = make_demo(**FIELD_2026)["untrained_classes"]
    assert (counts[untrained] > 0).all()  # classes without training audio call in the labelled files
    assert labelled.windows.site.notna().all()


def test_2024_layout(make_demo):
    comp = _comp(make_demo(**FIELD_2024))
    layout = detect_layout(comp)
    assert layout.year == 2024 and layout.soundscape_dir.name == "unlabeled_soundscapes"
    assert not (comp / "train.csv").exists() and not (comp / "taxonomy.csv").exists()
    meta = _read(comp / "train_metadata.csv")
    assert list(meta.columns) == TRAIN_COLUMNS[2024] and len(meta.columns) == 12
    ebird = _read(comp / "eBird_Taxonomy_v2021.csv")
    classes = submission_classes(comp / "sample_submission.csv")
    assert set(classes) < set(ebird.SPECIES_CODE) and len(ebird) > len(classes)
    assert all(not c.isdigit() for c in classes)  # eBird codes only
    for path in (comp / "test_soundscapes").glob("*.ogg"):
        assert sf.info(str(path)).duration == 240
    solution = pd.read_csv(Path(make_demo(**FIELD_2024)["solution_path"]))
    assert solution.row_id.str.rsplit("_", n=1).str[0].value_counts().eq(48).all()
    assert (comp / "train_soundscapes_labels.csv").is_file()  # field mode: labelled files in every year


def test_field_b_recordings(make_demo):
    info = make_demo(**FIELD_B)
    comp = _comp(info)
    train = _read(comp / "train.csv")
    infos = [sf.info(str(comp / "train_audio" / f)) for f in train.filename]
    assert {i.samplerate for i in infos} == {32000, 44100} and {i.channels for i in infos} == {1, 2}
    counts = train.primary_label.value_counts()
    classes = submission_classes(comp / "sample_submission.csv")
    assert info["n_species"] == len(classes) == 20 and (counts == 1).sum() >= 2
    assert any(c.isdigit() for c in classes) and any("son" in c for c in classes)


def test_far_away_loses_highs_and_reverberates():
    rng = np.random.default_rng(0)
    by_label = {sp.label: sp for sp in DESIGNS["field"].species(2025)}
    call = np.zeros(2 * SR, np.float32)
    for label in ("rtlhum", "compau"):  # calls at 11 kHz and at 2-3 kHz together
        call[: SR // 2] += synth_call(by_label[label], rng)[: SR // 2]
    tail = reverb_tail(rng, 1.0)
    near, far = far_away(call, 10.0, tail), far_away(call, 60.0, tail)
    f, p_near = welch(near, SR, nperseg=2048)
    _, p_far = welch(far, SR, nperseg=2048)
    high, low = f > 8000, (f > 1000) & (f < 4000)
    assert p_far[high].sum() / p_far[low].sum() < 0.1 * p_near[high].sum() / p_near[low].sum()  # highs lost
    assert np.sqrt(np.mean(far ** 2)) < 0.5 * np.sqrt(np.mean(near ** 2))             # quieter
    after = slice(SR // 2 + SR // 10, SR)  # the call ended: what remains is reverberation
    assert np.abs(far[after]).max() > 0.05 * np.abs(far).max()


def test_unknown_species_call_but_are_never_labelled():
    design = DESIGNS["field"]
    species, unknown = design.species(2025), design.unknown()
    assert unknown and {u.label for u in unknown}.isdisjoint(sp.label for sp in species)
    busy = dataclasses.replace(design, unknown_rate=1.0)
    weights = np.ones(len(species))
    without, events = render_field(np.random.default_rng(1), species, weights, (), 60, busy, ())
    with_unknown, same_events = render_field(np.random.default_rng(1), species, weights, (), 60, busy, unknown)
    assert same_events == events and not np.allclose(with_unknown, without)


def test_field_prevalence_is_not_the_training_distribution():
    design = DESIGNS["field"]
    species = design.species(2025)
    scapes = plan_field(2025, 2025, design, species, 10, 20, 5)
    mean = np.mean([np.asarray(s.weights) / np.sum(s.weights) for s in scapes], axis=0)
    n_train = np.array([sp.n_train for sp in species], float)
    assert np.corrcoef(np.argsort(np.argsort(mean)), np.argsort(np.argsort(n_train)))[0, 1] < 0.8
    sites = {name_metadata(s.stem) is None for s in scapes}
    assert sites == {True}  # 2025 names carry no 2026 metadata
    assert {s.kind for s in scapes} == {"train_ss", "labelled", "test"}


def test_same_seed_same_bytes_for_field_b(tmp_path):
    small = dict(year=2026, design="field-b", scale=0.05, n_test=1, n_train_soundscapes=1, n_labelled=1)
    a = _comp(generate_demo_competition(tmp_path / "a", **small))
    b = _comp(generate_demo_competition(tmp_path / "b", **small))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and len(files) > 10
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert ast.literal_eval(_read(a / "train.csv").secondary_labels[0]) is not None
