import numpy as np
import pandas as pd
import pytest

from birdkit.foundation.base import Labels
from birdkit.foundation.mapping import CSV_NAME, map_classes

CODES = [
    "Pitangus sulphuratus_Great Kiskadee",   # 0
    "Pitangus lictor_Lesser Kiskadee",       # 1
    "Tyto alba_Barn Owl",                    # 2
    "Gallus gallus_Red Junglefowl",          # 3
    "Gallus varius_Green Junglefowl",        # 4
    "Canis latrans_Coyote",                  # 5
    "Canis lupus_Gray Wolf",                 # 6
    "Boana faber_Smith Frog",                # 7
    "Dog_Dog",                               # 8
    "Noise_Noise",                           # 9
    "Cuculus canorus_Common Cuckoo",         # 10
]
TAXONOMY = pd.DataFrame({
    "primary_label": ["grekis", "brnowl", "redjun", "476190", "1465211", "24301", "47158son16", "comcuc"],
    "scientific_name": ["Pitangus sulphuratus", "  tyto   ALBA ", "Gallus gallus domesticus", "Canis familiaris",
                        "Primates sp.", "Anura sp.", "Insecta sp.", "Cuculus canorus"],
})


def birdnet_labels(ebird=()):
    return Labels(codes=CODES, scientific=[c.split("_")[0] for c in CODES],
                  common=[c.split("_")[1] for c in CODES], ebird=list(ebird))


def test_scientific_name_case_space_and_subspecies():
    m = map_classes(TAXONOMY, birdnet_labels())
    assert m.how[:3] == ["scientific"] * 3
    assert m.columns[:3] == [[0], [2], [3]]
    assert m.matched[1] == "Tyto alba_Barn Owl"


def test_ebird_code_wins_over_scientific_name():
    ebird = [""] * len(CODES)
    ebird[1] = "grekis"    # the eBird table points grekis at another label than its name does
    m = map_classes(TAXONOMY, birdnet_labels(ebird))
    assert (m.how[0], m.columns[0]) == ("ebird", [1])
    assert m.how[1] == "scientific"


def test_genus_backoff_takes_max_over_the_genus():
    m = map_classes(TAXONOMY, birdnet_labels())
    assert m.how[3] == "genus" and m.columns[3] == [5, 6]
    assert m.matched[3].startswith("2 labels: Canis latrans_Coyote; Canis lupus_Gray Wolf")
    z = np.arange(3 * len(CODES), dtype=np.float64).reshape(3, len(CODES)) * np.where(np.arange(3) == 1, -1, 1)[:, None]
    out = m.apply(z)
    assert out.dtype == np.float32 and out.shape == (3, len(TAXONOMY))
    np.testing.assert_allclose(out[:, 3], np.maximum(z[:, 5], z[:, 6]))
    np.testing.assert_allclose(out[:, 0], z[:, 0])


def test_no_backoff_leaves_genus_unmapped():
    m = map_classes(TAXONOMY, birdnet_labels(), genus_backoff=False)
    assert m.how[3] == "unmapped" and m.columns[3] == []


def test_placeholders_and_sonotypes_stay_unmapped():
    m = map_classes(TAXONOMY, birdnet_labels())
    assert m.how[4:7] == ["unmapped"] * 3
    assert m.mapped.tolist() == [True] * 4 + [False] * 3 + [True]
    out = m.apply(np.full((2, len(CODES)), 5.0))
    assert (out[:, 4:7] == 0).all() and (out[:, m.mapped] == 5).all()


def test_placeholder_of_a_model_genus_backs_off_but_digits_never():
    tax = pd.DataFrame({"primary_label": ["x", "y"], "scientific_name": ["Gallus sp.", "Gallus 12son"]})
    m = map_classes(tax, birdnet_labels())
    assert m.how == ["genus", "unmapped"] and m.columns[0] == [3, 4]
    frogs = Labels(codes=["Anura_Frogs", "Boana faber_Smith Frog"], scientific=["Anura", "Boana faber"])
    m = map_classes(TAXONOMY.iloc[4:6], frogs)   # a model label for the order itself
    assert (m.how, m.columns) == (["unmapped", "scientific"], [[], [0]])


def test_table_summary_and_write(tmp_path):
    m = map_classes(TAXONOMY, birdnet_labels())
    t = m.table()
    assert list(t.columns) == ["primary_label", "scientific_name", "how", "labels", "n_labels"]
    assert t["primary_label"].tolist() == TAXONOMY["primary_label"].tolist()
    assert t["n_labels"].tolist() == [1, 1, 1, 2, 0, 0, 0, 1]
    assert t.loc[4, "labels"] == ""
    assert m.summary() == ("8 classes: 4 by scientific name, 0 by eBird code, 1 by genus, "
                           "3 unmapped (Primates sp., Anura sp., Insecta sp.)")
    path = m.write(tmp_path / "run")
    assert path == tmp_path / "run" / CSV_NAME
    back = pd.read_csv(path, dtype={"primary_label": str}, keep_default_na=False)
    assert back["how"].tolist() == m.how and back["primary_label"].tolist() == m.classes
    assert [p.name for p in path.parent.iterdir()] == [CSV_NAME]


def test_bad_input():
    m = map_classes(TAXONOMY, birdnet_labels())
    with pytest.raises(ValueError, match=str(len(CODES))):
        m.apply(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="scientific_name"):
        map_classes(TAXONOMY[["primary_label"]], birdnet_labels())
