"""Training-speed benchmark: samples per second of one training step (waveform -> the model's own
log-mel -> backbone -> loss -> backward -> AdamW), per model, head, crop and batch size.

    python -m birdkit_tools.train_bench [--models efficientnet_b0,efficientnet_b0:sed20] [--batch 32,64]
                                        [--steps 30] [--processes 1] [--out runs/train_bench]

A benchmark, not a test: random waveforms already on the device (the data pipeline is measured
apart), random weights, mixed precision and channels_last on a GPU as in training. With
``--processes N`` (N GPUs) the same step runs under DistributedDataParallel with the global batch
split over the processes; the table then gives the global samples per second. Writes
``train_bench.{md,json}``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from birdkit.config import Config
from birdkit.models import build_model
from birdkit.train.distributed import launch
from birdkit.train.loop import loss_fn

from .report import markdown_table

CLASSES = [f"c{i:03d}" for i in range(206)]


def spec_config(spec: str, batch: int) -> Config:
    """``model[:sedN]`` -> a Config (SED head on N-s crops; else the classifier on 5-s crops)."""
    name, _, head = spec.partition(":")
    extra = {"head": "sed", "train_seconds": float(head[3:])} if head.startswith("sed") else {}
    return Config(model_name=name, batch_size=batch, **extra)


def step_rate(cfg: Config, steps: int, device, rank: int = 0, world: int = 1) -> float:
    """Samples per second (this process) of ``steps`` timed training steps after 5 warm-up steps."""
    model = build_model(cfg, CLASSES).to(device).train()
    amp = device.type == "cuda"
    if amp:
        model = model.to(memory_format=torch.channels_last)
    net = model
    if world > 1:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model) if amp else model
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if amp else None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    share = cfg.batch_size // world
    waves = torch.randn(share, cfg.train_samples, device=device) * 0.1
    targets = (torch.rand(share, len(CLASSES), device=device) > 0.99).float()

    def step():
        with torch.autocast(device.type, enabled=amp):
            images = model.image(waves)
            if amp:
                images = images.contiguous(memory_format=torch.channels_last)
            logits = net(images, classify=True) if world > 1 else model.classify(images)
            loss = loss_fn(logits.float(), targets, "bce", 0.0)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(5):
        step()
    if amp:
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if amp:
        torch.cuda.synchronize(device)
    return share * steps / (time.perf_counter() - t0)


def _ddp_rank(rank, world, device, cfg, steps, out_file):
    rate = step_rate(cfg, steps, device, rank, world)
    if rank == 0:
        Path(out_file).write_text(json.dumps({"rate_per_process": rate}))


def run(models, batches, steps, processes, out) -> pd.DataFrame:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for spec in models:
        for batch in batches:
            cfg = spec_config(spec, batch)
            if processes > 1:
                launch(_ddp_rank, processes, cfg, steps, str(out / "rank0.json"))
                rate = json.loads((out / "rank0.json").read_text())["rate_per_process"] * processes
            else:
                rate = step_rate(cfg, steps, device)
            rows.append({"model": spec, "head": cfg.head, "crop_s": cfg.train_seconds, "batch": batch,
                         "processes": processes, "samples_per_s": rate,
                         "audio_hours_per_min": rate * cfg.train_seconds * 60 / 3600,
                         "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
                         "torch": torch.__version__})
            print(f"{spec:>24} batch {batch:4d} x{processes}: {rate:8.1f} samples/s", flush=True)
    table = pd.DataFrame(rows)
    (out / "train_bench.json").write_text(json.dumps(rows, indent=1))
    (out / "train_bench.md").write_text("\n".join(markdown_table(table, list(table.columns))) + "\n")
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="efficientnet_b0,efficientnet_b0:sed20")
    p.add_argument("--batch", default="32,64")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--processes", type=int, default=1, help="DDP processes (one per GPU)")
    p.add_argument("--out", default="runs/train_bench")
    a = p.parse_args(argv)
    run(a.models.split(","), [int(b) for b in a.batch.split(",")], a.steps, a.processes, a.out)


if __name__ == "__main__":
    main()
