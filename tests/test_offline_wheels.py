"""The install cell's logic: the backend's wheels for the running Python, or a loud fallback to torch.

Small wheels made here stand in for openvino and its dependency (same layout: one folder per Python);
pip installs them offline into a private folder. The real openvino wheels run in the Kaggle-image
environment (tests/test_kaggle_layout.py, make test-kaggle-env).
"""
import os
import sys
import zipfile
from pathlib import Path

import pytest

from birdkit.notebook import wheels
from birdkit_tools.kaggle.wheels import manylinux_platforms, missing_dependencies

HERE = wheels.python_tag()
OTHER = "cp311" if HERE != "cp311" else "cp312"


def make_wheel(folder: Path, name: str, version: str, python: str, requires=()) -> Path:
    """A minimal valid wheel: one module, METADATA with ``requires``, WHEEL and RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    module, dist = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}"
    tag = f"{python}-{python}-linux_x86_64" if python != "py3" else "py3-none-any"
    files = {f"{module}/__init__.py": f"VERSION = {version!r}\n",
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
