"""The notebooks with BirdNET in the loop, headless on the smoke parameters: the embedding stage,
a distilled student, the foundation members in the self-training teacher and in the submission
ensemble; and params/foundation.yaml's settings."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from birdkit.config import Config, load_params

SETS = ["foundation_model=birdnet", "foundation_members=[head,zeroshot]", "distill_weight=0.5",
        "distill_kd_weight=0.1", "ensemble_average=rank", "ensemble_weights=[1,1,1]"]


@pytest.fixture(scope="module")
def foundation_run(root, tmp_path_factory, make_demo):
    demo = make_demo(2025, "field", scale=0.3, n_test=2, n_train_soundscapes=2, n_labelled=2)
    base = tmp_path_factory.mktemp("foundation")
    cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(root / "params/smoke.yaml"),
           "--data-dir", str(demo["competition_dir"]), "--solution", str(demo["solution_path"]),
           "--runs-dir", str(base / "runs"), "--name", "fnd", "--notebooks", str(root / "notebooks")]
    for s in SETS:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base / "runs" / "fnd", demo


@pytest.mark.slow
def test_embedding_stage_head_distilled_student_and_mixed_submission(foundation_run):
    run, demo = foundation_run
    summary = json.loads((run / "embeddings" / "birdnet" / "summary_train.json").read_text())
    assert summary["embedded"] + summary["skipped"] == summary["records"] > 0 and summary["windows_per_second"] > 0
    class_map = pd.read_csv(run / "foundation_class_map.csv")
    assert set(class_map["how"]) <= {"ebird", "scientific", "genus", "unmapped"} and len(class_map) > 0
    assert (run / "checkpoints" / "birdnet_head.npz").is_file()
    history = pd.read_csv(run / "history.csv")
    assert "train_distill_loss" in history and (history["train_distill_loss"] > 0).all()
    embed_nb = (run / "notebooks" / "25_embeddings.ipynb").read_text()
    assert "foundation head:" in embed_nb and "windows/s" in embed_nb
    selftrain = (run / "notebooks" / "50_self_training.ipynb").read_text()
    assert "+ birdnet head + birdnet zeroshot" in selftrain
    infer = (run / "notebooks" / "70_inference.ipynb").read_text()
    assert "2 pretrained-model member(s)" in infer and "CC BY-NC-SA" in infer
    sub = pd.read_csv(run / "submission.csv")
    sample = pd.read_csv(f"{demo['competition_dir']}/sample_submission.csv")
    assert list(sub.columns) == list(sample.columns)
    values = sub.iloc[:, 1:].to_numpy()
    assert ((values >= 0) & (values <= 1)).all() and (run / "score.txt").is_file()


def test_foundation_params_are_the_demo_plus_the_foundation_settings(root):
    values = load_params(root / "params" / "foundation.yaml")
    cfg = Config.from_dict(values)
    demo = Config.from_dict(load_params(root / "params" / "demo.yaml"))
    assert cfg.foundation_model == "birdnet" and set(cfg.foundation_members) == {"head", "zeroshot"}
    assert cfg.distill_weight > 0 and cfg.model_name == demo.model_name and cfg.epochs == demo.epochs


def test_foundation_settings_without_a_model_are_refused():
    from birdkit.config import ConfigError

    with pytest.raises(ConfigError, match="foundation_model"):
        Config(foundation_members=("head",))
    with pytest.raises(ConfigError, match="distill_weight"):
        Config(distill_weight=1.0)


@pytest.mark.slow
def test_kaggle_chain_embeddings_kernel_then_distilling_train_kernel_then_infer_with_its_head(foundation_run,
                                                                                              tmp_path, root):
    """The staged kernels as Kaggle chains them: the embeddings kernel's output (this run's cache and
    head) attached to the train kernel, which distils from it, then both to the inference kernel, which
    scores with the head it finds there. Offline; only the mount root, working folder and model size
    are set here."""
    import logging
    import shutil

    import nbformat
    import papermill as pm
    import yaml

    from birdkit_tools.kaggle.stage import stage
    from test_kaggle_layout import check_submission, kaggle_input

    run, demo = foundation_run
    inputs = kaggle_input(tmp_path, demo)
    mount = inputs / "notebooks" / "someone" / "birdkit-embeddings"          # the embeddings kernel's output
    shutil.copytree(run / "embeddings", mount / "embeddings")
    (mount / "checkpoints").mkdir()
    shutil.copy(run / "checkpoints" / "birdnet_head.npz", mount / "checkpoints")
    params = tmp_path / "kaggle-foundation.yaml"
    params.write_text(yaml.safe_dump({"include": str(root / "params" / "smoke.yaml"), "foundation_model": "birdnet",
                                      "foundation_members": ["head"], "distill_weight": 0.5, "backend": "torch"}))
    manifest = stage(root, tmp_path / "staging", str(params), env={"KAGGLE_OWNER": "someone", "HOME": str(tmp_path)})
    kernels = {k["key"]: k for k in manifest["kernels"]}
    assert "someone/birdkit-embeddings" in kernels["train"]["kernel_sources"]
    assert "someone/birdkit-embeddings" in kernels["infer"]["kernel_sources"]
    logging.getLogger("papermill").setLevel(logging.ERROR)

    def run_kernel(key: str, **parameters) -> str:
        working = tmp_path / f"working-{key}"
        working.mkdir()
        executed = tmp_path / f"{key}.ipynb"
        pm.execute_notebook(str(next(Path(kernels[key]["folder"]).glob("*.ipynb"))), str(executed),
                            kernel_name="birdkit", cwd=str(working), progress_bar=False,
                            parameters={"kaggle_input": str(inputs), "run_dir": str(working), **parameters})
        return "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                       for o in c.get("outputs", []))

    printed = run_kernel("train")
    assert f"teacher embeddings: {mount / 'embeddings' / 'birdnet'}" in printed
    history = pd.read_csv(tmp_path / "working-train" / "history.csv")
    assert (history["train_distill_loss"] > 0).all()
    trained = inputs / "notebooks" / "someone" / "birdkit-train"
    shutil.rmtree(trained)
    shutil.copytree(tmp_path / "working-train", trained)                      # the train kernel's output
    printed = run_kernel("infer", submission_path=str(tmp_path / "working-infer" / "submission.csv"))
    assert "2 of 2 member(s) loaded: 1 checkpoint(s) (backend torch), 1 pretrained-model member(s)" in printed
    assert f"[foundation] head member: {mount / 'checkpoints' / 'birdnet_head.npz'}" in printed
    check_submission(tmp_path / "working-infer" / "submission.csv", inputs / "competitions" / "birdclef-2025")
