"""Any BirdCLEF year: layout detection by content, classes from the submission, taxonomy and
metadata of 2024/2025/2026, classes without training audio, the undecodable-file fallback."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdkit.data.competition import CompetitionError, budget_minutes, detect_layout, is_competition_dir
from birdkit.data.tables import TableError, make_targets, read_competition_taxonomy, submission_classes
from birdkit.data.windows import n_windows
from birdkit.infer.submission import fallback_seconds
from birdkit.notebook import eda
from birdkit.notebook.paths import is_competition_dir as paths_is_competition_dir
from birdkit.notebook.session import load_tables

CLASSES = {2024: ["asbfly", "barswa", "litgre1"],
           2025: ["1139490", "amekes", "grekis"],
           2026: ["116570", "22961", "47158son01", "47158son02", "brnowl"]}
COLUMNS = {
    2024: ["primary_label", "secondary_labels", "type", "latitude", "longitude", "scientific_name",
           "common_name", "author", "license", "rating", "url", "filename"],
    2025: ["primary_label", "secondary_labels", "type", "filename", "collection", "rating", "url", "latitude",
           "longitude", "scientific_name", "common_name", "author", "license"],
    2026: ["primary_label", "secondary_labels", "type", "latitude", "longitude", "scientific_name",
           "common_name", "class_name", "inat_taxon_id", "author", "license", "rating", "url", "filename",
           "collection"],
}
EBIRD_HEADER = "TAXON_ORDER,CATEGORY,SPECIES_CODE,PRIMARY_COM_NAME,SCI_NAME,ORDER1,FAMILY,SPECIES_GROUP,REPORT_AS\n"


def _row(year, label, stem, secondary="[]"):
    values = {"primary_label": label, "secondary_labels": secondary, "type": "['call']", "latitude": 1.0,
              "longitude": 2.0, "scientific_name": f"Sci {label}", "common_name": f"Com {label}",
              "class_name": "Aves", "inat_taxon_id": 1, "author": "a", "license": "cc", "rating": 4.0,
              "url": "u", "filename": f"{label}/{stem}.ogg", "collection": "XC"}
    return {c: values[c] for c in COLUMNS[year]}


def make_competition(root, year, labels_file=False):
    """A folder in ``year``'s layout: every class but the last has one training recording."""
    root.mkdir(parents=True)
    classes = CLASSES[year]
    pd.DataFrame(columns=["row_id"] + classes).to_csv(root / "sample_submission.csv", index=False)
    rows = [_row(year, label, f"XC{i}", secondary=f"['{classes[-1]}']" if i == 0 else "[]")
            for i, label in enumerate(classes[:-1])]
    for r in rows:
        (root / "train_audio" / r["filename"]).parent.mkdir(parents=True, exist_ok=True)
        (root / "train_audio" / r["filename"]).write_bytes(b"x")
    if year == 2024:
        pd.DataFrame(rows).to_csv(root / "train_metadata.csv", index=False)
        extra = "1,species,zzzzzz1,Not In Submission,Nullus avis,O,F,G,\n"
        body = "".join(f"{i},species,{c},Common {c},Sci {c},O,F,G,\n" for i, c in enumerate(classes, 2))
        (root / "eBird_Taxonomy_v2021.csv").write_text(EBIRD_HEADER + extra + body)
        (root / "unlabeled_soundscapes").mkdir()
    else:
        pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
        kinds = {"116570": "Reptilia", "22961": "Amphibia", "47158son01": "Insecta", "47158son02": "Insecta"}
        pd.DataFrame({"primary_label": classes, "inat_taxon_id": range(len(classes)),
                      "scientific_name": classes, "common_name": classes,
                      "class_name": [kinds.get(c, "Aves") for c in classes]}).to_csv(root / "taxonomy.csv", index=False)
        (root / "train_soundscapes").mkdir()
    (root / "test_soundscapes").mkdir()
    if labels_file:
        (root / "train_soundscapes_labels.csv").write_text(
            "filename,start,end,primary_label\n" + "x.ogg,00:00:00,00:00:05,brnowl\n" * 2)
    return root


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_each_year_is_recognised_by_its_files(tmp_path, year):
    comp = make_competition(tmp_path / "any-name", year)
    layout = detect_layout(comp)
    assert layout.year == year and layout.root == comp
    assert layout.metadata_csv.name == ("train_metadata.csv" if year == 2024 else "train.csv")
    assert layout.taxonomy_csv.name == ("eBird_Taxonomy_v2021.csv" if year == 2024 else "taxonomy.csv")
    assert layout.soundscape_dir.name == ("unlabeled_soundscapes" if year == 2024 else "train_soundscapes")
    assert layout.labels_csv is None and layout.test_dir == comp / "test_soundscapes"
    assert (layout.time_budget_minutes, layout.test_file_seconds) == ((120, 240) if year == 2024 else (90, 60))
    assert str(year) in layout.describe() and "\n" not in layout.describe()
    assert is_competition_dir(comp) and paths_is_competition_dir(comp)


