"""train_soundscapes_labels.csv: doubled rows, HH:MM:SS, ';' labels, unknown labels, folds by file,
and the 2026 file-name metadata."""
import numpy as np
import pandas as pd
import pytest

from birdkit.data.folds import group_folds
from birdkit.data.labels import (
    LabelsError,
    name_metadata,
    parse_time,
    read_soundscape_labels,
    score_windows,
    split_labels,
)

CLASSES = ["116570", "22961", "47158son01", "brnowl", "yeofly1"]
A = "BC2026_Train_0039_S22_20211231_201500.ogg"
B = "BC2026_Train_0102_S05_20230114_053000.ogg"
# the 2026 release: every row twice, times as HH:MM:SS, labels ';'-separated
LABELS = f"""filename,start,end,primary_label
{A},00:00:00,00:00:05,22961;47158son01;116570
{A},00:00:00,00:00:05,22961;47158son01;116570
{A},00:00:05,00:00:10,brnowl
{A},00:00:05,00:00:10,brnowl
{A},00:00:55,00:01:00,yeofly1;notaclass
{A},00:00:55,00:01:00,yeofly1;notaclass
{B},00:00:10,00:00:15,22961
{B},00:00:10,00:00:15,22961
{B},00:00:10,00:00:15,brnowl
"""


@pytest.fixture
def labels_csv(tmp_path):
    path = tmp_path / "train_soundscapes_labels.csv"
    path.write_text(LABELS)
    return path


def test_doubled_rows_merge_into_windows(labels_csv):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    assert lab.raw_rows == 9 and len(lab) == 4 and lab.duplicate_rows == 5
    w = lab.windows
    assert w.row_id.tolist() == [f"{A[:-4]}_5", f"{A[:-4]}_10", f"{A[:-4]}_60", f"{B[:-4]}_15"]
    assert w.start.tolist() == [0.0, 5.0, 55.0, 10.0] and w.end.tolist() == [5.0, 10.0, 60.0, 15.0]
    assert w.stem.tolist()[0] == A[:-4] and w.filename.tolist()[-1] == B
    assert lab.targets.dtype == np.float32 and lab.targets.shape == (4, len(CLASSES))
    expected = [[1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 1, 0, 1, 0]]
    assert lab.targets.tolist() == expected  # B's two rows of one window: the union of their labels
    assert lab.class_counts().to_dict() == {"116570": 1, "22961": 2, "47158son01": 1, "brnowl": 2, "yeofly1": 1}


def test_unknown_labels_are_counted_not_dropped_silently(labels_csv):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    assert lab.unknown == {"notaclass": 1}
    assert lab.unknown_records()[0]["label"] == "notaclass"
    assert "1 labels not in the classes" in lab.summary()


def test_numeric_and_sonotype_labels_stay_strings(labels_csv):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    assert lab.classes == CLASSES and all(isinstance(c, str) for c in lab.class_counts().index)
    assert split_labels("22961; 47158son01;;brnowl") == ["22961", "47158son01", "brnowl"]
    assert split_labels("") == [] and split_labels(float("nan")) == []


def test_times(tmp_path):
    assert parse_time("00:01:05") == 65.0 and parse_time("1:00:00") == 3600.0 and parse_time("7.5") == 7.5
    with pytest.raises(ValueError):
        parse_time("five")
    bad = tmp_path / "bad.csv"
    bad.write_text("filename,start,end,primary_label\nx.ogg,00:00:00,00:00:05,a\nx.ogg,00:00:02,00:00:07,a\n")
    with pytest.raises(LabelsError, match="bad.csv, line 3: 00:00:02-00:00:07 is not a whole number"):
        read_soundscape_labels(bad, ["a"])
    bad.write_text("filename,start,end,primary_label\nx.ogg,soon,later,a\n")
    with pytest.raises(LabelsError, match="line 2: start/end 'soon'/'later'"):
        read_soundscape_labels(bad, ["a"])
    bad.write_text("filename,begin,end,primary_label\n")
    with pytest.raises(LabelsError, match="missing columns \\['start'\\]"):
        read_soundscape_labels(bad, ["a"])


def test_a_longer_span_becomes_its_windows(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("filename,start,end,primary_label\nx.ogg,00:00:50,00:01:00,a\n")
    lab = read_soundscape_labels(path, ["a"])
    assert lab.windows.row_id.tolist() == ["x_55", "x_60"] and lab.targets.tolist() == [[1.0], [1.0]]


def test_group_folds_keep_files_whole(labels_csv):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    windows = pd.DataFrame({"filename": [f"f{i % 7}.ogg" for i in range(60)]})
    for seed in (0, 1, 2):
        folds = group_folds(windows, 3, seed)
        per_file = pd.Series(folds).groupby(windows.filename).nunique()
        assert (per_file == 1).all() and set(folds) == {0, 1, 2}
        assert np.bincount(folds).max() - np.bincount(folds).min() <= 9  # balanced by windows
    assert not np.array_equal(group_folds(windows, 3, 0), group_folds(windows, 3, 5))
    assert group_folds(lab.windows, 2, 0).tolist() in ([0, 0, 0, 1], [1, 1, 1, 0])


def test_name_metadata_2026_and_others():
    meta = name_metadata("train_soundscapes/BC2026_Train_0039_S22_20211231_201500.ogg")
    assert meta == {"split": "train", "id": "0039", "site": "S22", "date": "2021-12-31", "hour": 20, "minute": 15}
    assert name_metadata("BC2026_Test_0001_S05_20250227_010002")["hour"] == 1
    for other in ("soundscape_123456.ogg", "H21_20230510_051500.ogg", "BC2026_Train_0039_S22_20211231_251500.ogg",
                  "BC2026_Train_x_S22_20211231_201500.ogg", "", "460830"):
        assert name_metadata(other) is None


def test_windows_carry_site_and_hour(labels_csv, tmp_path):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    assert lab.windows.site.tolist() == ["S22", "S22", "S22", "S05"]
    assert lab.windows.hour.tolist() == [20, 20, 20, 5]
    other = tmp_path / "o.csv"
    other.write_text("filename,start,end,primary_label\nsoundscape_1.ogg,00:00:00,00:00:05,brnowl\n")
    w = read_soundscape_labels(other, CLASSES).windows
    assert w.site.isna().all() and w.hour.isna().all()


def test_score_windows_matches_rows_by_id(labels_csv):
    lab = read_soundscape_labels(labels_csv, CLASSES)
    perfect = pd.DataFrame(lab.targets, columns=CLASSES).assign(row_id=lab.windows.row_id)[::-1]  # any order
    assert score_windows(perfect, lab) == 1.0
    inverted = perfect.assign(**{c: 1 - perfect[c] for c in CLASSES})
    assert score_windows(inverted, lab) == 0.0
    assert score_windows(perfect, lab, mask=[True, True, False, True]) == 1.0
    with pytest.raises(ValueError, match="lacks 1 labelled windows"):
        score_windows(perfect.iloc[1:], lab)
