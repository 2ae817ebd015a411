"""Kaggle's four input mount layouts: the data, the code, the wheels and the training output are found.

Each test builds a fake ``/kaggle/input`` in one layout (the old ``<slug>/``, ``competitions/<slug>/``,
``datasets/<owner>/<slug>/``, ``notebooks/<owner>/<slug>/``) holding all four sources, and runs the
same search the notebooks and the staged cells run. Fast: no notebook, no network.
"""
import sys
from pathlib import Path

import pytest

from birdkit.notebook.paths import find_checkpoints, find_competition_dir, find_wheel_dirs
from birdkit_tools.kaggle.cells import bootstrap_cell

LAYOUTS = {
    "legacy": lambda slug: Path(slug),
    "competitions": lambda slug: Path("competitions") / slug,
    "datasets": lambda slug: Path("datasets") / "someone" / slug,
    "notebooks": lambda slug: Path("notebooks") / "someone" / slug,
}
CHECKPOINT = "best.pth"


def make_competition(folder: Path) -> Path:
    (folder / "train_audio" / "abc").mkdir(parents=True)
    (folder / "test_soundscapes").mkdir()
    (folder / "taxonomy.csv").write_text("primary_label,inat_taxon_id,scientific_name,common_name,class_name\n")
    (folder / "train.csv").write_text("primary_label,secondary_labels,type,filename\n")
    (folder / "sample_submission.csv").write_text("row_id,abc\n")
    return folder


def make_code(folder: Path) -> Path:
    (folder / "birdkit").mkdir(parents=True)
    (folder / "birdkit" / "__init__.py").write_text('__version__ = "fake"\n')
    return folder


def make_wheels(folder: Path, tags=("cp311", "cp312", "cp313")) -> Path:
    for tag in tags:
        (folder / tag).mkdir(parents=True)
        (folder / tag / f"openvino-2026.4.1-1-{tag}-{tag}-manylinux_2_28_x86_64.whl").write_bytes(b"")
    return folder


def make_training_output(folder: Path) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / CHECKPOINT).write_bytes(b"weights")
    (folder / "history.csv").write_text("epoch\n")
    return folder / "checkpoints" / CHECKPOINT


def kaggle_tree(root: Path, layout: str) -> dict:
    """All four sources mounted in ``layout`` under ``root``; returns where each one is."""
    at = LAYOUTS[layout]
    return {"data": make_competition(root / at("birdclef-2025")), "code": make_code(root / at("birdkit-code")),
            "wheels": make_wheels(root / at("birdkit-wheels")),
            "checkpoint": make_training_output(root / at("birdkit-train"))}


@pytest.fixture
def clean_sys_path(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))


def run_bootstrap(kaggle_input: Path, capsys) -> str:
    exec(bootstrap_cell("someone/birdkit-code"), {"kaggle_input": str(kaggle_input)})
    return capsys.readouterr().out


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_finds_data_code_wheels_and_training_output(layout, tmp_path, capsys, clean_sys_path):
    root = tmp_path / "input"
    where = kaggle_tree(root, layout)
    assert find_competition_dir("", str(root)) == where["data"]
    assert find_checkpoints([], tmp_path / "no-run", str(root)) == [where["checkpoint"]]
    assert find_wheel_dirs(root) == [where["wheels"] / t for t in ("cp311", "cp312", "cp313")]
    printed = run_bootstrap(root, capsys)
    assert sys.path[0] == str(where["code"]) and f"birdkit from {where['code']}" in printed
    assert "also found" not in printed and "using" not in capsys.readouterr().out


def test_kaggle_2026_mixed_layout(tmp_path, capsys, clean_sys_path):
    """What a 2026 kernel sees: competition, datasets and the training kernel's output in their own folders."""
    root = tmp_path / "input"
    data = make_competition(root / "competitions" / "birdclef-2025")
    code = make_code(root / "datasets" / "someone" / "birdkit-code")
    wheels = make_wheels(root / "datasets" / "someone" / "birdkit-wheels", ("cp312",))
    checkpoint = make_training_output(root / "notebooks" / "someone" / "birdkit-train")
    assert find_competition_dir("", str(root), "birdclef-2025") == data
    assert find_checkpoints([], tmp_path / "no-run", str(root)) == [checkpoint]
    assert find_wheel_dirs(root) == [wheels / "cp312"]
    assert f"birdkit from {code}" in run_bootstrap(root, capsys)


def test_two_candidates_the_choice_is_printed_with_the_other(tmp_path, capsys, clean_sys_path):
    root = tmp_path / "input"
    new = make_competition(root / "competitions" / "birdclef-2025")
    old = make_competition(root / "birdclef-2024")
    assert find_competition_dir("", str(root), "birdclef-2025") == new
    printed = capsys.readouterr().out
    assert f"competition data: using {new}; also found:\n    {old}" in printed and "data_dir" in printed
    first = make_training_output(root / "birdkit-train")
    second = make_training_output(root / "notebooks" / "someone" / "birdkit-train")
    assert find_checkpoints([], tmp_path / "no-run", str(root)) == [first]  # the shallower one
    printed = capsys.readouterr().out
    assert f"using {first}; also found:\n    {second}" in printed and "checkpoint_paths" in printed


