"""Fail early on a GPU the installed torch has no kernels for (e.g. a P100, sm_60, under a cu128 build).

``torch.cuda.is_available()`` is still True there; the failure would come at the first CUDA operation,
deep in training, as "no kernel image is available for execution on the device". ``check()`` compares
each device's compute capability with ``torch.cuda.get_arch_list()`` and raises ``UnusableGPUError``
naming the GPU, its capability, what this torch supports and what to pick instead.
"""
from __future__ import annotations

import os
import re

import torch


class UnusableGPUError(RuntimeError):
    """The session's GPU cannot run this torch build's CUDA kernels."""


def _arch_number(arch: str) -> int | None:
    match = re.fullmatch(r"(?:sm|compute)_(\d+)[a-z]?", arch)
    return int(match.group(1)) if match else None


def supports(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether a device of ``capability`` runs a build for ``arch_list`` (torch's ``get_arch_list()``).

    A cubin ``sm_XY`` runs on devices of the same major version X and minor >= Y; PTX (``compute_XY``)
    is compiled by the driver for any device of capability >= XY. An empty list (a CPU build) runs nothing.
    """
    major, minor = capability
    device = major * 10 + minor
    for arch in arch_list:
        number = _arch_number(arch)
        if number is None:
            continue
        if arch.startswith("sm_") and number // 10 == major and number % 10 <= minor:
            return True
        if arch.startswith("compute_") and number <= device:
            return True
    return False


def unusable_message(name: str, capability: tuple[int, int], arch_list: list[str], version: str) -> str:
    return (f"GPU {name!r} has compute capability sm_{capability[0]}{capability[1]}, which this torch "
            f"{version} cannot run (it has kernels for {', '.join(arch_list) or 'no GPU'}). On Kaggle pick "
            f"'GPU T4 x2' (kernel-metadata.json machine_shape NvidiaTeslaT4) or L4, or switch the accelerator off.")


def check(cuda=None, version: str | None = None) -> list[str]:
    """Names of the usable CUDA devices ([] without CUDA); ``UnusableGPUError`` on any other device.

    ``cuda`` is ``torch.cuda`` (a test passes a stand-in).
    """
    cuda = torch.cuda if cuda is None else cuda
    if not cuda.is_available():
        return []
    arch_list = list(cuda.get_arch_list())
    names = []
    for index in range(cuda.device_count()):
        name, capability = cuda.get_device_name(index), tuple(cuda.get_device_capability(index))
        if not supports(capability, arch_list):
            raise UnusableGPUError(unusable_message(name, capability, arch_list, version or torch.__version__))
        names.append(name)
    return names


def cpu_cores() -> int:
    """The CPU cores this process may use (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
