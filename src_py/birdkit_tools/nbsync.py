"""``src_py/*.py`` (percent format) is the source; ``notebooks/*.ipynb`` are its jupytext twins.

``python -m birdkit_tools.nbsync sync`` regenerates the notebooks (kernelspec, no outputs);
``python -m birdkit_tools.nbsync check`` fails when a pair differs, a notebook has no twin, or a
notebook carries outputs, execution counts or papermill metadata.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
NOTEBOOK_GLOB = "[0-9][0-9]_*.py"


def render(py_path: Path) -> str:
    """The committed ``.ipynb`` text for one source file."""
    nb = jupytext.read(py_path, fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids keep diffs of the twins quiet
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return jupytext.writes(nb, fmt="ipynb")


def pairs(root: Path):
    return [(py, root / "notebooks" / (py.stem + ".ipynb")) for py in sorted((root / "src_py").glob(NOTEBOOK_GLOB))]


def sync(root: Path) -> list[Path]:
    (root / "notebooks").mkdir(exist_ok=True)
    written = []
    for py, ipynb in pairs(root):
        text = render(py)
        if not ipynb.is_file() or ipynb.read_text() != text:
            ipynb.write_text(text)
            written.append(ipynb)
    return written


def leaked_state(ipynb: Path) -> list[str]:
    """Outputs, execution counts or papermill traces in a notebook file."""
    nb = nbformat.read(ipynb, as_version=4)
    problems = []
    if "papermill" in nb.metadata:
        problems.append("papermill metadata in the notebook")
    for i, cell in enumerate(nb.cells):
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count")
        if "papermill" in cell.metadata or "injected-parameters" in cell.metadata.get("tags", []):
            problems.append(f"cell {i} has papermill metadata")
    return problems


def check(root: Path) -> list[str]:
    errors = []
    expected = set()
    for py, ipynb in pairs(root):
        expected.add(ipynb.name)
        if not ipynb.is_file():
            errors.append(f"{ipynb}: missing twin of {py} (run make sync)")
            continue
        errors += [f"{ipynb}: {p}" for p in leaked_state(ipynb)]
        if ipynb.read_text() != render(py):
            errors.append(f"{ipynb} and {py} differ (edit src_py/ and run make sync)")
    for ipynb in sorted((root / "notebooks").glob("*.ipynb")):
        if ipynb.name not in expected:
            errors.append(f"{ipynb}: no source in src_py/")
    return errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sync", "check"])
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.command == "sync":
        written = sync(root)
        print(f"synced {len(pairs(root))} notebooks ({len(written)} rewritten)")
        return 0
    errors = check(root)
    for e in errors:
        print(f"check: {e}", file=sys.stderr)
    print(f"check: {len(pairs(root))} notebook pairs, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
