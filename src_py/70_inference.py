# %% [markdown]
# # 70 · Inference and submission (seed cell 9)
#
# - Every test soundscape is cut into 5-s windows (a last partial window is padded); each window
#   gets a probability for every label; `submission.csv` has one row per window (`row_id` =
#   `<file stem>_<end second>`) and `sample_submission.csv`'s label columns in its order. An SED
#   model scores chunks of several windows (its training crop, or `infer_chunk_seconds`) in one pass.
# - **A valid submission from the first minute.** Before any model loads, every row of every test
#   file is written with a stated fallback (each class's share of the training recordings); scored
#   rows replace it as files finish, the file rewritten atomically every minute and at the end. A
#   model that fails to load or raises is left out (the others go on); a file that fails to decode
#   or score keeps its fallback rows and is listed in `skips/inference.csv`.
# - **An adaptive budget.** The pace of this run's own files is projected onto Kaggle's hidden test
#   set; above `max_budget_share` of the year's budget, TTA views and then the models with the worst
#   cost per weight are shed (never below one model), each decision printed and kept in
#   `budget.json`. The watchdog stops scoring at `deadline_minutes` (0 = 90% of the budget) and keeps
#   the fallback rows for the rest. `strict_budget: true` refuses an over-budget ensemble instead.
# - **Pretrained-model members** (`foundation_members`: `head`, `zeroshot`, with `foundation_model`
#   birdnet or perch): each file is decoded once and resampled once per model rate; they count in
#   the budget like any member (`ensemble_weights`: one per checkpoint, then one per such member).
#   Zero-shot has no score for unmapped classes: the average leaves it out there. BirdNET V2.4's
#   weights are CC BY-NC-SA 4.0 (non-commercial).
# - The backend is a parameter: `torch`, `onnxruntime` or `openvino` (falls back to torch);
#   `inference_plan` decides it with the device and the worker processes, and prints it. Any set
#   of checkpoints is an ensemble: `ensemble_average` mean of probabilities or of ranks, with
#   `ensemble_weights`. Post-processing per file: `file_max_rescale`, neighbour-window `smoothing`,
#   and an optional per-site or per-hour `prior` (2026 names carry site and hour).
# - The seed's view (`filename, predicted_species, confidence`) is written as
#   `submission_seed_view.csv`. An empty `test_soundscapes/` (the public data) predicts a few train
#   soundscapes as a dry run, and says so. Any year: each file gets the rows of its own length.
# - At the end: a few rows of the seed's view, the confidence per window, and one soundscape's
#   top species per window as a heatmap.

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
max_budget_share = 0.8     # target share of the CPU budget: above it, TTA views then models are shed
strict_budget = False      # True: refuse an ensemble projected above the target instead (local use)
deadline_minutes = 0.0     # the watchdog stops scoring then (minutes since start); 0 = 90% of the budget
ensemble_weights = []      # one weight per checkpoint (then per foundation member); [] = equal
foundation_members = []    # head, zeroshot: BirdNET / Perch members (foundation_model, 25_embeddings)
prior = "off"              # off | site | hour: class prior from labelled soundscapes (2026 names)
prior_weight = 0.0         # how far the prior moves each window's logit (0 = not at all)
solution_path = ""         # ground truth in submission layout: print the competition metric
submission_path = ""       # "" = <run_dir>/submission.csv (Kaggle params: submission.csv)

# %%
import pandas as pd
from IPython.display import display

from birdkit.data.competition import detect_layout
from birdkit.infer.predict import choose_soundscapes, inference_plan, predict_soundscapes, seed_view
from birdkit.infer.priors import adjust_submission
from birdkit.infer.projection import check_budget, plan_budget, project
from birdkit.infer.submission import SubmissionWriter, fallback_submission, label_prior, output_paths
from birdkit.metrics import score_submission
from birdkit.notebook import plots, session
from birdkit.notebook.paths import find_checkpoints, foundation_specs

