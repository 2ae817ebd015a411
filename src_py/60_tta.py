# %% [markdown]
# # 60 · Test-time augmentation (seed cell 8)
#
# - What TTA changes in the competition metric, measured on validation data, for each view count
#   in `tta_compare_views` (`birdkit.notebook.evaluate`: `clip_tta_table`, `labelled_tta_table`,
#   `soundscape_tta_table`).
# - Training clips: the first window, then the seed's random crops. Soundscapes: time-shifted
#   copies of every 5-s window (`tta_shift_seconds` apart). Views are aggregated per model with
#   `tta_aggregation` (`mean` of probabilities by default; `birdkit.infer.tta.aggregate`).
# - Scored with the inference notebook's plan (`inference_plan`: backend, device, workers), so the
#   seconds in the tables are the submission's.
# - Choose `tta_views` on the labelled soundscapes; the demo's test set is a report, not for tuning.

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
tta_compare_views = [1, 3, 5]  # the view counts this notebook compares
tta_shift_seconds = 1.0
tta_aggregation = "mean"   # mean | max | gmean
solution_path = ""         # ground truth of test soundscapes (demo); "" = skip that table

# %%
from IPython.display import display

from birdkit.data.folds import read_split, validation_rows
from birdkit.infer.predict import inference_plan
from birdkit.notebook import session
from birdkit.notebook.evaluate import clip_tta_table, first_model, labelled_tta_table, soundscape_tta_table
from birdkit.notebook.paths import find_checkpoints

cfg, comp = session.start(globals(), "tta")
tables = session.load_tables(comp, cfg.run_dir)
paths = find_checkpoints(cfg.checkpoint_paths, cfg.run_dir, cfg.kaggle_input, rounds=cfg.ensemble_rounds)
plan = inference_plan(cfg)
ensemble = plan.load(cfg, paths, cfg.run_path / "export")
first = first_model(ensemble)   # clips: only a model that never saw them
val = validation_rows(tables.train, read_split(cfg.run_path / "split.csv"))
print(f"{plan.describe()}\n{len(paths)} model(s); clips validated with {paths[0]} on {len(val)} recordings of "
      f"fold {cfg.train_folds[0]}")

# %% [markdown]
# ## Validation clips: first window vs. random crops

# %%
clip_table, skipped = clip_tta_table(first, val, cfg)
session.write_skips(cfg.run_dir, "tta_clips", skipped)
display(clip_table)

# %% [markdown]
# ## Labelled soundscape windows (validation): shifted windows
# The data's own labelled soundscapes (a labels file): the place to choose the number of views.

# %%
if tables.labelled is not None:
    display(labelled_tta_table(ensemble, tables, cfg))
else:
    print("no labelled soundscapes in this competition folder: table skipped")

# %% [markdown]
# ## Soundscapes with ground truth: shifted windows (the demo's test set; report, do not tune on it)

# %%
if cfg.solution_path:
    display(soundscape_tta_table(ensemble, comp, cfg))
else:
    print("no solution_path: soundscape TTA table skipped")
ensemble.close()  # stop the inference worker processes
