"""A competition folder whose audio files are symbolic links (a subset carved out of a larger
dataset), one without a usable recording, and the plotting helpers on empty input.

Links inside the folder are followed wherever they point; names that leave the folder (absolute,
``..``) are still refused. With no usable recording the first notebook stops in its setup cell
with the folder and the skipped rows counted by reason, not with a plotting error further down.
"""
import inspect
import os

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdkit.data.audio import load_audio
from birdkit.data.tables import TRAIN_COLUMNS
from birdkit.infer.predict import choose_soundscapes, list_audio
from birdkit.notebook import eda, plots, session
from conftest import ROOT, tone

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

SR = 32000
TAXONOMY = ("primary_label,inat_taxon_id,scientific_name,common_name,class_name\n"
            "amekes,1,Falco sparverius,American Kestrel,Aves\n"
            "1139490,1139490,Frog a,Frog,Amphibia\n"
            "grekis,3,Pitangus sulphuratus,Great Kiskadee,Aves\n")
CLASSES = ["1139490", "amekes", "grekis"]
LINKED = ["amekes/XC0.ogg", "amekes/XC1.ogg", "1139490/iNat0.ogg", "grekis/XC7.ogg", "grekis/XC8.ogg"]


def _row(label, filename, i=0):
    row = dict.fromkeys(TRAIN_COLUMNS, "")
    row.update(primary_label=label, secondary_labels="[]", filename=filename, type="['call']",
               collection="XC", rating=4.0, latitude=10.0 + i, longitude=-70.0 - i)
    return row


def build_comp(tmp_path, rows=None, link=True):
    """``tmp_path/comp``, a 2025-style folder. With ``link`` its recordings and soundscapes are
    symbolic links into ``tmp_path/store`` (file links, absolute and relative, and one species
    folder linked whole); ``rows`` replaces the default train.csv (one row per linked file)."""
    store, comp = tmp_path / "store", tmp_path / "comp"
    for i, name in enumerate(LINKED + ["soundscapes/S1.ogg", "soundscapes/T1.ogg"]):
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(store / name, tone(2.0 + i % 2, SR, 500.0 + 300 * i), SR)
    comp.mkdir()
    (comp / "taxonomy.csv").write_text(TAXONOMY)
    (comp / "sample_submission.csv").write_text("row_id," + ",".join(CLASSES) + "\n")
    rows = rows if rows is not None else [_row(n.split("/")[0], n, i) for i, n in enumerate(LINKED)]
    pd.DataFrame(rows, columns=TRAIN_COLUMNS).to_csv(comp / "train.csv", index=False)
    for sub in ("train_audio", "train_soundscapes", "test_soundscapes"):
        (comp / sub).mkdir()
    if link:
        audio = comp / "train_audio"
        for name in ("amekes/XC0.ogg", "amekes/XC1.ogg", "1139490/iNat0.ogg"):
            (audio / name).parent.mkdir(exist_ok=True)
            target = store / name
            if name.endswith("XC1.ogg"):  # a relative link: its target text holds ".."
                target = os.path.relpath(target, (audio / name).parent)
            (audio / name).symlink_to(target)
        (audio / "grekis").symlink_to(store / "grekis", target_is_directory=True)
        (comp / "train_soundscapes" / "S1.ogg").symlink_to(store / "soundscapes/S1.ogg")
        (comp / "test_soundscapes" / "T1.ogg").symlink_to(store / "soundscapes/T1.ogg")
    return comp, store


def test_every_linked_recording_is_used(tmp_path):
    comp, _ = build_comp(tmp_path)
    assert all((comp / "train_audio" / n).is_symlink() or (comp / "train_audio" / n).parent.is_symlink()
               for n in LINKED)
    tables = session.load_tables(comp, tmp_path / "run")
    assert tables.report == []
    assert sorted(tables.train["filename"]) == sorted(LINKED)
    audio = (comp / "train_audio").resolve()
    assert all(os.path.dirname(p).startswith(str(audio)) for p in tables.train["path"])  # the link's path
    seconds, unreadable = eda.durations(tables.train)
    assert unreadable == [] and len(seconds) == len(LINKED) and seconds["seconds"].between(1.9, 3.1).all()
    eda.require_recordings(tables)  # nothing raised


