# %% [markdown]
# # 5 · Test-time augmentation (seed cell 8)
#
# `predict_with_tta` averages the model's probabilities over several views. For training
# clips the views are the seed's random crops; for soundscapes they are time-shifted copies of
# every 5-s window. The aggregation is a parameter (`mean` of probabilities by default). This
# notebook measures on the validation split what TTA changes in the competition metric.

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
tta_compare_views = [1, 3, 5]  # the view counts this notebook compares
tta_shift_seconds = 1.0
tta_aggregation = "mean"   # mean | max | gmean
solution_path = ""         # ground truth of test soundscapes (demo); "" = skip that table

# %%
from IPython.display import display

from birdkit.infer.predict import load_ensemble
from birdkit.notebook import session
from birdkit.notebook.evaluate import clip_tta_table, labelled_tta_table, soundscape_tta_table
from birdkit.notebook.paths import find_checkpoints

cfg, comp = session.start(globals(), "tta")
tables = session.load_tables(comp, cfg.run_dir)
paths = find_checkpoints(cfg.checkpoint_paths, cfg.run_dir, cfg.kaggle_input, rounds=cfg.ensemble_rounds)
first = load_ensemble(paths[:1], "torch", cfg.run_path / "export")   # clips: only a model that never saw them
ensemble = load_ensemble(paths, "torch", cfg.run_path / "export")
split = session.pd.read_csv(cfg.run_path / "split.csv", dtype={"primary_label": str})
val = tables.train[tables.train.filename.isin(split.query("split == 'val'").filename)]
print(f"{len(paths)} model(s); clips validated with {paths[0]} on {len(val)} recordings of fold {cfg.train_folds[0]}")

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