cfg, comp = session.start(globals(), "inference")
layout = detect_layout(comp)  # the year: test file length (rows of an undecodable file), time budget
sample_submission = pd.read_csv(comp / "sample_submission.csv")
classes = list(sample_submission.columns[1:])
files, dry_run = choose_soundscapes(comp, cfg.dry_run_soundscapes, cfg.max_test_files)
out = output_paths(cfg)   # submission.csv, the seed's view beside it, score.txt
prior_of_class, fallback_note = label_prior(layout.metadata_csv, classes)
writer = SubmissionWriter(out.submission)
writer.write(fallback_submission(files, classes, prior_of_class, cfg.sample_rate, cfg.window_samples,
                                 layout.test_file_seconds))
print(f"wrote {out.submission} before scoring: {len(files)} soundscapes, every row ({fallback_note})")
if dry_run:
    print("test_soundscapes/ is empty (public data): DRY RUN on train soundscapes; "
          "Kaggle fills the folder when it reruns the submitted notebook")

# %% [markdown]
# ## The models and the time budget

# %%
foundation = foundation_specs(cfg, layout, classes)   # BirdNET / Perch members (foundation_members)
paths = find_checkpoints(cfg.checkpoint_paths, cfg.run_dir, cfg.kaggle_input, rounds=cfg.ensemble_rounds,
                         required=not foundation)
plan = inference_plan(cfg, len(files))   # CPU: Kaggle scores the submission on CPUs
print(plan.describe())
ensemble = plan.load(cfg, paths, cfg.run_path / "export", weights=cfg.ensemble_weights, skip_broken=True,
                     foundation=foundation)
print(f"{len(ensemble.members)} of {len(paths) + len(foundation)} member(s) loaded: {len(paths)} checkpoint(s) "
      f"(backend {ensemble.spec['backend']}), {len(foundation)} pretrained-model member(s)")
budget = plan_budget(ensemble, files, cfg, layout, dry_run)
if cfg.strict_budget:  # the earlier behaviour: time two files first, refuse an ensemble over the target
    projection = project(ensemble, files, cfg, layout)
    print(projection.describe())
    check_budget(projection, cfg.max_budget_share)

# %% [markdown]
# ## Score every soundscape

# %%
print(budget.begin())
result = predict_soundscapes(files, ensemble, cfg, sample_submission, file_seconds=layout.test_file_seconds,
                             budget=budget, writer=writer, fallback=prior_of_class)
ensemble.close()  # stop the inference worker processes
print(budget.describe())
budget.write(cfg.run_dir)
session.write_skips(cfg.run_dir, "inference", result.skipped)
if cfg.prior != "off":  # per-site or per-hour class prior learned from the labelled soundscapes
    result.submission, prior_note = adjust_submission(result.submission, layout, cfg.prior, cfg.prior_weight)
    writer.write(result.submission)
    print(prior_note)
seed = seed_view(result.submission)
seed.to_csv(out.seed_view, index=False)
t = result.timings
print(f"wrote {out.submission}: {len(result.submission)} rows x {result.submission.shape[1] - 1} labels; "
      f"{t['files']} files in {t['seconds']:.1f} s ({t['seconds'] / max(t['files'], 1):.2f} s per file, "
      f"{t['workers']} worker process(es), model {t['model_seconds']:.1f} s)")

# %% [markdown]
# ## Sample predictions and confidence

# %%
display(seed.head(10))
fig = plots.histogram(result.submission.iloc[:, 1:].max(axis=1), "Top probability per 5-s window", "confidence",
                      bins=30)
plots.save(fig, cfg.run_dir, "confidence")

# %% [markdown]
# ## One soundscape: top species per window
# The models' probabilities of the first soundscape scored (before the optional `prior`).

# %%
fig = plots.window_heatmap(result.per_file, classes, cfg.window_seconds)
plots.save(fig, cfg.run_dir, "soundscape_heatmap")

# %%
if cfg.solution_path and not dry_run:
    partial = bool(cfg.max_test_files)
    score = score_submission(result.submission, pd.read_csv(cfg.solution_path), submitted_files_only=partial)
    out.score.write_text(f"{score:.6f}\n")
    print(f"competition metric (macro ROC-AUC) against {cfg.solution_path}: {score:.4f}"
          + (f" (on the {len(files)} files predicted: max_test_files)" if partial else ""))
