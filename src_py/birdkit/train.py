"""The training loop (seed cell 7): AdamW, warm-up + cosine, Mixup, SpecAugment, balanced
sampling, BCE or CE with label smoothing; per-epoch loss, accuracy and the competition metric;
best (by metric) and last checkpoints; resume from the last one."""
from __future__ import annotations

import math
import random
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .augment import SpecAugment, make_sampler, mixup, smooth_targets
from .data import BirdClefDataset
from .metrics import macro_roc_auc, top1_accuracy
from .models import build_model, load_checkpoint, make_contract, probabilities, save_checkpoint

BEST_NAME = "best_model_improved.pth"
LAST_NAME = "last.pth"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def loss_fn(logits, targets, loss: str, smoothing: float):
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, smooth_targets(targets, smoothing))
    soft = targets / targets.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return F.cross_entropy(logits, soft, label_smoothing=smoothing)


def make_scheduler(optimizer, cfg, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(total - 1, int(round(cfg.warmup_epochs * steps_per_epoch)))
    if warmup <= 0:
        return CosineAnnealingLR(optimizer, T_max=total)
    return SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.05, total_iters=warmup),
                                    CosineAnnealingLR(optimizer, T_max=total - warmup)], milestones=[warmup])


class Trainer:
    def __init__(self, cfg, train_df, val_df, classes):
        self.cfg, self.classes = cfg, list(classes)
        seed_everything(cfg.seed)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.amp = self.device.type == "cuda"
        self.model = build_model(cfg, classes).to(self.device)
        if self.amp:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_ds = BirdClefDataset(train_df, cfg, classes, train=True)
        self.val_ds = BirdClefDataset(val_df, cfg, classes, train=False)
        n = cfg.samples_per_epoch or len(train_df)
        sampler = make_sampler(train_df["primary_label"], cfg.sampler_power, n, cfg.seed)
        self.train_dl = DataLoader(self.train_ds, batch_size=cfg.batch_size, sampler=sampler,
                                   num_workers=cfg.num_workers, drop_last=n > cfg.batch_size)
        self.val_dl = DataLoader(self.val_ds, batch_size=cfg.batch_size, num_workers=cfg.num_workers)
        self.specaug = SpecAugment(cfg.n_mels, cfg.n_frames, cfg.time_mask_frac, cfg.freq_mask_frac)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, cfg, len(self.train_dl))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.contract = make_contract(cfg, classes)
        self.history, self.start_epoch, self.best_score = [], 0, -math.inf

    # ---- checkpoints ----
    def _state(self, epoch):
        return dict(epoch=epoch, history=self.history, best_score=self.best_score,
                    optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                    rng_torch=torch.get_rng_state())

    def maybe_resume(self) -> bool:
        last = self.cfg.checkpoint_dir / LAST_NAME
        if not (self.cfg.resume and last.is_file()):
            return False
        ckpt = load_checkpoint(last)
        if ckpt["contract"]["classes"] != self.classes:
            raise ValueError(f"{last}: class list differs from this run's; use another run_dir")
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng_torch"])
        self.history, self.best_score = list(ckpt["history"]), ckpt["best_score"]
        self.start_epoch = ckpt["epoch"] + 1
        return True

    # ---- one epoch ----
    def train_epoch(self, epoch, progress=True) -> float:
        self.model.train()
        self.specaug.train(self.cfg.specaugment)
        total, count = 0.0, 0
        for x, y, _ in tqdm(self.train_dl, desc=f"epoch {epoch + 1} train", disable=not progress, leave=False):
            x, y = x.to(self.device), y.to(self.device)
            x = self.specaug(x)
            if self.cfg.mixup_alpha > 0 and torch.rand(1).item() < self.cfg.mixup_prob:
                x, y, _, _ = mixup(x, y, self.cfg.mixup_alpha)
            if self.amp:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, enabled=self.amp):
                loss = loss_fn(self.model.classify(x), y, self.cfg.loss, self.cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total, count = total + loss.item() * len(x), count + len(x)
        return total / max(count, 1)

    @torch.no_grad()
    def validate(self, progress=True) -> dict:
        self.model.eval()
        losses, probs, primaries = [], [], []
        for x, y, p in tqdm(self.val_dl, desc="validate", disable=not progress, leave=False):
            with torch.autocast(self.device.type, enabled=self.amp):
                logits = self.model.classify(x.to(self.device)).float()
            losses.append(loss_fn(logits, y.to(self.device), self.cfg.loss, 0.0).item() * len(x))
            probs.append(probabilities(logits, self.cfg.loss).cpu().numpy())
            primaries.append(p.numpy())
        if not probs:
            return {"val_loss": float("nan"), "val_accuracy": float("nan"), "val_auc": float("nan")}
        probs, primaries = np.concatenate(probs), np.concatenate(primaries)
        onehot = np.eye(len(self.classes))[primaries]
        return {"val_loss": sum(losses) / len(primaries), "val_accuracy": top1_accuracy(primaries, probs),
                "val_auc": macro_roc_auc(onehot, probs)}

    def fit(self, progress=True) -> pd.DataFrame:
        ckpt_dir = self.cfg.checkpoint_dir
        for epoch in range(self.start_epoch, self.cfg.epochs):
            started = time.perf_counter()
            train_loss = self.train_epoch(epoch, progress)
            row = {"epoch": epoch + 1, "train_loss": train_loss, **self.validate(progress),
                   "lr": self.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
            self.history.append(row)
            score = row["val_auc"] if not math.isnan(row["val_auc"]) else -row["train_loss"]
            if score > self.best_score:
                self.best_score = score
                save_checkpoint(ckpt_dir / BEST_NAME, self.model, self.contract, epoch=epoch, score=score)
            save_checkpoint(ckpt_dir / LAST_NAME, self.model, self.contract, **self._state(epoch))
            if progress:
                print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        return pd.DataFrame(self.history)
