import numpy as np
import pandas as pd
import pytest

from birdkit.data.folds import assign_folds, split_table
from birdkit.data.tables import (
    TableError,
    check_submission_columns,
    label_map,
    make_targets,
    parse_label_list,
    read_taxonomy,
    read_train,
)

TAXONOMY = "primary_label,inat_taxon_id,scientific_name,common_name,class_name\n" \
           "1139490,1139490,Frog a,Frog,Amphibia\namekes,1,Falco,Kestrel,Aves\n126247,126247,Bug,Bug,Insecta\n"


@pytest.fixture
def comp(tmp_path):
    (tmp_path / "taxonomy.csv").write_text(TAXONOMY)
    audio = tmp_path / "train_audio"
    for name in ("amekes/XC1.ogg", "1139490/iNat2.ogg"):
        (audio / name).parent.mkdir(parents=True, exist_ok=True)
        (audio / name).write_bytes(b"x")
    rows = [("amekes", "['1139490']", "amekes/XC1.ogg"), ("1139490", "['']", "1139490/iNat2.ogg"),
            ("nosuch", "[]", "nosuch/XC3.ogg"), ("amekes", "[]", "amekes/missing.ogg"),
            ("amekes", "['broken", "amekes/XC1.ogg"), ("amekes", "[]", "../outside.ogg"),
            ("amekes", "[]", "/etc/passwd")]
    columns = ["primary_label", "secondary_labels", "filename"]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "train.csv", index=False)
    return tmp_path


def test_numeric_labels_stay_strings(comp):
    tax = read_taxonomy(comp / "taxonomy.csv")
    assert tax.primary_label.tolist() == ["1139490", "amekes", "126247"]
    assert label_map(sorted(tax.primary_label))["1139490"] == 0


def test_bad_rows_are_reported_by_row_and_reason(comp):
    df, report = read_train(comp / "train.csv", read_taxonomy(comp / "taxonomy.csv"), comp / "train_audio")
    reasons = {r["row"]: (r["action"], r["reason"]) for r in report}
    assert reasons[4] == ("skipped", "primary_label 'nosuch' not in taxonomy")
    assert reasons[5] == ("skipped", "audio file missing")
    assert reasons[6][0] == "kept" and "malformed secondary_labels" in reasons[6][1]
    assert reasons[7][0] == "skipped" and "unsafe filename" in reasons[7][1]
    assert reasons[8][0] == "skipped" and "unsafe filename" in reasons[8][1]
    assert len(df) + sum(a == "skipped" for a, _ in reasons.values()) == 7
    assert df["secondary"].tolist() == [["1139490"], [], []]


def test_missing_columns_name_the_file(tmp_path):
    (tmp_path / "taxonomy.csv").write_text("label,class_name\na,Aves\n")
    with pytest.raises(TableError, match="taxonomy.csv: missing columns \\['primary_label'\\]"):
        read_taxonomy(tmp_path / "taxonomy.csv")


def test_parse_label_list():
    assert parse_label_list("['']") == [] and parse_label_list("['a', 'b']") == ["a", "b"]
    assert parse_label_list(float("nan")) == []
    with pytest.raises(ValueError):
        parse_label_list("'just a string'")


def test_targets_include_secondary_at_weight():
    df = pd.DataFrame({"primary_label": ["b"], "secondary": [["a"]]})
    assert make_targets(df, ["a", "b", "c"], 0.3).tolist() == [[pytest.approx(0.3), 1.0, 0.0]]


def test_submission_columns_must_match_in_order():
    sub = pd.DataFrame(columns=["row_id", "a", "b"])
    assert check_submission_columns(sub, ["a", "b"]) == ["a", "b"]
    with pytest.raises(TableError, match="same set, other order: True"):
        check_submission_columns(sub, ["b", "a"])
    with pytest.raises(TableError, match="not in model: \\['b'\\]"):
        check_submission_columns(sub, ["a"])


def test_split_keeps_singletons_in_training_and_stratifies():
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 2 + ["d"]
    folds, rare = assign_folds(labels, 5, seed=0)
    assert rare == ["c", "d"] and (folds[-3:] == -1).all()
    df = pd.DataFrame({"primary_label": labels, "filename": [f"f{i}" for i in range(len(labels))]})
    train, val, _ = split_table(df, 5, seed=0)
    assert val.primary_label.value_counts().to_dict() == {"a": 4, "b": 2}
    assert set(train.filename).isdisjoint(val.filename) and len(train) + len(val) == len(df)
    assert np.array_equal(assign_folds(labels, 5, 0)[0], folds)
