"""The training loop (seed cell 7): AdamW, warm-up + cosine, the batch augmentation steps
(``batch_augment``: SpecAugment, Mixup), BCE or CE with label smoothing; per epoch the loss, top-1
and the competition metric on held-out recordings and, when labelled soundscapes exist, on their
windows (the score that picks the best checkpoint); best and last checkpoints; resume from the
last one, which holds everything the next epoch depends on (weights, optimizer, scheduler, gradient
scaler, the torch, numpy and Python random states and the sampler's generator), so on the CPU a
resumed run ends with the weights of an uninterrupted one; an unreadable last checkpoint (cut by a
full disk, say) trains the fold again.

The ``Trainer`` receives its data (``birdkit.train.factory.make_training_data``), so another stage can
hand it soundscapes with soft targets through the same loop. With distillation (``distill_weight``,
``distill_kd_weight``; ``birdkit.foundation.distill``) the batches carry the teacher's embedding and
logits of each crop (mixed as the crops are mixed) and the loss adds the cosine loss of the
model's projected features and the BCE to the teacher's mapped probabilities; the history's
``train_distill_loss`` is that addition (``train_loss`` stays the task loss). With DistributedDataParallel
(``birdkit.train.distributed``) every process runs this loop on its share of each batch; only rank 0
writes checkpoints and prints.
"""
from __future__ import annotations

import math
import random
import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

from ..augment.batch import augment_batch, smooth_targets
from ..augment.draws import TORCH_RANDOM
from ..augment.registry import batch_steps
from ..ensemble_list import BEST_NAME
from ..foundation.distill import cosine_distill_loss, kd_loss, teacher_present
from ..metrics import macro_roc_auc, top1_accuracy
from ..models import (
    CheckpointError,
    ModelSpec,
    build_model,
    load_checkpoint,
    make_contract,
    probabilities,
    save_checkpoint,
)
from ..util.progress import progress_bar

if TYPE_CHECKING:
    from ..config import Config

LAST_NAME = "last.pth"   # BEST_NAME (best.pth) lives in birdkit.ensemble_list, which inference reads too


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def loss_fn(logits, targets, loss: str, smoothing: float):
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, smooth_targets(targets, smoothing))
    soft = targets / targets.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return F.cross_entropy(logits, soft, label_smoothing=smoothing)


def make_scheduler(optimizer, cfg: Config, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(total - 1, int(round(cfg.warmup_epochs * steps_per_epoch)))
    if warmup <= 0:
        return CosineAnnealingLR(optimizer, T_max=total)
    return SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.05, total_iters=warmup),
                                    CosineAnnealingLR(optimizer, T_max=total - warmup)], milestones=[warmup])


def chunk_samples(cfg: Config) -> int:
    """Samples per inference chunk of a model trained with ``cfg`` (validation on soundscapes): its head's."""
    return ModelSpec.from_config(cfg).chunk_samples(cfg.sample_rate)


def epoch_score(row) -> float:
    """What picks the best checkpoint: the soundscape metric, else the clip metric; without
    validation every epoch is the best so far (the last one is kept)."""
    for key in ("val_soundscape_auc", "val_auc"):
        if key in row and not math.isnan(row[key]):
            return float(row[key])
    return math.inf


def best_epoch(history: pd.DataFrame):
    """The row of ``history`` whose checkpoint training kept as the best, picked as ``Trainer.fit``
    picks it (``epoch_score``: the first epoch of the highest score, the last one without
    validation); None for an empty history."""
    best, best_score = None, -math.inf
    for _, row in history.iterrows():
        score = epoch_score(row)
        if score > best_score or math.isinf(score):
            best = row
        best_score = max(best_score, score)
    return best


