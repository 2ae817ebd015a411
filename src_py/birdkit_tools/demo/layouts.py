"""What differs between the 2024, 2025 and 2026 folders: tables, columns, names, lengths.

Column lists and orders follow the real releases (``shared/reference/birdclef-years.md``):
2024 ``train_metadata.csv`` (12 columns) with the whole ``eBird_Taxonomy_v2021.csv`` and
``unlabeled_soundscapes/``; 2025 ``train.csv`` (13 columns); 2026 ``train.csv`` (15 columns,
another order) with ``train_soundscapes_labels.csv`` (``HH:MM:SS`` times, ``;``-separated
labels, every row twice) and ``BC2026_Train_/BC2026_Test_<id>_S<site>_<YYYYMMDD>_<HHMMSS>``
names.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sound import WINDOW_S

YEARS = (2024, 2025, 2026)
TAXONOMY_COLUMNS = ["primary_label", "inat_taxon_id", "scientific_name", "common_name", "class_name"]
TRAIN_COLUMNS = {
    2024: ["primary_label", "secondary_labels", "type", "latitude", "longitude", "scientific_name",
           "common_name", "author", "license", "rating", "url", "filename"],
    2025: ["primary_label", "secondary_labels", "type", "filename", "collection", "rating", "url", "latitude",
           "longitude", "scientific_name", "common_name", "author", "license"],
    2026: ["primary_label", "secondary_labels", "type", "latitude", "longitude", "scientific_name",
           "common_name", "class_name", "inat_taxon_id", "author", "license", "rating", "url", "filename",
           "collection"],
}
METADATA_FILE = {2024: "train_metadata.csv", 2025: "train.csv", 2026: "train.csv"}
SOUNDSCAPE_DIR = {2024: "unlabeled_soundscapes", 2025: "train_soundscapes", 2026: "train_soundscapes"}
TEST_SECONDS = {2024: 240, 2025: 60, 2026: 60}
EBIRD_COLUMNS = ["TAXON_ORDER", "CATEGORY", "SPECIES_CODE", "PRIMARY_COM_NAME", "SCI_NAME", "ORDER1", "FAMILY",
                 "SPECIES_GROUP", "REPORT_AS"]
# collections (with their shares for birds and for others) and the recording area per year
COLLECTIONS = {2024: (["XC"], [1.0], [1.0]),
               2025: (["XC", "iNat", "CSA"], [0.7, 0.25, 0.05], [0.3, 0.5, 0.2]),
               2026: (["XC", "iNat"], [0.65, 0.35], [0.3, 0.7])}
AREA = {2024: ((11.5, 1.5), (76.3, 0.8)), 2025: ((5.0, 2.0), (-73.0, 2.0)), 2026: ((-18.5, 1.2), (-56.5, 0.8))}
LOCATION_TEXT = {
    2024: "Demo data (synthetic audio) modelled on the Western Ghats, India.\n",
    2025: ("Demo data (synthetic audio) modelled on El Silencio Natural Reserve, "
           "Vichada, Colombia: lowland dry forest, savanna and wetlands.\n"),
    2026: "Demo data (synthetic audio) modelled on the Pantanal, Mato Grosso do Sul, Brazil.\n",
}
_AUTHORS = ["Ana Restrepo", "Luis Gómez", "Marta Quintero", "Jorge Salazar", "Paula Ortiz",
            "Demo Recordist", "Camila Rojas"]
_BIRD_TYPES = [[""], ["call"], ["song"], ["call", "song"], ["alarm call"], ["flight call"]]
_OTHER_TYPES = [[""], ["call"], ["song"]]


# ---------------------------------------------------------------- taxonomy
def taxonomy_table(species) -> pd.DataFrame:
    rows = [(s.label, s.inat_taxon_id, s.scientific_name, s.common_name, s.class_name) for s in species]
    return pd.DataFrame(rows, columns=TAXONOMY_COLUMNS)


def ebird_table(species, rng, n_extra: int = 40) -> pd.DataFrame:
    """2024's eBird taxonomy: every class plus species the competition does not score."""
    extra = [f"xtr{''.join(rng.choice(list('abcdefghijklmnop'), 3))}{i}" for i in range(n_extra)]
    codes = [s.label for s in species] + extra
    names = {s.label: (s.common_name, s.scientific_name) for s in species}
    order = rng.permutation(len(codes)) * 7 + 11
    rows = [(int(o), "species", c, names.get(c, (f"Extra Demo Bird {c}", f"Extra {c}"))[0],
             names.get(c, ("", f"Extra {c}"))[1], "Passeriformes", "Demo family (Demoidae)", "Demo birds", "")
            for o, c in zip(order, codes)]
    return pd.DataFrame(rows, columns=EBIRD_COLUMNS).sort_values("TAXON_ORDER", kind="stable")


# ---------------------------------------------------------------- train metadata
def _unique_id(rng, used: set, collection: str) -> str:
    digits = {"XC": 6, "iNat": 6, "CSA": 5}[collection]
    while True:
        rec_id = f"{collection}{int(rng.integers(10 ** (digits - 1), 10 ** digits))}"
        if rec_id not in used:
            used.add(rec_id)
            return rec_id


