"""Training on every GPU of the session: DistributedDataParallel, one process per GPU.

Started from the notebook with ``torch.multiprocessing.spawn`` (in torch, nothing to install on
Kaggle). Each process trains the same fold on its share of every global batch (the factory's
``ShardedBatchSampler``); gradients are averaged across processes, BatchNorm becomes SyncBatchNorm
on GPUs, and only rank 0 writes checkpoints, history and prints. ``backend="gloo"`` runs it on CPU
processes (tests).
"""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def world_size(setting: int) -> int:
    """``ddp_processes``: 0 = one per visible GPU; 1 = this process only."""
    if setting == 0:
        return max(1, torch.cuda.device_count())
    return setting


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(fn, world: int, *args, backend: str | None = None) -> None:
    """Run ``fn(rank, world, device, *args)`` in ``world`` processes and wait for all of them."""
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl" and torch.cuda.device_count() < world:
        raise RuntimeError(f"ddp_processes {world} needs {world} GPUs; this session has {torch.cuda.device_count()}")
    mp.spawn(_worker, args=(world, backend, free_port(), fn, args), nprocs=world, join=True)


def _worker(rank: int, world: int, backend: str, port: int, fn, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        fn(rank, world, device, *args)
    finally:
        dist.destroy_process_group()
