"""Killing a stage part-way, written once for every fault test: the stage runs
in a child Python, is SIGKILLed mid-stage, and the test reruns it in its own process.

The kill lands where it does the most harm: the child stalls inside its ``stall_at``-th
``os.replace`` onto a file whose name contains ``stall_on`` (every birdkit writer publishes a
file that way, ``birdkit.util.atomic``), that is with the temporary file written and the rename not
done, and is killed there; or, with ``ready``, as soon as ``ready()`` holds.
"""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import torch

from conftest import ROOT

CHILD = textwrap.dedent("""
    import importlib, os, pickle, sys, time
    target, args_file, marker, stall_on, stall_at, threads = sys.argv[1:7]
    import torch
    torch.set_num_threads(int(threads))   # the parent's: float sums in the same order
    if stall_on:
        real, seen = os.replace, [0]
        def replace(src, dst, *args, **kwargs):
            if stall_on in os.path.basename(os.fspath(dst)):
                seen[0] += 1
                if seen[0] == int(stall_at):
                    open(marker, "w").close()
                    time.sleep(3600)          # killed here, the temporary file written
            return real(src, dst, *args, **kwargs)
        os.replace = replace
    module, name = target.split(":")
    with open(args_file, "rb") as f:
        args = pickle.load(f)
    getattr(importlib.import_module(module), name)(*args)
""")


def kill_mid_stage(target: str, args: tuple, workdir, *, stall_on: str = "", stall_at: int = 1, ready=None,
                   timeout: float = 180.0) -> None:
    """Run ``target`` (``"module:function"``, importable from ``src_py`` or ``tests``) on ``args``
    (pickled) in a child Python and SIGKILL it mid-stage: stalled in its ``stall_at``-th atomic
    publish of a ``*stall_on*`` file, or once ``ready()`` holds. Fails when the child ends on its
    own or the moment does not come within ``timeout`` seconds."""
    assert stall_on or ready, "say where to kill: stall_on or ready"
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    args_file, marker = os.path.join(workdir, "child_args.pkl"), os.path.join(workdir, "child_stalled")
    stderr_file = os.path.join(workdir, "child_stderr.txt")
    with open(args_file, "wb") as f:
        pickle.dump(args, f)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src_py"), str(ROOT / "tests"),
                                                        os.environ.get("PYTHONPATH", "")])}
    moment = ready if ready is not None else (lambda: os.path.exists(marker))
    with open(stderr_file, "wb") as err:   # a file, not a pipe: a chatty child never blocks on it
        child = subprocess.Popen([sys.executable, "-c", CHILD, target, args_file, marker, stall_on, str(stall_at),
                                  str(torch.get_num_threads())], stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while not (reached := moment()) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    tail = open(stderr_file, errors="replace").read()[-3000:]
    assert child.returncode == -signal.SIGKILL, f"{target} ended on its own ({child.returncode}): {tail}"
    assert reached, f"{target} never reached the kill point within {timeout} s: {tail}"
