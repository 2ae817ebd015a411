"""Synthesis designs of the demo competition (``--design``).

* ``classic``: the first demo. Twelve species, calls close to the microphone in every file.
* ``field`` (the default): the same clean focal training recordings, but soundscapes (train,
  test and labelled ones) recorded far away. High frequencies are lost with distance, the sound
  is reverberant, the signal-to-noise ratio is low, and species of no taxonomy call in the
  background. Species prevalence in soundscapes is skewed (a Zipf law over a shuffled order,
  varying by site and by hour), not the train.csv distribution. There are 20 unlabelled
  train_soundscapes and 5 labelled one-minute files.
* ``field-b``: a held-out variant. Never choose parameters on it: it exists to show whether
  choices made on ``field`` carry over. It has 20 procedural species from their own seed
  (numeric ids, sonotypes, two singletons), 44.1-kHz and stereo training files, calls that often
  start late, other distance, reverberation and SNR ranges, and other noise (a brook, a far
  engine).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import species as sp


@dataclass(frozen=True)
class Design:
    name: str
    field: bool = False                  # soundscapes recorded far away (False: the classic close mix)
    species_seed: int = 0                # > 0: procedural species from this seed; 0: the classic twelve
    n_test: int = 8                      # test soundscapes
    n_train_soundscapes: int = 3         # unlabelled train soundscapes
    n_labelled: int = 0                  # labelled one-minute soundscapes (2026 always has some)
    distance_m: tuple = (10.0, 60.0)     # field: caller distance
    rt60_s: tuple = (0.3, 1.5)           # field: reverberation time, one per file
    snr_db: tuple = (0.0, 10.0)          # field: calls at 10 m against the background
    unknown_species: int = 0             # field: species of no taxonomy calling in the background
    unknown_rate: float = 0.0            # field: share of windows where one of them calls
    noises: tuple = (("rain", 0.35, 0.3, 1.0), ("chorus", 0.5, 0.1, 0.35))  # (noise, prob, gain lo, hi)
    prevalence_skew: float = 1.0         # field: Zipf exponent of the species' soundscape prevalence
    site_spread: float = 0.8             # field: log-normal sigma of a species' prevalence per site
    n_sites: int = 4                     # field: recording sites (names carry them in 2026)
    late_prob: float = 0.2               # training recordings (>= 8 s) silent for their first 5 s
    rate_44k_share: float = 0.0          # training recordings written at 44.1 kHz
    stereo_share: float = 0.0            # training recordings written in stereo

    def species(self, year: int) -> tuple:
        """The competition's classes in submission order."""
        if self.species_seed:
            return sp.for_year(sp.procedural_species(self.species_seed, birds_only=year == 2024), year)
        return sp.for_year(sp.CLASSIC, year)

    def unknown(self) -> tuple:
        return sp.distractors(self.species_seed or 11, self.unknown_species) if self.unknown_species else ()

    def n_labelled_for(self, year: int) -> int:
        """Labelled files by default: the design's; a 2026 layout always has a labels file."""
        return self.n_labelled or (4 if year == 2026 else 0)


DESIGNS = {
    "classic": Design("classic"),
    "field": Design("field", field=True, n_test=10, n_train_soundscapes=20, n_labelled=5,
                    distance_m=(10.0, 100.0), rt60_s=(0.3, 1.5), snr_db=(-5.0, 5.0), unknown_species=4,
                    unknown_rate=0.35, noises=(("rain", 0.3, 0.3, 1.0), ("chorus", 0.7, 0.2, 0.6))),
    "field-b": Design("field-b", field=True, species_seed=4729, n_test=10, n_train_soundscapes=20, n_labelled=5,
                      distance_m=(15.0, 150.0), rt60_s=(0.8, 2.0), snr_db=(-8.0, 4.0), unknown_species=6,
                      unknown_rate=0.5, noises=(("stream", 0.6, 0.3, 1.0), ("hum", 0.4, 0.2, 0.6),
                                                ("rain", 0.5, 0.3, 1.0), ("chorus", 0.4, 0.1, 0.4)),
                      prevalence_skew=1.3, site_spread=1.0, n_sites=3, late_prob=0.6,
                      rate_44k_share=0.6, stereo_share=0.4),
}
DEFAULT_DESIGN = "field"
