"""Which of a pretrained model's labels score each competition class (the zero-shot member).

``map_classes(taxonomy, labels)`` takes the taxonomy rows (``primary_label``, ``scientific_name``;
any year: ``birdkit.data.tables.read_competition_taxonomy(path, classes)[0]``) and tries, per
class, in this order:

1. **eBird code**: the class's ``primary_label`` equals a label's eBird code (only models that
   have them, e.g. Perch v2 with its eBird table; BirdNET has none);
2. **scientific name**, case-insensitive with whitespace collapsed; a trailing subspecies word is
   ignored on either side ("Gallus gallus domesticus" takes "Gallus gallus"); a placeholder
   "Xxx sp." takes a label named exactly "Xxx" if the model has one;
3. **genus** (``genus_backoff=True`` only): the first word of the class's name is the genus of
   one or more binomial labels -> all of them (``apply`` takes their max). The word must be a
   Latin-looking capitalised word; names with digits (sonotypes such as ``47158son16``) never
   back off. A placeholder such as "Anura sp.", "Primates sp." or "Insecta sp." names an order or
   a class, not a genus: it stays unmapped unless that word is itself a genus of the model.

Anything else is **unmapped**: it takes no label, ``apply`` gives it 0.0 and ``mapped`` is False,
so callers fill it (e.g. with the class prior). ``write`` saves the map as
``foundation_class_map.csv`` in the run folder, so a score can be checked against it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..util.atomic import replacing
from .base import Labels

CSV_NAME = "foundation_class_map.csv"
HOW = ("scientific", "ebird", "genus", "unmapped")
_BINOMIAL = re.compile(r"^[a-z][a-z-]+ [a-z][a-z-]+( [a-z][a-z-]+)?$")   # on normalised names
_GENUS = re.compile(r"^[A-Z][a-z-]+$")
_PLACEHOLDER = re.compile(r"^(\S+) spp?\.?$")
_SHOWN = 3  # labels listed for a genus match


def _norm(text) -> str:
    return "" if text is None or (not isinstance(text, str) and pd.isna(text)) else " ".join(str(text).split())


def _binomial(key: str) -> str:
    """'gallus gallus domesticus' -> 'gallus gallus'; '' unless ``key`` is a bi- or trinomial."""
    return " ".join(key.split()[:2]) if _BINOMIAL.match(key) else ""


@dataclass
class ClassMap:
    """Per competition class, in order: the model label columns it takes, how it was matched
    (one of ``HOW``) and the matched label text."""
    classes: list
    scientific: list
    columns: list
    how: list
    matched: list
    n_model_labels: int

    @property
    def mapped(self) -> np.ndarray:
        return np.array([bool(c) for c in self.columns], dtype=bool)

    def apply(self, logits) -> np.ndarray:
        """Model logits ``[n, L]`` -> class scores ``[n, C]`` float32: the max over each class's
        label columns; 0.0 for unmapped classes."""
        z = np.asarray(logits, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.n_model_labels:
            raise ValueError(f"ClassMap.apply takes [n, {self.n_model_labels}] logits, got {list(z.shape)}")
        return map_logits(z, self.columns)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"primary_label": self.classes, "scientific_name": self.scientific, "how": self.how,
                             "labels": self.matched, "n_labels": [len(c) for c in self.columns]})

    def summary(self) -> str:
        n = {h: self.how.count(h) for h in HOW}
        text = (f"{len(self.classes)} classes: {n['scientific']} by scientific name, {n['ebird']} by eBird code, "
                f"{n['genus']} by genus, {n['unmapped']} unmapped")
        names = [s or c for c, s, h in zip(self.classes, self.scientific, self.how) if h == "unmapped"]
        if names:
            text += f" ({', '.join(names[:10])}{', …' if len(names) > 10 else ''})"
        return text

    def write(self, run_dir) -> Path:
        path = Path(run_dir) / CSV_NAME
        with replacing(path) as tmp:
            self.table().to_csv(tmp, index=False)
        return path


def map_classes(taxonomy: pd.DataFrame, labels: Labels, genus_backoff: bool = True) -> ClassMap:
    """A ``ClassMap`` of ``taxonomy``'s rows (in their order) onto ``labels``; rules above."""
    missing = [c for c in ("primary_label", "scientific_name") if c not in taxonomy.columns]
    if missing:
        raise ValueError(f"map_classes: the taxonomy lacks columns {missing}; found {list(taxonomy.columns)}")
    ebird, exact, binom, genus = {}, {}, {}, {}
    for i, sci in enumerate(labels.scientific):
        key = _norm(sci).lower()
        if key:
            exact.setdefault(key, []).append(i)
        if _binomial(key):
            binom.setdefault(_binomial(key), []).append(i)
            genus.setdefault(key.split()[0], []).append(i)
        code = _norm(labels.ebird[i]) if i < len(labels.ebird) else ""
        if code:
            ebird.setdefault(code, []).append(i)
    classes, names, columns, how, matched = [], [], [], [], []
    for label, sci in zip(taxonomy["primary_label"], taxonomy["scientific_name"]):
        label, sci = _norm(label), _norm(sci)
        key = sci.lower()
        place = _PLACEHOLDER.match(key)
        first = sci.split()[0] if sci else ""
        if label in ebird:
            cols, kind = ebird[label], "ebird"
        elif key and (cols := exact.get(key) or exact.get(_binomial(key)) or binom.get(_binomial(key))
                      or (exact.get(place.group(1)) if place else None)):
            kind = "scientific"
        elif (genus_backoff and _GENUS.match(first) and not re.search(r"\d", sci)
              and (cols := genus.get(first.lower()))):
            kind = "genus"
        else:
            cols, kind = [], "unmapped"
        codes = [labels.codes[i] for i in cols]
        text = "; ".join(codes[:_SHOWN] if kind == "genus" else codes)
        if kind == "genus":
            text = f"{len(codes)} label{'s' if len(codes) > 1 else ''}: {text}" + ("; …" if len(codes) > _SHOWN else "")
        classes.append(label), names.append(sci), columns.append(list(cols)), how.append(kind), matched.append(text)
    return ClassMap(classes, names, columns, how, matched, len(labels))


def map_logits(logits: np.ndarray, columns) -> np.ndarray:
    """``[n, classes]``: per class, the max over its label ``columns``' logits (0 for an unmapped
    class). ``ClassMap.apply`` with its shape check; members and the cache call it on the plain
    column lists their specs carry."""
    out = np.zeros((len(logits), len(columns)), np.float32)
    for c, ix in enumerate(columns):
        if ix:
            out[:, c] = np.asarray(logits)[:, list(ix)].max(axis=1)
    return out
