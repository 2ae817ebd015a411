"""The demo's species: call templates, the classic twelve, what each year adds, procedural sets.

A species differs from the others only by its call template (pitch contour, base frequency,
rhythm, harmonics, modulation). ``species_for(design, year)`` gives a competition's classes
sorted as strings (the submission's column order); ``distractors(seed)`` gives species that
call in field-mode soundscapes but are in no taxonomy.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import numpy as np

SR = 32000


@dataclass(frozen=True)
class Species:
    """A demo species: taxonomy fields, train recordings at scale 1 (0 = none), its call template."""

    label: str
    class_name: str
    scientific_name: str
    common_name: str
    inat_taxon_id: int
    n_train: int
    shape: str                # pitch contour of a syllable: flat, up, down, v, hill
    f0: float                 # base frequency, Hz
    bend: float               # contour excursion, relative to f0
    syl_s: float              # syllable duration
    n_syl: int                # syllables per call
    gap_s: float              # silence between syllables
    step: float = 0.0         # relative pitch change from one syllable to the next
    fm_hz: float = 0.0        # frequency modulation (trills, buzzes)
    fm_depth: float = 0.0
    harmonics: tuple = (1.0,)


CLASSIC = (  # sorted by label as strings, like the real taxonomy
    Species("1139490", "Insecta", "Demoptera stridulans", "Demo katydid", 1139490, 14,
            "flat", 9500, 0.0, 0.35, 4, 0.10, fm_hz=70, fm_depth=0.02),
    Species("126247", "Amphibia", "Demohyla tonkii", "Demo tink frog", 126247, 6,
            "up", 1100, 0.25, 0.07, 6, 0.12, harmonics=(1.0, 0.6, 0.4, 0.2)),
    Species("41663", "Mammalia", "Demouatta rugiens", "Demo howler monkey", 41663, 3,
            "hill", 350, 0.4, 0.70, 2, 0.25, harmonics=(1.0, 0.8, 0.6, 0.4, 0.3)),
    Species("amekes", "Aves", "Falco sparverius", "American Kestrel", 4665, 40,
            "down", 4200, 0.3, 0.10, 6, 0.05, harmonics=(1.0, 0.3)),
    Species("bkmtou1", "Aves", "Ramphastos ambiguus", "Black-mandibled Toucan", 18917, 30,
            "v", 1500, 0.3, 0.30, 2, 0.30, harmonics=(1.0, 0.7, 0.4)),
    Species("compau", "Aves", "Nyctidromus albicollis", "Common Pauraque", 19978, 24,
            "up", 2000, 0.6, 0.65, 1, 0.0, harmonics=(1.0, 0.2)),
    Species("grekis", "Aves", "Pitangus sulphuratus", "Great Kiskadee", 16782, 18,
            "flat", 2800, 0.0, 0.15, 3, 0.10, step=0.08, harmonics=(1.0, 0.5, 0.3)),
    Species("rtlhum", "Aves", "Amazilia tzacatl", "Rufous-tailed Hummingbird", 6337, 11,
            "down", 11000, 0.15, 0.05, 6, 0.07),
    Species("socfly1", "Aves", "Myiozetetes similis", "Social Flycatcher", 16925, 8,
            "flat", 5000, 0.0, 0.70, 1, 0.0, fm_hz=25, fm_depth=0.15, harmonics=(1.0, 0.3)),
    Species("trokin", "Aves", "Tyrannus melancholicus", "Tropical Kingbird", 16962, 4,
            "up", 6200, 0.3, 0.06, 7, 0.03, step=0.02),
    Species("whtdov", "Aves", "Leptotila verreauxi", "White-tipped Dove", 3544, 2,
            "hill", 650, 0.1, 0.90, 1, 0.0, harmonics=(1.0, 0.2)),
    Species("yehcar1", "Aves", "Milvago chimachima", "Yellow-headed Caracara", 5076, 1,
            "down", 3400, 0.35, 0.40, 2, 0.20, fm_hz=90, fm_depth=0.06, harmonics=(1.0, 0.6, 0.4)),
)

# 2026 (Pantanal) adds a reptile with one recording, an insect sonotype, and classes with no
# training recording at all (they call only in soundscapes), like the real 28 of 234.
EXTRAS_2026 = (
    Species("116570", "Reptilia", "Caiman yacare", "Yacare Caiman", 116570, 1,
            "hill", 190, 0.25, 0.85, 1, 0.0, harmonics=(1.0, 0.9, 0.7, 0.5, 0.4, 0.3)),
    Species("1491113", "Amphibia", "Demoscinax nocturnus", "Demo night treefrog", 1491113, 0,
            "down", 1800, 0.2, 0.03, 10, 0.04, harmonics=(1.0, 0.5, 0.3)),
    Species("47158son01", "Insecta", "Insecta sonotype 01", "Insect sonotype 01", 47158, 5,
            "flat", 7200, 0.0, 0.04, 12, 0.03, fm_hz=40, fm_depth=0.01),
    Species("47158son02", "Insecta", "Insecta sonotype 02", "Insect sonotype 02", 47158, 0,
            "up", 5200, 0.1, 0.25, 3, 0.08, fm_hz=120, fm_depth=0.03),
)

# 2024 (Western Ghats) has birds only, with eBird codes: the classic non-birds become birds.
BIRDS_2024 = {"1139490": ("ashpri1", "Prinia socialis", "Ashy Prinia", 144599),
              "126247": ("indrob1", "Copsychus fulicatus", "Indian Robin", 12997),
              "41663": ("grecou1", "Centropus sinensis", "Greater Coucal", 1544)}

SHAPES = ("flat", "up", "down", "v", "hill")
_SHAPES = {"flat": lambda u: 0.0 * u, "up": lambda u: u, "down": lambda u: 1.0 - u,
           "v": lambda u: np.abs(2.0 * u - 1.0), "hill": lambda u: 1.0 - np.abs(2.0 * u - 1.0)}


def synth_call(sp: Species, rng) -> np.ndarray:
    """One call of ``sp`` with ±5 % pitch and ±10 % timing jitter; active RMS 1."""
    pitch, stretch = 1 + rng.uniform(-0.05, 0.05), 1 + rng.uniform(-0.1, 0.1)
    syl, gap = sp.syl_s * stretch, sp.gap_s * stretch
    period = syl + gap
    t = np.arange(int(round((sp.n_syl * period - gap) * SR))) / SR
    k = np.minimum(t // period, sp.n_syl - 1)
    tau = t - k * period
    u = np.clip(tau / syl, 0.0, 1.0)
    freq = sp.f0 * pitch * (1 + sp.step * k) * (1 + sp.bend * _SHAPES[sp.shape](u))
    if sp.fm_depth:
        freq = freq * (1 + sp.fm_depth * np.sin(2 * np.pi * sp.fm_hz * t))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    top = freq.max()
    wave = sum(a * np.sin(h * phase) for h, a in enumerate(sp.harmonics, 1) if h * top < 0.47 * SR)
    env = np.where(tau < syl, np.sin(np.pi * u) ** 2, 0.0)
    call = wave * env
    return call / (np.sqrt(np.mean(call[env > 0.1] ** 2)) + 1e-9)


def _gen(seed: int, kind: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(kind.encode())])


# ---------------------------------------------------------------- procedural templates
# class -> (f0 range, syllable range, syllables range, gap range, harmonics count range)
_TEMPLATE_RANGES = {
    "Aves": ((1400, 8500), (0.04, 0.5), (1, 8), (0.02, 0.3), (1, 3)),
    "Amphibia": ((450, 2600), (0.02, 0.09), (5, 14), (0.02, 0.07), (2, 4)),
    "Insecta": ((3800, 10500), (0.02, 0.3), (3, 12), (0.01, 0.06), (1, 2)),
    "Mammalia": ((180, 750), (0.25, 0.9), (1, 3), (0.1, 0.3), (3, 5)),
}


def _template(rng, class_name: str) -> dict:
    f0, syl, n_syl, gap, n_harm = _TEMPLATE_RANGES[class_name]
    fm = rng.random() < (0.8 if class_name == "Insecta" else 0.3)
    return {"shape": str(rng.choice(SHAPES)), "f0": round(float(np.exp(rng.uniform(*np.log(f0)))), 1),
            "bend": round(float(rng.uniform(0.0, 0.6)), 3), "syl_s": round(float(rng.uniform(*syl)), 3),
            "n_syl": int(rng.integers(n_syl[0], n_syl[1] + 1)), "gap_s": round(float(rng.uniform(*gap)), 3),
            "step": round(float(rng.uniform(-0.05, 0.1)) if rng.random() < 0.3 else 0.0, 3),
            "fm_hz": round(float(rng.uniform(20, 130)), 1) if fm else 0.0,
            "fm_depth": round(float(rng.uniform(0.01, 0.08)), 3) if fm else 0.0,
            "harmonics": tuple(round(float(a), 2) for a in
                               np.r_[1.0, rng.uniform(0.2, 0.8, int(rng.integers(n_harm[0], n_harm[1] + 1)) - 1)])}


def _code(rng, used: set) -> str:
    """An eBird-like code: 6 lowercase letters, maybe a digit."""
    while True:
        code = "".join(rng.choice(list("abcdefghijklmnoprstuwy"), 6)) + (str(int(rng.integers(1, 4)))
                                                                         if rng.random() < 0.5 else "")
        if code not in used:
            used.add(code)
            return code


def _label(rng, class_name: str, index: int, used: set, sonotype_taxon: int) -> tuple[str, int]:
    if class_name == "Aves":
        return _code(rng, used), int(rng.integers(1000, 30000))
    if class_name == "Insecta" and index % 2 == 0:
        label = f"{sonotype_taxon}son{index // 2 + 1:02d}"
        used.add(label)
        return label, sonotype_taxon
    while True:
        number = int(rng.integers(10 ** 4, 10 ** 7))
        if str(number) not in used:
            used.add(str(number))
            return str(number), number


def procedural_species(seed: int, n: int = 20, birds_only: bool = False) -> tuple[Species, ...]:
    """``n`` species drawn from ``seed``: mostly birds, numeric ids and sonotypes for the rest,
    long-tailed training counts ending in two singletons."""
    rng, used = _gen(seed, "species"), set()
    kinds = ["Aves"] * n if birds_only else (["Amphibia"] * 3 + ["Insecta"] * 3 + ["Mammalia"] * 2
                                             + ["Aves"] * (n - 8))
    counts = [max(1, int(round(46 * (r + 1) ** -1.05))) for r in range(n)]
    counts[-2:] = [1, 1]
    order = rng.permutation(n)
    taxon, seen = int(rng.integers(50000, 60000)), {}
    out = []
    for i, class_name in enumerate(kinds):
        seen[class_name] = seen.get(class_name, -1) + 1
        label, inat = _label(rng, class_name, seen[class_name], used, taxon)
        out.append(Species(label, class_name, f"Procedura {label}", f"Procedural {class_name} {i + 1}", inat,
                           counts[int(order[i])], **_template(rng, class_name)))
    return tuple(sorted(out, key=lambda s: s.label))


def distractors(seed: int, n: int = 4) -> tuple[Species, ...]:
    """Species that call in field soundscapes but are in no taxonomy (never labelled)."""
    rng = _gen(seed, "distractors")
    kinds = ["Aves", "Amphibia", "Insecta", "Aves", "Mammalia", "Aves"]
    return tuple(Species(f"unknown{i}", kinds[i % len(kinds)], "", "", 0, 0, **_template(rng, kinds[i % len(kinds)]))
                 for i in range(n))


# ---------------------------------------------------------------- per year
def for_year(base: tuple, year: int) -> tuple[Species, ...]:
    """``base`` adapted to ``year``: 2024 birds with eBird codes; 2026 plus its extras."""
    if year == 2024:
        out = []
        for sp in base:
            if sp.label in BIRDS_2024:
                label, sci, common, inat = BIRDS_2024[sp.label]
                sp = dataclasses.replace(sp, label=label, scientific_name=sci, common_name=common,
                                         inat_taxon_id=inat, class_name="Aves")
            out.append(dataclasses.replace(sp, class_name="Aves"))
        return tuple(sorted(out, key=lambda s: s.label))
    if year == 2026:
        labels = {sp.label for sp in base}
        return tuple(sorted(base + tuple(sp for sp in EXTRAS_2026 if sp.label not in labels), key=lambda s: s.label))
    return tuple(base)
