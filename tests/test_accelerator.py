"""A GPU the installed torch cannot run fails at the notebook's first cell, with a message that says why."""
from types import SimpleNamespace

import pytest

from birdkit.notebook import session
from birdkit.util import accelerator
from birdkit.util.accelerator import UnusableGPUError, check, supports

CU128 = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # torch 2.10.0+cu128 (Kaggle's GPU image)


def fake_cuda(*devices, arch_list=CU128):
    """A stand-in for ``torch.cuda`` with ``devices`` as (name, (major, minor))."""
    return SimpleNamespace(is_available=lambda: bool(devices), device_count=lambda: len(devices),
                           get_arch_list=lambda: list(arch_list),
                           get_device_name=lambda i: devices[i][0], get_device_capability=lambda i: devices[i][1])


def test_p100_under_a_cu128_build_fails_with_what_to_pick_instead():
    with pytest.raises(UnusableGPUError) as err:
        check(fake_cuda(("Tesla P100-PCIE-16GB", (6, 0))), version="2.10.0+cu128")
    message = str(err.value)
    assert "'Tesla P100-PCIE-16GB' has compute capability sm_60" in message
    assert "torch 2.10.0+cu128 cannot run" in message and "sm_70, sm_75" in message
    assert "NvidiaTeslaT4" in message


def test_t4_pair_l4_and_cpu_pass():
    assert check(fake_cuda(("Tesla T4", (7, 5)), ("Tesla T4", (7, 5)))) == ["Tesla T4", "Tesla T4"]
    assert check(fake_cuda(("NVIDIA L4", (8, 9)))) == ["NVIDIA L4"]  # runs the sm_86 cubins
    assert check(fake_cuda()) == []


@pytest.mark.parametrize("capability,arch_list,expected", [
    ((6, 0), CU128, False),
    ((7, 5), CU128, True),
    ((8, 9), ["sm_80", "sm_86"], True),    # same major, higher minor: the cubin runs
    ((8, 0), ["sm_86"], False),            # same major, lower minor: it does not
    ((9, 0), ["sm_80", "compute_80"], True),  # PTX is compiled by the driver for newer devices
    ((7, 0), ["sm_80", "compute_80"], False),
    ((7, 5), [], False),                   # a CPU build of torch
    ((9, 0), ["sm_90a"], True),
])
def test_supports(capability, arch_list, expected):
    assert supports(capability, arch_list) is expected


def test_session_start_runs_the_check_before_anything_else(monkeypatch, tmp_path):
    monkeypatch.setattr(accelerator, "torch", SimpleNamespace(cuda=fake_cuda(("Tesla P100", (6, 0))),
                                                              __version__="2.10.0+cu128"))
    with pytest.raises(UnusableGPUError, match="'Tesla P100' has compute capability sm_60"):
        session.start({"run_dir": str(tmp_path / "run"), "data_dir": str(tmp_path / "no-data")}, "train")
