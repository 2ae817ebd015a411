# %% [markdown]
# # 6 · Inference and submission (seed cell 9)
#
# Every test soundscape is cut into 5-s windows (a last partial window is padded; a file of any
# length gets one row per window); each window gets a probability for every label;
# `submission.csv` has one row per window (`row_id` = `<file stem>_<end second>`) and exactly
# `sample_submission.csv`'s label columns in its order. A classifier scores window by window; an
# SED model scores chunks of several windows (its training crop, or `infer_chunk_seconds`) in one
# pass. The backend is a parameter: `torch` eager, `onnxruntime` or `openvino` (exported from the
# model; the log-mel runs in torch unless `frontend_in_graph`, once per chunk for all models
# that share mel settings). Any set of checkpoints (folds x rounds x architectures) is an
# ensemble: `ensemble_average` mean of probabilities or of ranks. Post-processing per file:
# `file_max_rescale` and neighbour-window `smoothing`. Before scoring, the notebook projects the
# time of Kaggle's hidden test set for this ensemble and refuses one above `max_budget_share` of
# the budget. The seed's view (`filename, predicted_species, confidence`) is written too, as
# `submission_seed_view.csv`. When `test_soundscapes/` is empty (the public Kaggle data) a few
# train soundscapes are predicted as a dry run, and the notebook says so.
#
# Any year (2024, 2025, 2026): each file gets one row per 5-s window of its own length (48 for
# 2024's 4-min files; an undecodable file gets its header's length, else the year's); the year's
# time budget is set against the measured pace. `prior` adds an optional per-site or per-hour
# class prior learned from labelled soundscapes (2026 file names carry site and hour).

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
checkpoint_paths = []      # [] = this run's models (checkpoints/ensemble.json), else found under kaggle_input
backend = "openvino"       # torch | onnxruntime | openvino (falls back to torch if missing)
ensemble_average = "mean"  # mean | rank
ensemble_rounds = "last"   # last | all: the last self-training round's models, or every round's
tta_views = 1
smoothing = 0.0            # weight of each neighbouring window; 0 = off
file_max_rescale = 0.0     # p * max over the file ** a, per class; 0 = off
max_budget_share = 0.8     # refuse an ensemble projected above this share of the CPU budget
prior = "off"              # off | site | hour: class prior from labelled soundscapes (2026 names)
prior_weight = 0.0         # how far the prior moves each window's logit (0 = not at all)
solution_path = ""         # ground truth in submission layout: print the competition metric
submission_path = ""       # "" = <run_dir>/submission.csv (Kaggle params: submission.csv)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from birdkit.competition import detect_layout
from birdkit.infer import choose_soundscapes, load_ensemble, predict_soundscapes, seed_view
from birdkit.metrics import score_submission
from birdkit.notebook import plots, session
from birdkit.notebook.paths import find_checkpoints
from birdkit.priors import adjust_submission
from birdkit.projection import check_budget, project

cfg, comp = session.start(globals(), "inference")
layout = detect_layout(comp)  # the year: test file length (rows of an undecodable file), time budget
paths = find_checkpoints(cfg.checkpoint_paths, cfg.run_dir, cfg.kaggle_input, rounds=cfg.ensemble_rounds)
ensemble = load_ensemble(paths, cfg.backend, cfg.run_path / "export", cfg.threads, cfg.frontend_in_graph,
                         chunk_seconds=cfg.infer_chunk_seconds)
sample_submission = pd.read_csv(comp / "sample_submission.csv")
files, dry_run = choose_soundscapes(comp, cfg.dry_run_soundscapes, cfg.max_test_files)
print(f"{len(paths)} checkpoint(s), backend {ensemble.members[0].backend.name}, {len(files)} soundscapes")
if dry_run:
    print("test_soundscapes/ is empty (public data): DRY RUN on train soundscapes; "
          "Kaggle fills the folder when it reruns the submitted notebook")

# %% [markdown]
# ## Projected time on Kaggle's hidden test set

# %%
projection = project(ensemble, files, cfg, layout)
print(projection.describe())
check_budget(projection, cfg.max_budget_share)

# %% [markdown]
# ## Score every soundscape

# %%
result = predict_soundscapes(files, ensemble, cfg, sample_submission, file_seconds=layout.test_file_seconds)
ensemble.close()  # stop the inference worker processes
if cfg.prior != "off":  # per-site or per-hour class prior learned from the labelled soundscapes
    result.submission, prior_note = adjust_submission(result.submission, layout, cfg.prior, cfg.prior_weight)
    print(prior_note)
session.write_skips(cfg.run_dir, "inference", result.skipped)
out = Path(cfg.submission_path) if cfg.submission_path else cfg.run_path / "submission.csv"
result.submission.to_csv(out, index=False)
seed = seed_view(result.submission)
seed.to_csv(out.with_name("submission_seed_view.csv"), index=False)
t = result.timings
print(f"wrote {out}: {len(result.submission)} rows x {result.submission.shape[1] - 1} labels; "
      f"{t['files']} files in {t['seconds']:.1f} s ({t['seconds'] / max(t['files'], 1):.2f} s per file, "
      f"{t['workers']} worker process(es), model {t['model_seconds']:.1f} s)")

# %% [markdown]
# ## Sample predictions and confidence

# %%
display(seed.head(10))
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.hist(result.submission.iloc[:, 1:].max(axis=1), bins=30, color="#3b528b")
ax.set(title="Top probability per 5-s window", xlabel="confidence", ylabel="windows")
plots.save(fig, cfg.run_dir, "confidence")

# %%
if cfg.solution_path and not dry_run:
    partial = bool(cfg.max_test_files)
    score = score_submission(result.submission, pd.read_csv(cfg.solution_path), submitted_files_only=partial)
    (cfg.run_path / "score.txt").write_text(f"{score:.6f}\n")
    print(f"competition metric (macro ROC-AUC) against {cfg.solution_path}: {score:.4f}"
          + (f" (on the {len(files)} files predicted: max_test_files)" if partial else ""))