def test_linked_soundscapes_and_test_files_are_found_and_read(tmp_path):
    comp, _ = build_comp(tmp_path)
    files, dry_run = choose_soundscapes(comp, dry_run_count=2)
    assert not dry_run and [f.name for f in files] == ["T1.ogg"]
    assert len(load_audio(files[0], SR)) == 2 * SR
    assert [p.name for p in list_audio(comp / "train_soundscapes")] == ["S1.ogg"]
    listed = eda.soundscape_files(session.load_tables(comp, tmp_path / "run").layout)
    assert sorted(listed["filename"]) == ["S1.ogg", "T1.ogg"]


def test_names_that_leave_the_folder_are_still_refused_beside_links(tmp_path):
    store = tmp_path / "store"
    rows = [_row("amekes", "amekes/XC0.ogg"),                       # a link: used
            _row("amekes", "../store/amekes/XC1.ogg"),              # a real file, reached by ".."
            _row("amekes", str(store / "amekes" / "XC1.ogg")),      # a real file, absolute name
            _row("amekes", "amekes/../amekes/XC0.ogg"),             # ".." even if it comes back
            _row("amekes", "amekes/gone.ogg")]                      # a link to nothing
    comp, _ = build_comp(tmp_path, rows)
    (comp / "train_audio" / "amekes" / "gone.ogg").symlink_to(store / "amekes" / "deleted.ogg")
    tables = session.load_tables(comp, tmp_path / "run")
    assert tables.train["filename"].tolist() == ["amekes/XC0.ogg"]
    reasons = {r["row"]: r["reason"] for r in tables.report if r["action"] == "skipped"}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert all(reasons[line].startswith("unsafe filename (must be relative inside") for line in (3, 4, 5))
    assert reasons[6].startswith("audio file missing (broken symbolic link to") and "deleted.ogg" in reasons[6]


# ---- no usable recording: the first notebook stops with the folder and the reasons ----

def _no_usable_rows():
    return [_row("amekes", "amekes/XC0.ogg"), _row("amekes", "amekes/XC1.ogg"),
            _row("nosuch", "nosuch/XC2.ogg"), _row("grekis", "../elsewhere.ogg")]


def test_no_usable_recording_is_a_clear_error(tmp_path):
    comp, _ = build_comp(tmp_path, _no_usable_rows(), link=False)
    tables = session.load_tables(comp, tmp_path / "run")
    assert tables.train.empty
    with pytest.raises(eda.NoRecordingsError) as err:
        eda.require_recordings(tables, tmp_path / "run")
    text = str(err.value)
    assert f"no usable recording in {comp / 'train_audio'}" in text
    assert f"all 4 rows of {comp / 'train.csv'} were skipped" in text
    assert "2 x audio file missing" in text
    assert "1 x primary_label 'nosuch' not in taxonomy" in text and "1 x unsafe filename" in text
    assert str(tmp_path / "run" / "skips" / "train_table.csv") in text


def test_a_metadata_table_without_rows_is_a_clear_error(tmp_path):
    comp, _ = build_comp(tmp_path, [], link=False)
    with pytest.raises(eda.NoRecordingsError, match="train.csv has no rows"):
        eda.require_recordings(session.load_tables(comp, tmp_path / "run"))