class Trainer:
    def __init__(self, cfg: Config, classes, data, checkpoint_dir, model=None, device=None, rank=0, world=1):
        self.cfg, self.classes, self.data, self.checkpoint_dir = cfg, list(classes), data, checkpoint_dir
        self.rank, self.world = rank, world
        seed_everything(cfg.seed)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.amp = self.device.type == "cuda"
        distill_dim = getattr(data, "distill_dim", 0)
        self.model = model or build_model(cfg, classes, distill_dim)
        teacher = getattr(data, "teacher", None)
        self.distill_weight = cfg.distill_weight if getattr(self.model.spec, "distill_dim", 0) else 0.0
        self.kd_weight = cfg.distill_kd_weight if teacher is not None else 0.0
        self.teacher_mapped = None if teacher is None else teacher.mapped
        self.distilling = self.distill_weight > 0 or self.kd_weight > 0
        self.last_distill_loss = math.nan
        if world > 1 and self.device.type == "cuda":   # BatchNorm statistics over the global batch
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.model = self.model.to(self.device)
        if self.amp:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.batch_steps = batch_steps(cfg)   # cfg.batch_augment in order (birdkit.augment.registry)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, cfg, max(1, len(data.train)))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.contract = make_contract(cfg, classes, getattr(self.model.spec, "distill_dim", 0))
        self.history, self.start_epoch, self.best_score = [], 0, -math.inf

    # ---- checkpoints ----
    def _sampler_generator(self):
        """The generator that draws the training sample order (it advances every epoch)."""
        batches = getattr(self.data.train, "batch_sampler", None)
        return getattr(getattr(batches, "sampler", None), "generator", None)

    def _state(self, epoch):
        generator = self._sampler_generator()
        np_state = np.random.get_state()
        return dict(epoch=epoch, history=self.history, best_score=self.best_score,
                    optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                    scaler=self.scaler.state_dict(), rng_torch=torch.get_rng_state(),
                    rng_numpy=[np_state[0], np_state[1].tolist(), *np_state[2:]], rng_python=random.getstate(),
                    rng_sampler=None if generator is None else generator.get_state())

    def maybe_resume(self) -> bool:
        """Continue from ``last.pth`` when there is one; an unreadable one is reported and the fold
        trains from the start (it is this stage's own output), one of another class list is an error."""
        last = self.checkpoint_dir / LAST_NAME
        if not (self.cfg.resume and last.is_file()):
            return False
        try:
            ckpt = load_checkpoint(last)
            missing = [k for k in ("epoch", "history", "best_score", "optimizer", "scheduler", "rng_torch")
                       if k not in ckpt]
            if missing:
                raise CheckpointError(f"{last} cannot resume training: no {', '.join(missing)}")
        except CheckpointError as exc:
            warnings.warn(f"{exc}; training this fold from the first epoch", stacklevel=2)
            return False
        if ckpt["contract"]["classes"] != self.classes:
            raise ValueError(f"{last}: class list differs from this run's; use another run_dir")
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng_torch"])
        if "rng_numpy" in ckpt:   # older checkpoints hold torch's state only
            name, keys, *rest = ckpt["rng_numpy"]
            np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
        if "rng_python" in ckpt:
            version, internal, gauss = ckpt["rng_python"]
            random.setstate((version, tuple(internal), gauss))
        generator = self._sampler_generator()
        if generator is not None and ckpt.get("rng_sampler") is not None:
            generator.set_state(ckpt["rng_sampler"])
        self.history, self.best_score = list(ckpt["history"]), ckpt["best_score"]
        self.start_epoch = ckpt["epoch"] + 1
        return True

    # ---- one epoch ----
    def _logits(self, x, y):
        """Clip logits of a training batch and its (augmented: ``batch_steps``) targets."""
        model = self.net
        front_end = None if self.data.images else self.model.image
        images, y = augment_batch(self.batch_steps, x, y, TORCH_RANDOM, front_end)
        if self.amp:
            images = images.contiguous(memory_format=torch.channels_last)
        return _classify(model, images), y

    def _distill_step(self, x, y, teacher_emb, teacher_logits):
        """Task loss and distillation loss of a batch whose teacher outputs follow the batch steps
        (a mix of two crops is taught the same mix of their teachers; ``teacher_present`` weighs
        out items without one)."""
        extras = (teacher_emb, teacher_logits, teacher_present(teacher_emb))
        images, y, (emb, logits_t, weight) = augment_batch(self.batch_steps, x, y, TORCH_RANDOM, self.model.image,
                                                           extras)
        if self.amp:
            images = images.contiguous(memory_format=torch.channels_last)
        distill = torch.zeros((), device=self.device)
        if self.distill_weight > 0:
            logits, projected = _classify(self.net, images, distill=True)
            distill = distill + self.distill_weight * cosine_distill_loss(projected, emb, weight)
        else:
            logits = _classify(self.net, images)
        if self.kd_weight > 0:
            distill = distill + self.kd_weight * kd_loss(logits, logits_t, self.teacher_mapped, weight)
        return loss_fn(logits.float(), y, self.cfg.loss, self.cfg.label_smoothing), distill

    def train_epoch(self, epoch, progress=True) -> float:
        """One epoch; returns the mean task loss (the distillation loss is ``last_distill_loss``)."""
        self.net.train()
        total, distilled, count = 0.0, 0.0, 0
        show = progress and self.rank == 0
        for batch in progress_bar(self.data.train, desc=f"epoch {epoch + 1} train", disable=not show, leave=False):
            x, y = batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, enabled=self.amp):
                if self.distilling:
                    if len(batch) < 5:
                        raise ValueError("distillation needs batches with the teacher's outputs "
                                         "(make_training_data with distill_weight or distill_kd_weight > 0)")
                    task, distill = self._distill_step(x, y, *(t.to(self.device, non_blocking=True)
                                                               for t in batch[3:5]))
                    loss = task + distill
                    distilled += distill.item() * len(x)
                else:
                    logits, y = self._logits(x, y)
                    task = loss = loss_fn(logits.float(), y, self.cfg.loss, self.cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total, count = total + task.item() * len(x), count + len(x)
        self.last_distill_loss = distilled / max(count, 1) if self.distilling else math.nan
        return total / max(count, 1)

    @torch.no_grad()
    def validate(self, progress=True) -> dict:
        self.model.eval()
        out = {}
        if self.data.val is not None:
            out.update(self._validate_clips(progress))
        if self.data.soundscape_val is not None:
            out["val_soundscape_auc"] = self.data.soundscape_val.evaluate(
                self.model, chunk_samples(self.cfg), self.cfg.loss, self.device)
        return out

    def _validate_clips(self, progress) -> dict:
        losses, probs, primaries, targets = [], [], [], []
        for x, y, p in progress_bar(self.data.val, desc="validate", disable=not progress or self.rank, leave=False):
            with torch.autocast(self.device.type, enabled=self.amp):
                x = x.to(self.device)
                logits = (self.model.classify(x) if self.data.images else self.model.clip_logits(x)).float()
            losses.append(loss_fn(logits, y.to(self.device), self.cfg.loss, 0.0).item() * len(x))
            probs.append(probabilities(logits, self.cfg.loss).cpu().numpy())
            primaries.append(p.numpy())
            targets.append(y.numpy())
        probs, primaries, targets = np.concatenate(probs), np.concatenate(primaries), np.concatenate(targets)
        return {"val_loss": sum(losses) / len(primaries), "val_accuracy": top1_accuracy(primaries, probs),
                "val_auc": macro_roc_auc(targets, probs)}

    def score(self, row: dict) -> float:
        """What picks the best checkpoint (``epoch_score``)."""
        return epoch_score(row)

    def fit(self, progress=True) -> pd.DataFrame:
        for epoch in range(self.start_epoch, self.cfg.epochs):
            started = time.perf_counter()
            row = {"epoch": epoch + 1, "train_loss": self.train_epoch(epoch, progress)}
            if self.distilling:
                row["train_distill_loss"] = self.last_distill_loss
            row.update(self.validate(progress))
            row.update(lr=self.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - started)
            self.history.append(row)
            score = self.score(row)
            if self.rank == 0:
                if score > self.best_score or math.isinf(score):
                    self.best_score = score
                    save_checkpoint(self.checkpoint_dir / BEST_NAME, self.model, self.contract, epoch=epoch,
                                    score=score)
                save_checkpoint(self.checkpoint_dir / LAST_NAME, self.model, self.contract, **self._state(epoch))
                if progress:
                    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            self.best_score = max(self.best_score, score)
        return pd.DataFrame(self.history)


def _classify(net, images, distill: bool = False):
    """``BirdModel.classify`` (``classify_distill`` with ``distill``) through a DDP wrapper too
    (DDP syncs gradients only in ``forward``)."""
    if hasattr(net, "module"):
        return net(images, classify=True, distill=distill) if distill else net(images, classify=True)
    return net.classify_distill(images) if distill else net.classify(images)
