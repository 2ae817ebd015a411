"""Finding the competition data, checkpoints, wheels and the code under Kaggle's input mounts.

Kaggle mounts what a kernel attaches under ``/kaggle/input`` and has moved those mounts (2026):

    /kaggle/input/<slug>/                        the old layout, still seen
    /kaggle/input/competitions/<slug>/           competition_sources
    /kaggle/input/datasets/<owner>/<slug>/       dataset_sources (the code and wheels datasets)
    /kaggle/input/notebooks/<owner>/<slug>/      kernel_sources (the training and embeddings kernels' output)

so nothing here hard-codes one: each search looks a few folders deep for what it needs, and when
several candidates match it prints the one it takes and the others (``choose``).
"""
from __future__ import annotations

from pathlib import Path

from ..util.mounts import search

MOUNT_DEPTH = 3  # datasets/<owner>/<slug>: the deepest source root of the layouts above


def is_competition_dir(path: Path) -> bool:
    """Any year's layout (2024, 2025, 2026): ``birdkit.data.competition`` decides."""
    from ..data.competition import is_competition_dir as any_year

    return any_year(path)


def choose(candidates: list, what: str, hint: str = ""):
    """The first candidate; when there are several, say which was taken and list the others."""
    if len(candidates) > 1:
        others = "".join(f"\n    {c}" for c in candidates[1:])
        print(f"{what}: using {candidates[0]}; also found:{others}" + (f"\n  {hint}" if hint else ""))
    return candidates[0]


def _competition_rank(path: Path, competition: str):
    """The configured competition's slug first, then any BirdCLEF folder, then the shallowest."""
    named = bool(competition) and competition in path.parts
    return (not named, "birdclef" not in str(path).lower(), len(path.parts), str(path))


def find_file(root, name: str, max_depth: int = MOUNT_DEPTH + 2) -> Path | None:
    """The file called ``name`` under ``root`` (shallowest first; the choice is printed when several
    match), or None."""
    found = search(root, name, max_depth)
    return choose(found, name) if found else None


def find_competition_dir(data_dir: str, kaggle_input: str, competition: str = "") -> Path:
    """``data_dir`` when given (checked), else the folder under ``kaggle_input`` holding the data."""
    if data_dir:
        path = Path(data_dir)
        if not is_competition_dir(path):
            from ..data.competition import missing_parts
            raise FileNotFoundError(f"data_dir {path} is not a competition folder: it lacks "
                                    f"{', '.join(missing_parts(path))}")
        return path
    root = Path(kaggle_input)   # any year: sample_submission.csv beside a metadata table
    hits = {p.parent for p in search(root, "sample_submission.csv", MOUNT_DEPTH + 1) if is_competition_dir(p.parent)}
    if not hits:
        raise FileNotFoundError(f"no competition folder found under {root}; set the data_dir parameter "
                                "(the folder with sample_submission.csv, train.csv, train_audio/ ...)")
    ranked = sorted(hits, key=lambda p: _competition_rank(p, competition))
    return choose(ranked, "competition data", "set data_dir to choose another")


def find_checkpoints(paths, run_dir, kaggle_input, names=None, rounds="last", required=True) -> list[Path]:
    """Explicit ``paths``; else the models the run's training listed (``checkpoints/ensemble.json``,
    the ``rounds`` of self-training: last or all) or its best checkpoint; else the same found under
    ``kaggle_input`` (a training kernel's output: ``<mount>/checkpoints/...``, at most two folders
    below a source root). ``names``: the best checkpoint's file names, tried in order (default
    ``best.pth``, then the ``best_model_improved.pth`` of runs made before the rename).
    ``required`` False (an ensemble of pretrained-model members alone): none found is ``[]``."""
    from ..ensemble_list import BEST_NAMES, ENSEMBLE_LIST, read_ensemble_list
    names = tuple(names or BEST_NAMES)
    if paths:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"checkpoint_paths not found: {missing}")
        return [Path(p) for p in paths]
    own = Path(run_dir) / "checkpoints"
    if read_ensemble_list(own, rounds):
        return read_ensemble_list(own, rounds)
    for name in names:
        if (own / name).is_file():
            return [own / name]
    root = Path(kaggle_input)
    listed = find_file(root, ENSEMBLE_LIST)
    if listed:
        return read_ensemble_list(listed.parent, rounds)
    for name in names:
        found = search(root, name, MOUNT_DEPTH + 3)
        if found:
            return [choose(found, f"checkpoint {name}", "set checkpoint_paths to choose another, or to list several")]
    if not required:
        print(f"no checkpoint in {own} or under {root}: the ensemble is the pretrained-model members alone")
        return []
    also = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise FileNotFoundError(f"no {ENSEMBLE_LIST} or {names[0]}{also} in {own} or under {root}; train first or set "
                            "checkpoint_paths")


def find_wheel_dirs(kaggle_input) -> list[Path]:
    """Folders holding ``*.whl`` files under ``kaggle_input`` (e.g. ``<wheels mount>/cp312/``), shallowest first."""
    return list(dict.fromkeys(p.parent for p in search(kaggle_input, "*.whl", MOUNT_DEPTH + 1)))


def foundation_specs(cfg, layout, classes) -> list:
    """The specs of ``cfg.foundation_members`` (``birdkit.foundation.member``) for this competition's
    classes; the head is found in the run's checkpoints or under ``kaggle_input``."""
    if not cfg.foundation_members:
        return []
    from ..data.tables import read_competition_taxonomy
    from ..foundation.member import member_specs

    taxonomy, _ = read_competition_taxonomy(layout.taxonomy_csv, classes)
    return member_specs(cfg, taxonomy, classes, head_roots=(cfg.kaggle_input,))


EMBEDDING_SUMMARY = "summary_train.json"   # birdkit.foundation.embed.write_summary: the training records are whole


def find_embeddings(cfg) -> Path:
    """The teacher's embedding cache for distillation: ``embedding_dir`` when set; else the run's own
    (``<run>/embeddings/<model>``, written by 25_embeddings) when it holds the training records; else
    the one found under ``kaggle_input`` (the embeddings kernel's output, attached as a kernel
    source: ``<mount>/embeddings/<model>/``); else the run's own path, whose missing records
    ``TeacherBank.check`` names."""
    own = cfg.embedding_path
    if cfg.embedding_dir or (own / EMBEDDING_SUMMARY).is_file() or (own / "train").is_dir():
        return own
    found = search(cfg.kaggle_input, f"embeddings/{cfg.foundation_model}/{EMBEDDING_SUMMARY}", MOUNT_DEPTH + 2)
    if not found:
        return own
    return choose([p.parent for p in found], "teacher embeddings", "set embedding_dir to choose another")
