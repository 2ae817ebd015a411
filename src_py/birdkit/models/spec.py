"""``ModelSpec``: everything that shapes a ``BirdModel`` beside its mel settings and classes.

Built from the flat ``Config`` (``ModelSpec.from_config``; the YAML stays flat) and carried by the
checkpoint contract beside ``MelSettings`` (``as_dict`` / ``from_contract``). Contracts written
before the spec kept these fields at their top level; ``from_contract`` derives the spec from them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .registry import backbone_fields, head_class

if TYPE_CHECKING:
    from ..config import Config


@dataclass(frozen=True)
class ModelSpec:
    # ---- the backbone (birdkit.models.registry.BACKBONES, else a timm model name)
    model_name: str = "efficientnet_b0"
    pretrained: bool = False
    pretrained_path: str = ""           # local weights file for the backbone
    in_chans: int = 3                   # channels of the log-mel image
    freq_channel: bool = False          # one more channel holding each band's position (CoordConv)
    drop_rate: float = 0.2
    drop_path_rate: float = 0.0
    # ---- the head (birdkit.models.registry.HEADS) and how it pools
    head: str = "classifier"
    window_pool: str = "attention"      # sed: frames inside a window -> one score
    freq_pool: str = "gem"              # sed: GeM over frequency, or coarse bands kept
    # ---- time
    window_seconds: float = 5.0         # the scored window
    train_seconds: float = 5.0          # the training crop (the inference chunk of heads that read frames)
    # ---- Config fields a registered head or backbone asks for (their ``config_fields``)
    options: dict = field(default_factory=dict)
    # ---- distillation (birdkit.foundation.distill): the teacher's embedding width, 0 = none. The
    # projection onto it trains only: ``for_inference`` drops it. Not a Config field (the teacher's).
    distill_dim: int = 0

    @classmethod
    def from_config(cls, cfg: Config, distill_dim: int = 0) -> ModelSpec:
        names = [f.name for f in dataclasses.fields(cls) if f.name not in ("options", "distill_dim")]
        extra = head_class(cfg.head).config_fields + backbone_fields(cfg.model_name)
        return cls(**{n: getattr(cfg, n) for n in names},
                   options={n: getattr(cfg, n) for n in extra if n not in names}, distill_dim=int(distill_dim))

    def value(self, name: str):
        """A field a head or backbone names in ``config_fields``: a spec field, else from ``options``."""
        return getattr(self, name) if name in {f.name for f in dataclasses.fields(self)} else self.options[name]

    def as_dict(self) -> dict:
        """The fields; ``distill_dim`` only when set, so a contract without distillation reads as
        before (and in a birdkit that predates the field)."""
        values = dataclasses.asdict(self)
        if not values["distill_dim"]:
            del values["distill_dim"]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ModelSpec:
        """From a contract's ``spec``; a key this version does not know is an error (a newer package wrote it)."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"model spec fields unknown to this birdkit: {unknown}")
        return cls(**values)

    @classmethod
    def from_contract(cls, contract: dict) -> ModelSpec:
        """The contract's spec, or one derived from a contract written before the spec: its fields
        at the top level, ``window_seconds`` inside ``mel`` before 0.2, the rest from its config."""
        if "spec" in contract:
            return cls.from_dict(contract["spec"])
        c, config = contract, contract.get("config", {})
        return cls(model_name=c["model_name"], in_chans=c["in_chans"], freq_channel=c.get("freq_channel", False),
                   head=c.get("head", "classifier"), window_pool=c.get("window_pool", "attention"),
                   freq_pool=c.get("freq_pool", "gem"),
                   window_seconds=c.get("window_seconds", c["mel"].get("window_seconds", 5.0)),
                   train_seconds=c.get("train_seconds", 5.0),
                   **{k: config[k] for k in ("pretrained", "pretrained_path", "drop_rate", "drop_path_rate")
                      if k in config})

    def for_inference(self) -> ModelSpec:
        """What a checkpoint is loaded into: no pretrained weights to fetch (the checkpoint has
        them), no dropout or stochastic depth (they have no weights), no distillation projection
        (it trains only; ``model_from_checkpoint`` leaves its weights out)."""
        return dataclasses.replace(self, pretrained=False, pretrained_path="", drop_rate=0.0, drop_path_rate=0.0,
                                   distill_dim=0)

    @property
    def head_class(self):
        return head_class(self.head)

    def chunk_samples(self, sample_rate: int, chunk_seconds: float = 0.0) -> int:
        """Samples per inference forward pass (the head's answer): ``chunk_seconds`` (0 = the
        training crop) in whole windows for a head that reads frames, one window for a classifier."""
        return self.head_class.chunk_samples(self, sample_rate, chunk_seconds)