def test_2026_by_file_names_and_labels_file_in_any_year(tmp_path):
    comp = make_competition(tmp_path / "c", 2025, labels_file=True)
    assert detect_layout(comp).year == 2025  # a labels file alone does not make 2026
    assert detect_layout(comp).labels_csv == comp / "train_soundscapes_labels.csv"
    sf.write(comp / "test_soundscapes" / "BC2026_Test_0001_S05_20250227_010002.ogg", np.zeros(3200), 32000)
    assert detect_layout(comp).year == 2026


def test_folder_of_no_year_names_what_is_missing(tmp_path):
    (tmp_path / "sample_submission.csv").write_text("row_id,a\n")
    assert not is_competition_dir(tmp_path)
    with pytest.raises(CompetitionError, match="train.csv or train_metadata.csv.*taxonomy.csv or eBird"):
        detect_layout(tmp_path)
    with pytest.raises(CompetitionError, match="does not exist"):
        detect_layout(tmp_path / "nowhere")


def test_budget_override_and_projection(tmp_path):
    layout = detect_layout(make_competition(tmp_path / "c", 2024))
    assert budget_minutes(layout) == 120 and budget_minutes(layout, 45) == 45
    # 1 s of compute per 60 s of audio: 1,100 files x 240 s -> 4,400 s of compute = 73.3 min


def test_classes_are_the_submission_columns_as_strings(tmp_path):
    comp = make_competition(tmp_path / "c", 2026)
    assert submission_classes(comp / "sample_submission.csv") == CLASSES[2026]
    (tmp_path / "bad.csv").write_text("id,a,a\n")
    with pytest.raises(TableError, match="row_id"):
        submission_classes(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text("row_id,a,a\n")
    with pytest.raises(TableError, match="duplicates: \\['a'\\]"):
        submission_classes(tmp_path / "dup.csv")


def test_ebird_taxonomy_is_filtered_to_the_submission(tmp_path):
    comp = make_competition(tmp_path / "c", 2024)
    tax, notes = read_competition_taxonomy(comp / "eBird_Taxonomy_v2021.csv", CLASSES[2024] + ["unknown1"])
    assert tax.primary_label.tolist() == CLASSES[2024] + ["unknown1"]
    assert tax.common_name.tolist()[:3] == [f"Common {c}" for c in CLASSES[2024]]
    assert (tax.class_name == "Aves").all() and "zzzzzz1" not in set(tax.primary_label)
    assert any("unknown1" in n for n in notes) and any("no class_name" in n for n in notes)


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_tables_of_every_year(tmp_path, year):
    comp = make_competition(tmp_path / "c", year)
    tables = load_tables(comp, tmp_path / "run")
    classes = CLASSES[year]
    assert tables.layout.year == year and tables.classes == classes and tables.labelled is None
    assert tables.taxonomy.primary_label.tolist() == classes
    assert len(tables.train) == len(classes) - 1 and tables.report == []
    assert tables.untrained_classes == [classes[-1]]  # no recording, still a class
    merged = eda.with_taxonomy(tables.train, tables.taxonomy)  # 2026's own class_name: no KeyError
    assert merged["class_name"].notna().all() and len(merged) == len(tables.train)


def test_numeric_and_sonotype_labels_stay_strings_and_untrained_class_has_a_column(tmp_path):
    comp = make_competition(tmp_path / "c", 2026, labels_file=True)
    tables = load_tables(comp, tmp_path / "run")
    assert all(isinstance(c, str) for c in tables.classes) and "116570" in tables.classes
    assert tables.train.primary_label.tolist() == ["116570", "22961", "47158son01", "47158son02"]
    assert tables.train.secondary[0] == ["brnowl"]
    y = make_targets(tables.train, tables.classes, 0.5)
    assert y.shape == (4, 5) and np.isfinite(y).all() and y[0, tables.classes.index("brnowl")] == 0.5
    assert tables.labelled.windows.row_id.tolist() == ["x_5"] and tables.labelled.duplicate_rows == 1


def test_fallback_length_from_header_else_the_years(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(240 * 1000, np.int16), 1000)  # 240 s at 1 kHz: a small file
    assert fallback_seconds(path, 60) == 240
    (tmp_path / "junk.ogg").write_bytes(b"not audio at all")
    assert fallback_seconds(tmp_path / "junk.ogg", 240) == 240
    assert n_windows(int(fallback_seconds(tmp_path / "junk.ogg", 240) * 32000), 5 * 32000) == 48


def test_eda_counts_by_site_and_hour():
    windows = pd.DataFrame({"site": ["S22", None, "S05", "S22"],
                            "hour": pd.array([20, None, 5, 20], dtype="Int64")})
    assert eda.counts_by(windows, "site").to_dict() == {"S05": 1, "S22": 2}
    hours = eda.counts_by(windows, "hour")
    assert hours.to_dict() == {5: 1, 20: 2} and all(type(h) is int for h in hours.index)
    assert eda.counts_by(windows.iloc[1:2], "site").empty
