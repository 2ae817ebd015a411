"""Offline install of the inference backend from the wheels dataset (``make push-wheels``).

Kaggle's image has neither OpenVINO nor ONNX Runtime, and a submission runs with internet off. The
wheels dataset holds one folder per Python (``cp311/``, ``cp312/``, ``cp313/``). ``install_backend``
takes the folder whose wheels fit the running interpreter, installs the backend's package and its
dependencies from that folder (``pip install --no-index --no-deps``) into a private folder that it
appends to ``sys.path`` (and ``PYTHONPATH``, for worker processes), so Kaggle's numpy, scipy and torch
are never replaced. When nothing fits, a banner says which backend the kernel falls back to and why.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from ..util.notice import FALLBACK_COST, shout
from .paths import choose, find_wheel_dirs

MODULES = {"openvino": "openvino", "onnxruntime": "onnxruntime"}  # backend -> distribution it needs


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def installed(distribution: str) -> str:
    """The installed version of ``distribution``, or ""."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


def wheel_requirements(wheel: Path, environment: dict | None = None) -> list[Requirement]:
    """The wheel's ``Requires-Dist`` that apply (markers evaluated here, or in ``environment``; no extras)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(name).decode())
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    env = {**(environment or {}), "extra": ""}
    return [r for r in requirements if r.marker is None or r.marker.evaluate(env)]


def fitting_wheels(folder: Path) -> dict:
    """``{canonical name: [(version, path), ...]}`` of the wheels in ``folder`` this interpreter can install."""
    tags, fits = set(sys_tags()), {}
    for wheel in sorted(folder.glob("*.whl")):
        try:
            name, version, _, wheel_tags = parse_wheel_filename(wheel.name)
        except ValueError:
            continue
        if wheel_tags & tags:
            fits.setdefault(name, []).append((str(version), wheel))
    return fits


def _pick(req: Requirement, fits: dict):
    """The wheel in ``fits`` that satisfies ``req``, or None."""
    return next((path for version, path in fits.get(canonicalize_name(req.name), [])
                 if version in req.specifier), None)


def closure(requirement: Requirement, fits: dict) -> tuple[list[Path], list[str]]:
    """Wheels to install for ``requirement`` from ``fits`` (it and the dependencies not installed), and
    what is missing: a requirement neither installed nor in the folder."""
    wheels, missing, todo, seen = [], [], [requirement], set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        if req is not requirement and installed(req.name):
            continue
        wheel = _pick(req, fits)
        if wheel is None:
            missing.append(str(req))
            continue
        wheels.append(wheel)
        todo += wheel_requirements(wheel)
    return wheels, missing


def describe(folders: list[Path], dist: str) -> str:
    """Each folder with the Python tags of its wheels and the versions of ``dist`` in it."""
    parts = []
    for folder in folders:
        found = [parse_wheel_filename(w.name) for w in folder.glob("*.whl") if _tags(w)]
        tags = sorted({t.interpreter for *_, wheel_tags in found for t in wheel_tags})
        versions = sorted({str(v) for n, v, *_ in found if n == canonicalize_name(dist)})
        parts.append(f"{folder} ({', '.join(tags)}" + (f"; {dist} {', '.join(versions)})" if versions else ")"))
    return ", ".join(parts)


def _tags(wheel: Path) -> set:
    try:
        return {t.interpreter for t in parse_wheel_filename(wheel.name)[3]}
    except ValueError:
        return set()


def _add_to_path(target: Path) -> None:
    if str(target) not in sys.path:
        sys.path.append(str(target))  # after the image's own packages: nothing of Kaggle's is shadowed
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(target) not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([*parts, str(target)])
    importlib.invalidate_caches()


def _drop_from_path(target: Path) -> None:
    while str(target) in sys.path:
        sys.path.remove(str(target))
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(target)]
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)


def fallback(backend: str, reason: str) -> dict:
    """The loud banner, and the report of a kernel that runs on torch instead of ``backend``."""
    shout(f"INFERENCE BACKEND FALLBACK: {backend} -> torch eager", reason,
          f"inference runs on torch eager, {FALLBACK_COST}",
          "fix: `make push-wheels` (wheels for Python 3.11, 3.12 and 3.13), attach the wheels dataset, push again")
    return {"backend": "torch", "requested": backend, "python": python_tag(), "installed": [], "reason": reason}


def _no_fit_reason(dist: str, req: Requirement, folders: list[Path], kaggle_input) -> str:
    if not folders:
        return f"no wheels under {kaggle_input}: the wheels dataset is not attached"
    for folder in folders:
        fits = fitting_wheels(folder)
        if _pick(req, fits) is not None:
            return f"{folder} has {dist} for {python_tag()} but not what it needs: {', '.join(closure(req, fits)[1])}"
    return f"no {req} wheel for {python_tag()} under {kaggle_input} (found: {describe(folders, dist)})"


def install_backend(backend: str, requirements=(), kaggle_input="/kaggle/input", target=None) -> dict:
    """Make ``backend``'s package importable from the wheels under ``kaggle_input``.

    ``requirements`` pins the packages (``["openvino==2026.4.1", ...]``). Returns a report whose
    ``backend`` is the one inference will run on: ``backend`` itself, or ``"torch"`` after a fallback.
    """
    dist = MODULES.get(backend)
    report = {"backend": backend, "requested": backend, "python": python_tag(), "installed": [], "reason": ""}
    if dist is None:
        print(f"backend {backend}: nothing to install")
        return report
    if installed(dist):
        print(f"backend {backend}: {dist} {installed(dist)} is already installed")
        return report
    pins = {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}
    req = pins.get(canonicalize_name(dist), Requirement(dist))
    folders = find_wheel_dirs(kaggle_input)
    fits = [(f, closure(req, fitting_wheels(f))) for f in folders]
    fits = sorted(((f, wheels) for f, (wheels, missing) in fits if wheels and not missing),
                  key=lambda fw: fw[0].name != python_tag())  # the folder named for this Python first
    if not fits:
        return fallback(backend, _no_fit_reason(dist, req, folders, kaggle_input))
    folder = choose([f for f, _ in fits], f"{dist} wheels for {python_tag()}")
    wheels = dict(fits)[folder]
    target = Path(target) if target else Path(tempfile.gettempdir()) / f"birdkit-wheels-{python_tag()}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--upgrade",
                          "--disable-pip-version-check", "--quiet", "--target", str(target), *map(str, wheels)],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        return fallback(backend, f"pip install from {folder} failed (exit {pip.returncode}): "
                                 + (pip.stdout + pip.stderr).strip()[-1500:])
    _add_to_path(target)
    try:
        importlib.import_module(dist)
    except Exception as exc:  # noqa: BLE001 - any import failure means the backend cannot run here
        _drop_from_path(target)
        return fallback(backend, f"installed from {folder}, but `import {dist}` failed: {exc!r}")
    names = [f"{parse_wheel_filename(w.name)[0]}=={parse_wheel_filename(w.name)[1]}" for w in wheels]
    print(f"backend {backend}: installed {', '.join(names)} for {python_tag()} from {folder} into {target} "
          "(pip --no-index --no-deps; the image's packages untouched)")
    return {**report, "installed": names, "folder": str(folder), "target": str(target)}
