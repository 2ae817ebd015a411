"""Run the notebooks in order with papermill into one run folder.

    python -m birdkit_tools.runner --params params/demo.yaml --data-dir DIR [--solution CSV] [--name N]

The run folder ``runs/<name>/`` gets the executed notebooks, their HTML (nbconvert), the
resolved parameters, the git revision and every artefact the notebooks write. An existing run
folder is never reused unless ``--overwrite`` is given. A failing cell stops the run with a
message naming the notebook and the cell.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import papermill as pm
import yaml
from jupyter_client.manager import AsyncKernelManager
from nbconvert import HTMLExporter

from birdkit.config import Config, ConfigError, load_params
from birdkit.util.provenance import git_revision

PATH_KEYS = ("data_dir", "solution_path", "cache_dir", "run_dir", "submission_path")


def resolve_params(params_file, overrides: dict) -> dict:
    params = load_params(params_file)   # its include: resolved
    params.update({k: v for k, v in overrides.items() if v is not None})
    for key in PATH_KEYS:
        if params.get(key):
            params[key] = str(Path(params[key]).resolve())
    if params.get("checkpoint_paths"):
        params["checkpoint_paths"] = [str(Path(p).resolve()) for p in params["checkpoint_paths"]]
    Config.from_dict(params, str(params_file))  # fail now, not in notebook 40, on a bad key or value
    return params


def parse_sets(items) -> dict:
    """``["pseudo_rounds=1", "folds=[0, 1]"]`` -> ``{"pseudo_rounds": 1, "folds": [0, 1]}`` (YAML values)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def prepare_run_dir(runs_dir, name: str, overwrite: bool) -> Path:
    run_dir = Path(runs_dir) / name
    if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise SystemExit(f"run folder {run_dir} exists; choose another --name or pass --overwrite")
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    return run_dir


class IPCKernelManager(AsyncKernelManager):
    """The kernel on local IPC sockets instead of TCP: nothing listens on the network, and the
    kernel's "running over TCP without encryption" warning is not printed for every notebook."""

    transport = "ipc"


def run_notebook(notebook: Path, run_dir: Path, params: dict, kernel: str) -> float:
    out = run_dir / "notebooks" / notebook.name
    started = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), str(out), parameters=params, kernel_name=kernel,
                            cwd=str(run_dir), progress_bar=False, report_mode=False,
                            kernel_manager_class=IPCKernelManager,
                            coalesce_streams=True)  # a text progress bar is stored as its last state
    except pm.PapermillExecutionError as exc:
        raise SystemExit(f"FAILED: {notebook.name}, cell {exc.exec_count or exc.cell_index} "
                         f"(executed copy: {out}):\n  {exc.ename}: {exc.evalue}") from None
    finally:
        if out.is_file():
            html, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
            out.with_suffix(".html").write_text(html)
    return time.perf_counter() - started


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run the notebook suite with papermill.")
    p.add_argument("--params", required=True, help="papermill parameter file (params/*.yaml)")
    p.add_argument("--data-dir", help="competition folder (overrides the params file)")
    p.add_argument("--solution", help="ground truth for the test soundscapes, submission layout")
    p.add_argument("--name", help="run folder name (default: <params>-<timestamp>)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--notebooks", default="notebooks")
    p.add_argument("--only", help="comma-separated notebook prefixes to run, e.g. 01,02")
    p.add_argument("--kernel", default="birdkit", help="Jupyter kernel name (make venv registers birdkit)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter (YAML value), e.g. --set pseudo_rounds=1; repeatable")
    args = p.parse_args(argv)
    logging.getLogger("papermill").setLevel(logging.ERROR)  # "Passed unknown parameter" for each key
    started = time.perf_counter()
    name = args.name or f"{Path(args.params).stem}-{datetime.now():%Y%m%d-%H%M%S}"
    try:
        overrides = {**parse_sets(args.set), "data_dir": args.data_dir, "solution_path": args.solution,
                     "run_dir": str(Path(args.runs_dir) / name)}
        params = resolve_params(args.params, overrides)
    except ConfigError as exc:
        raise SystemExit(f"bad parameters, nothing was run: {exc}") from None
    run_dir = prepare_run_dir(args.runs_dir, name, args.overwrite)
    (run_dir / "params.resolved.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (run_dir / "git_revision.txt").write_text(git_revision() + "\n")
    notebooks = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [n for n in notebooks if n.name[:2] in args.only.split(",")]
    for nb in notebooks:
        print(f"running {nb.name} ...", flush=True)
        print(f"  done in {run_notebook(nb, run_dir, params, args.kernel):.0f} s", flush=True)
    summary(run_dir, time.perf_counter() - started)
    return 0


def summary(run_dir: Path, seconds: float) -> None:
    print(f"\nrun folder: {run_dir.resolve()}")
    score = run_dir / "score.txt"
    if score.is_file():
        print(f"submission score (macro ROC-AUC vs the ground truth): {float(score.read_text()):.4f}")
    print(f"total time: {seconds / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