def _url(collection: str, rec_id: str) -> str:
    num = rec_id.removeprefix(collection)
    return {"XC": f"https://xeno-canto.org/{num}",
            "iNat": f"https://static.inaturalist.org/sounds/{num}.wav",
            "CSA": f"https://colecciones.humboldt.org.co/rec/sonidos/IAvH-CSA-{num}.wav"}[collection]


def train_row(rng, sp_idx: int, species, used: set, year: int) -> dict:
    """One metadata row (every year's columns) plus the hidden fields the renderer needs."""
    sp = species[sp_idx]
    bird = sp.class_name == "Aves"
    names, p_bird, p_other = COLLECTIONS[year]
    collection = str(rng.choice(names, p=p_bird if bird else p_other))
    rec_id = _unique_id(rng, used, collection)
    others = [i for i in range(len(species)) if i != sp_idx and (species[i].n_train > 0 or year != 2026)]
    secondary = int(rng.choice(others)) if rng.random() < 0.3 else None
    types = _BIRD_TYPES if bird else _OTHER_TYPES
    short = rng.random() < 0.1
    (lat, lat_sd), (lon, lon_sd) = AREA[year]
    return {
        "primary_label": sp.label,
        "secondary_labels": str([species[secondary].label] if secondary is not None else [""]),
        "type": str(types[int(rng.integers(len(types)))]),
        "filename": f"{sp.label}/{rec_id}.ogg", "collection": collection,
        "rating": 0.0 if rng.random() < 0.15 else float(rng.choice(np.arange(2.5, 5.5, 0.5))),
        "url": _url(collection, rec_id),
        "latitude": round(float(rng.normal(lat, lat_sd)), 4),
        "longitude": round(float(rng.normal(lon, lon_sd)), 4),
        "scientific_name": sp.scientific_name, "common_name": sp.common_name,
        "class_name": sp.class_name, "inat_taxon_id": sp.inat_taxon_id,
        "author": _AUTHORS[int(rng.integers(len(_AUTHORS)))], "license": "cc-by-nc-sa 4.0",
        "species": sp_idx, "secondary": secondary,
        "seconds": round(float(rng.uniform(2, 4) if short else rng.uniform(5, 13)), 2),
    }


# ---------------------------------------------------------------- soundscape names
def _date(rng) -> str:
    day = np.datetime64("2023-04-01") + int(rng.integers(0, 90))
    return str(day).replace("-", "")


def classic_names(rng, n_train_ss: int, n_test: int) -> tuple[list[str], list[str]]:
    """The first demo's 2025 names: ``H<site>_<date>_<time>`` and ``soundscape_<id>``."""
    train = set()
    while len(train) < n_train_ss:
        day = np.datetime64("2023-04-01") + int(rng.integers(0, 90))
        train.add(f"H{int(rng.integers(1, 21)):02d}_{str(day).replace('-', '')}_"
                  f"{int(rng.integers(0, 24)):02d}{int(rng.integers(0, 6)) * 10:02d}00")
    test = [f"soundscape_{i}" for i in rng.choice(np.arange(10000, 999999), n_test, replace=False)]
    return sorted(train), sorted(test)


def soundscape_stem(year: int, kind: str, number: int, site: int, hour: int, rng) -> str:
    """A file stem in ``year``'s style; ``number`` is unique per kind."""
    minute = int(rng.integers(0, 6)) * 10
    if year == 2026:
        split = "Test" if kind == "test" else "Train"
        return f"BC2026_{split}_{number:04d}_S{site:02d}_{_date(rng)}_{hour:02d}{minute:02d}00"
    if kind == "test":
        return f"soundscape_{number}"
    if year == 2024:
        return f"{number}"
    return f"H{site:02d}_{_date(rng)}_{hour:02d}{minute:02d}00"


# ---------------------------------------------------------------- labels and ground truth
def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def labels_table(files, species) -> pd.DataFrame:
    """``train_soundscapes_labels.csv`` as released in 2026: one row per labelled 5-s window,
    ``HH:MM:SS`` times, labels ``;``-joined, every row twice. ``files``: ``(filename, y, n_listed)``
    with ``y`` [windows, species] 0/1; only the first ``n_listed`` windows are listed (a partly
    labelled file), and windows without a species are left out."""
    rows = []
    for filename, y, n_listed in files:
        for w in range(min(n_listed, len(y))):
            labels = [species[s].label for s in np.flatnonzero(y[w])]
            if labels:
                row = (filename, _clock(w * WINDOW_S), _clock((w + 1) * WINDOW_S), ";".join(labels))
                rows += [row, row]
    return pd.DataFrame(rows, columns=["filename", "start", "end", "primary_label"])


def submission_tables(test_stems, labels, species, seconds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """sample_submission (1/n_species everywhere) and solution (0/1) for the test windows."""
    columns = [sp.label for sp in species]
    row_ids = [f"{stem}_{end}" for stem in test_stems for end in range(WINDOW_S, seconds + 1, WINDOW_S)]
    y = np.concatenate(labels) if labels else np.zeros((0, len(columns)), dtype=np.int64)
    sample = pd.DataFrame(np.full(y.shape, 1.0 / len(columns)), columns=columns)
    solution = pd.DataFrame(y, columns=columns)
    sample.insert(0, "row_id", row_ids)
    solution.insert(0, "row_id", row_ids)
    return sample, solution
