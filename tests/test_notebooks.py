"""The paired notebooks: sync check, and every notebook run headless on the smoke parameters."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from birdkit_tools import nbsync


def _copy_pairs(root, tmp_path):
    for sub in ("src_py", "notebooks"):
        (tmp_path / sub).mkdir()
        for f in (root / sub).glob("[0-9][0-9]_*"):
            shutil.copy(f, tmp_path / sub / f.name)
    return tmp_path


def test_committed_pairs_are_in_sync(root):
    assert nbsync.check(root) == []


def test_check_fails_after_editing_one_side(root, tmp_path):
    repo = _copy_pairs(root, tmp_path)
    py = repo / "src_py" / "40_train.py"
    py.write_text(py.read_text().replace("epochs = 10", "epochs = 11"))
    assert any("40_train.ipynb and" in e for e in nbsync.check(repo))
    nbsync.sync(repo)
    assert nbsync.check(repo) == []
    nb_path = repo / "notebooks" / "10_eda.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = ["run_dir = 'elsewhere'\n"]
    nb_path.write_text(json.dumps(nb))
    assert any("10_eda.ipynb and" in e for e in nbsync.check(repo))


def test_check_fails_on_executed_notebook(root, tmp_path):
    repo = _copy_pairs(root, tmp_path)
    nb_path = repo / "notebooks" / "10_eda.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.metadata["papermill"] = {"parameters": {}}
    nbformat.write(nb, nb_path)
    errors = nbsync.check(repo)
    assert any("has outputs" in e for e in errors) and any("papermill metadata" in e for e in errors)


@pytest.fixture(scope="module")
def smoke_run(root, tmp_path_factory, demo_competition):
    base = tmp_path_factory.mktemp("smoke")
    demo = demo_competition
    cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
           "--data-dir", str(demo["competition_dir"]), "--solution", str(demo["solution_path"]),
           "--runs-dir", str(base / "runs"), "--name", "smoke", "--notebooks", str(root / "notebooks")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base / "runs" / "smoke", demo, proc.stdout


@pytest.mark.slow
def test_smoke_run_writes_everything(smoke_run):
    run, demo, stdout = smoke_run
    names = sorted(p.name for p in (run / "notebooks").iterdir())
    assert len([n for n in names if n.endswith(".ipynb")]) == 8 and len([n for n in names if n.endswith(".html")]) == 8
    for f in ("params.resolved.yaml", "git_revision.txt", "config.yaml", "split.csv", "history.csv",
              "submission.csv", "submission_seed_view.csv", "checkpoints/fold0/best.pth",
              "checkpoints/fold0/last.pth", "checkpoints/ensemble.json", "checkpoints/round1/pseudo_labels.npz",
              "checkpoints/round1/fold0/best.pth", "checkpoints/round1/done.json",
              "spectrograms/waves", "plots/training_curves_fold0.png", "plots/top30_species.png",
              "plots/pseudo_confidence_round1.png", "plots/soundscape_heatmap.png"):
        assert (run / f).exists(), f
    assert "run folder:" in stdout and "submission score" in stdout
    html = (run / "notebooks" / "40_train.html").read_text()
    assert "IProgress" not in html and "TqdmWarning" not in html    # progress bars are plain text lines
    assert "running over TCP" not in stdout


@pytest.mark.slow
def test_smoke_submission_format(smoke_run):
    run, demo, _ = smoke_run
    sub = pd.read_csv(run / "submission.csv")
    sample = pd.read_csv(Path(demo["competition_dir"]) / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns)
    assert sub["row_id"].str.rsplit("_", n=1).str[0].value_counts().eq(12).all()
    values = sub.iloc[:, 1:].to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    seed = pd.read_csv(run / "submission_seed_view.csv")
    assert list(seed.columns) == ["filename", "predicted_species", "confidence"]


@pytest.mark.slow
def test_rerun_into_existing_folder_is_refused(root, smoke_run):
    run, demo, _ = smoke_run
    proc = subprocess.run([sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
                           "--data-dir", str(demo["competition_dir"]), "--runs-dir", str(run.parent),
                           "--name", run.name], capture_output=True, text=True, cwd=root)
    assert proc.returncode != 0 and "exists" in proc.stderr


@pytest.mark.slow
def test_failing_cell_names_notebook_and_cell(root, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
                           "--data-dir", str(tmp_path / "nowhere"), "--runs-dir", str(tmp_path), "--name", "bad",
                           "--only", "10", "--notebooks", str(root / "notebooks")],
                          capture_output=True, text=True, cwd=root, timeout=300)
    assert proc.returncode != 0
    assert "FAILED: 10_eda.ipynb, cell" in proc.stderr and "is not a competition folder" in proc.stderr
    assert (tmp_path / "bad" / "notebooks" / "10_eda.html").is_file()


def _cell_text(notebook) -> str:
    nb = nbformat.read(notebook, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.slow
def test_inference_over_budget_sheds_and_still_writes_a_valid_submission(root, smoke_run):
    """The ensemble cannot fit a 0.2-min budget: the notebook sheds, writes every row and exits 0;
    with strict_budget it refuses as before."""
    run, demo, _ = smoke_run
    checkpoints = [run / "checkpoints/fold0/best.pth",
                   run / "checkpoints/round1/fold0/best.pth"]

    def infer(name, *sets):
        cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
               "--data-dir", str(demo["competition_dir"]), "--runs-dir", str(run.parent), "--name", name,
               "--only", "70", "--notebooks", str(root / "notebooks"), "--set", "time_budget_minutes=0.2",
               "--set", f"checkpoint_paths=[{', '.join(map(str, checkpoints))}]"]
        for s in sets:
            cmd += ["--set", s]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=600)

    sample = pd.read_csv(Path(demo["competition_dir"]) / "sample_submission.csv")
    solution = pd.read_csv(demo["solution_path"])
    for name, sets in (("shed", ["tta_views=3", "deadline_minutes=30"]), ("watchdog", [])):
        proc = infer(name, *sets)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        sub = pd.read_csv(run.parent / name / "submission.csv")
        assert list(sub.columns) == list(sample.columns) and sorted(sub.row_id) == sorted(solution.row_id)
        assert np.isfinite(sub.iloc[:, 1:].to_numpy(dtype=float)).all()
        text = _cell_text(run.parent / name / "notebooks" / "70_inference.ipynb")
        assert "before scoring: 2 soundscapes, every row" in text
        assert "[budget] target 0.16 min of the 0.2-min budget" in text
        decisions = [d["step"] for d in json.loads((run.parent / name / "budget.json").read_text())["decisions"]]
        if name == "shed":
            assert decisions[:2] == ["tta_views", "members"] and "3 -> 1 view(s)" in text
            assert "left: 1 TTA view(s), 1 of 2 model(s)" in text
        else:
            assert "the watchdog stops scoring at minute 0.2" in text
    proc = infer("strict", "strict_budget=true")
    assert proc.returncode != 0 and "max_budget_share" in proc.stderr
    assert (run.parent / "strict" / "submission.csv").is_file(), "the fallback is written before the refusal"


@pytest.mark.slow
def test_killed_inference_notebook_leaves_the_fallback_submission(root, smoke_run):
    """SIGKILL to the runner and its kernel once the notebook wrote its first submission: the file
    left is complete (every row, every label column, finite)."""
    run, demo, _ = smoke_run
    out = run.parent / "killed" / "submission.csv"
    cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
           "--data-dir", str(demo["competition_dir"]), "--runs-dir", str(run.parent), "--name", "killed",
           "--only", "70", "--notebooks", str(root / "notebooks"),
           "--set", f"checkpoint_paths=[{run / 'checkpoints/fold0/best.pth'}]"]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not out.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()[-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    sub = pd.read_csv(out)
    solution = pd.read_csv(demo["solution_path"])
    sample = pd.read_csv(Path(demo["competition_dir"]) / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sorted(sub.row_id) == sorted(solution.row_id)
    assert np.isfinite(sub.iloc[:, 1:].to_numpy(dtype=float)).all()
