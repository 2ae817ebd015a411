"""Inference worker processes: each loads the ensemble once (one thread) and scores whole files.

Spawned, not forked: a fork would copy the parent's torch/OpenMP and OpenVINO thread pools in
whatever state they are in. Workers read the graphs the parent exported (``export=False``), so
nothing is exported twice. The pool is kept by its ``Ensemble`` (``birdkit.infer.predict.pool_for``)
and reused by later calls.
"""
from __future__ import annotations

import multiprocessing
import weakref
from concurrent.futures import Future, ProcessPoolExecutor

from .ensemble import load_ensemble, score_file

_WORKER = {}


class WorkerPool:
    def __init__(self, spec: dict, workers: int):
        self.workers = workers
        self.executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start, initargs=(spec,))
        # a pool dropped without close() still stops its workers
        weakref.finalize(self, self.executor.shutdown, wait=False, cancel_futures=True)

    def submit(self, path, tta, active=None) -> Future:
        """A future of ``score_file(path, ensemble, tta, active)`` in a worker (``BrokenProcessPool``
        from ``result()`` when a worker died)."""
        return self.executor.submit(_score_file, path, tta, active)

    def close(self):
        self.executor.shutdown(cancel_futures=True)

    def terminate(self):
        """Stop now, files being scored included (the watchdog: a deadline does not wait)."""
        for process in list((self.executor._processes or {}).values()):  # no public way to kill them
            process.terminate()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _start(spec):
    import torch

    torch.set_num_threads(1)
    _WORKER["ensemble"] = load_ensemble(spec["paths"], spec["backend"], spec["work_dir"], threads=1,
                                        frontend_in_graph=spec["frontend_in_graph"], export=False,
                                        chunk_seconds=spec["chunk_seconds"], foundation=spec.get("foundation", ()))


def _score_file(path, tta, active):
    return score_file(path, _WORKER["ensemble"], tta, active)
