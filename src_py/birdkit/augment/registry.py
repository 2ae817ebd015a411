"""Which augmentation step a name means, and the step lists a ``Config`` names.

``WAVE_STEPS`` (per crop, ``birdkit.augment.waveform``) and ``BATCH_STEPS`` (per batch,
``birdkit.augment.batch``) map names to step classes; ``Config.wave_augment`` and
``Config.batch_augment`` name the steps to run, in order. An explicit table, as for the backbones
(``birdkit.models.registry``): a new augmentation is one class, one entry here and its ``Config``
fields. A name missing from a table is a ``ConfigError`` that lists the registered ones.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import ConfigError
from .batch import Mixup, SpecAugmentStep
from .waveform import Background, Gain, LowPass, PseudoMix, Reverb, TimeShift

if TYPE_CHECKING:
    from ..config import Config

WAVE_STEPS = {"time_shift": TimeShift, "gain": Gain, "reverb": Reverb, "lowpass": LowPass,
              "background": Background, "pseudo_mix": PseudoMix}
BATCH_STEPS = {"specaugment": SpecAugmentStep, "mixup": Mixup}


def wave_steps(cfg: Config, **banks) -> list:
    """The waveform steps ``cfg.wave_augment`` names, in order; ``banks`` (``background``,
    ``pseudo``) go to every step's ``from_config``."""
    return [WAVE_STEPS[name].from_config(cfg, **banks) for name in _known(cfg.wave_augment, WAVE_STEPS,
                                                                          "wave_augment")]


def batch_steps(cfg: Config) -> list:
    """The batch steps ``cfg.batch_augment`` names, in order."""
    return [BATCH_STEPS[name].from_config(cfg) for name in _known(cfg.batch_augment, BATCH_STEPS, "batch_augment")]


def check_augment(cfg: Config) -> None:
    """Every name in ``cfg.wave_augment`` and ``cfg.batch_augment`` is registered (a training
    stage checks this before its first expensive step)."""
    _known(cfg.wave_augment, WAVE_STEPS, "wave_augment")
    _known(cfg.batch_augment, BATCH_STEPS, "batch_augment")


def _known(names, table: dict, field: str) -> tuple:
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigError(f"{field}: unknown step(s) {', '.join(map(repr, unknown))}; registered: "
                          f"{', '.join(table)}")
    return tuple(names)