def test_bootstrap_prefers_the_code_dataset_and_names_the_others(tmp_path, capsys, clean_sys_path):
    root = tmp_path / "input"
    decoy = make_code(root / "someones-fork")  # shallower, but not the code dataset's slug
    code = make_code(root / "datasets" / "someone" / "birdkit-code")
    printed = run_bootstrap(root, capsys)
    assert sys.path[0] == str(code)
    assert f"birdkit from {code}\n  also found (not used): {decoy}" in printed


def test_nothing_attached_is_said(tmp_path, capsys, clean_sys_path):
    root = tmp_path / "input"
    root.mkdir()
    before = list(sys.path)
    assert "no birdkit code dataset under /kaggle/input: attach someone/birdkit-code" in run_bootstrap(root, capsys)
    assert sys.path == before
    with pytest.raises(FileNotFoundError, match="no competition folder found under"):
        find_competition_dir("", str(root))
    with pytest.raises(FileNotFoundError, match=rf"no ensemble.json or {CHECKPOINT} \(or best_model_improved.pth\) in"):
        find_checkpoints([], tmp_path / "no-run", str(root))
    assert find_wheel_dirs(root) == [] and find_wheel_dirs(tmp_path / "missing") == []


def test_a_2024_folder_is_found_under_the_mounts(tmp_path):
    """2024 has no taxonomy.csv: the search goes by sample_submission.csv and the year's files."""
    comp = tmp_path / "input" / "competitions" / "birdclef-2024"
    comp.mkdir(parents=True)
    (comp / "sample_submission.csv").write_text("row_id,asbfly\n")
    (comp / "train_metadata.csv").write_text("primary_label,secondary_labels,filename\n")
    (comp / "eBird_Taxonomy_v2021.csv").write_text("TAXON_ORDER,CATEGORY,SPECIES_CODE,PRIMARY_COM_NAME,SCI_NAME\n")
    assert find_competition_dir("", str(tmp_path / "input")) == comp
    (comp / "train_metadata.csv").unlink()
    with pytest.raises(FileNotFoundError, match="lacks train.csv or train_metadata.csv"):
        find_competition_dir(str(comp), str(tmp_path / "input"))


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_teacher_embeddings_of_an_embeddings_kernel_are_found(layout, tmp_path, capsys):
    """A training kernel that distils reads the embeddings kernel's output (``<mount>/embeddings/<model>``);
    the run's own cache, or embedding_dir, comes first; with none, the run's own path (its check names it)."""
    from birdkit.config import Config
    from birdkit.notebook.paths import find_embeddings
    inputs = tmp_path / "input"
    mount = inputs / LAYOUTS[layout]("birdkit-embeddings") / "embeddings" / "birdnet"
    (mount / "train").mkdir(parents=True)
    (mount / "summary_train.json").write_text("{}")
    (inputs / LAYOUTS[layout]("birdkit-train") / "embeddings" / "perch").mkdir(parents=True)   # another model's
    cfg = Config(run_dir=str(tmp_path / "run"), kaggle_input=str(inputs), foundation_model="birdnet",
                 distill_weight=1.0)
    assert find_embeddings(cfg) == mount
    own = tmp_path / "run" / "embeddings" / "birdnet"
    (own / "train").mkdir(parents=True)
    assert find_embeddings(cfg) == own                       # this run's 25_embeddings wrote it
    chosen = Config(**{**cfg.__dict__, "embedding_dir": str(tmp_path / "mine")})
    assert find_embeddings(chosen) == tmp_path / "mine"      # as set, even before it exists
    nothing = Config(**{**cfg.__dict__, "run_dir": str(tmp_path / "other"), "kaggle_input": str(tmp_path / "none")})
    assert find_embeddings(nothing) == tmp_path / "other" / "embeddings" / "birdnet"


def test_a_training_notebook_that_distils_takes_the_kernels_teacher(tmp_path, capsys):
    import yaml

    from birdkit.notebook import session
    inputs = tmp_path / "input"
    comp = make_competition(inputs / LAYOUTS["competitions"]("birdclef-2025"))
    mount = inputs / LAYOUTS["notebooks"]("birdkit-embeddings") / "embeddings" / "birdnet"
    (mount / "train").mkdir(parents=True)
    (mount / "summary_train.json").write_text("{}")
    params = {"data_dir": str(comp), "run_dir": str(tmp_path / "run"), "kaggle_input": str(inputs),
              "foundation_model": "birdnet", "data_source": "audio"}
    cfg, _ = session.start({**params, "distill_weight": 1.0}, "train")
    assert cfg.embedding_path == mount and f"[train] teacher embeddings: {mount}" in capsys.readouterr().out
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["config"]["embedding_dir"] == str(mount)
    cfg, _ = session.start(params, "train")                 # no distillation: nothing looked up
    assert cfg.embedding_dir == "" and "teacher" not in capsys.readouterr().out