def _run_eda_notebook(comp, run_dir, ran: list):
    """notebooks/10_eda.ipynb's code cells, run in this process (fast: no kernel), the parameters
    injected after the parameters cell as papermill does; returns the namespace. ``ran`` gets the
    source of each cell as it starts (the last one is the failing one, after an error)."""
    nb = nbformat.read(ROOT / "notebooks" / "10_eda.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        ran.append(cell.source)
        exec(compile(cell.source, f"10_eda code cell {i}", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(data_dir=str(comp), run_dir=str(run_dir))
    return namespace


def test_eda_notebook_runs_on_linked_recordings(tmp_path, capsys):
    comp, _ = build_comp(tmp_path)
    try:
        namespace = _run_eda_notebook(comp, tmp_path / "run", [])
    finally:
        plt.close("all")
    assert len(namespace["train"]) == len(LINKED)
    assert f"{len(LINKED)} usable recordings of 3 species" in capsys.readouterr().out
    assert (tmp_path / "run" / "plots" / "top30_species.png").is_file()
    assert (tmp_path / "run" / "plots" / "durations.png").is_file()


def test_eda_notebook_stops_in_its_setup_cell_without_recordings(tmp_path):
    comp, _ = build_comp(tmp_path, _no_usable_rows(), link=False)
    ran = []
    try:
        with pytest.raises(eda.NoRecordingsError, match="no usable recording in .*train_audio") as err:
            _run_eda_notebook(comp, tmp_path / "run", ran)
    finally:
        plt.close("all")
    assert "2 x audio file missing" in str(err.value)
    assert "session.load_tables(" in ran[-1]  # the setup cell, where the table is built
    assert not (tmp_path / "run" / "plots").exists()  # stopped before the first plot


# ---- every plotting helper takes empty input ----

EMPTY_CALLS = {
    "top_species": lambda: plots.top_species(pd.Series(dtype=int), 30),
    "bar_counts": lambda: plots.bar_counts(pd.Series(dtype=int), "recordings by class_name"),
    "histogram": lambda: plots.histogram(np.array([]), "Recording length", "seconds", log=True),
    "locations": lambda: plots.locations(pd.DataFrame(columns=["longitude", "latitude", "class_name"])),
    "spectrogram_grid": lambda: plots.spectrogram_grid([], [], SR, 512, 16000),
    "history_curves": lambda: plots.history_curves(pd.DataFrame(columns=["epoch", "train_loss", "val_loss"])),
    "window_heatmap": lambda: plots.window_heatmap({}, ["amekes", "1139490"]),
}


def test_every_plotting_helper_is_checked_on_empty_input():
    helpers = {name for name, f in inspect.getmembers(plots, inspect.isfunction)
               if f.__module__ == plots.__name__ and not name.startswith("_") and name != "save"}
    assert helpers == set(EMPTY_CALLS)


@pytest.mark.parametrize("name", sorted(EMPTY_CALLS))
def test_plotting_helper_draws_an_empty_axis_with_a_note(name, tmp_path):
    fig = EMPTY_CALLS[name]()
    try:
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(t.startswith("nothing to plot") for t in texts), texts
        assert plots.save(fig, tmp_path, name).stat().st_size > 0
    finally:
        plt.close(fig)


def test_empty_variants_that_the_notebooks_can_meet(tmp_path):
    figs = [plots.histogram(pd.Series([np.nan, np.nan]), "t", "x"),     # values, none finite
            plots.histogram([], "t", "x"),
            plots.bar_counts(pd.Series(dtype=float).value_counts(), "rating", "windows"),
            plots.locations(pd.DataFrame({"longitude": [np.nan], "latitude": [1.0], "class_name": ["Aves"]})),
            plots.history_curves(pd.DataFrame()),
            plots.window_heatmap({tmp_path / "short.ogg": np.zeros((0, 2))}, ["a", "b"])]   # a file, no window
    try:
        for fig in figs:
            assert any(t.get_text().startswith("nothing to plot") for ax in fig.axes for t in ax.texts)
            fig.savefig(tmp_path / "x.png")
    finally:
        plt.close("all")


def test_window_heatmap_shows_the_top_species_of_one_soundscape_per_window(tmp_path):
    classes = [f"sp{k}" for k in range(20)]
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 0.3, (6, 20)).astype(np.float32)
    probs[2, 7], probs[4, 3], probs[0, 15] = 0.95, 0.9, 0.8
    other = np.ones((3, 20), np.float32)
    fig = plots.window_heatmap({tmp_path / "a.ogg": probs, tmp_path / "b.ogg": other}, classes, 5.0, top=4)
    try:
        ax = fig.axes[0]
        top = list(np.argsort(-probs.max(axis=0), kind="stable")[:4])
        assert top[:3] == [7, 3, 15]
        assert [t.get_text() for t in ax.get_yticklabels()] == [classes[k] for k in top]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "15", "20", "25", "30"]
        np.testing.assert_allclose(ax.images[0].get_array(), probs[:, top].T)   # the first file, species x windows
        assert ax.get_title().startswith("a.ogg: top 4 species")
        assert plots.save(fig, tmp_path, "heatmap").stat().st_size > 0
    finally:
        plt.close(fig)
    fig = plots.window_heatmap({tmp_path / "a.ogg": probs, tmp_path / "b.ogg": other}, classes, file=tmp_path / "b.ogg")
    try:
        assert fig.axes[0].get_title().startswith("b.ogg") and fig.axes[0].images[0].get_array().shape == (12, 3)
    finally:
        plt.close(fig)
