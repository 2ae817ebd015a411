# %% [markdown]
# # 10 · Exploring the BirdCLEF data (2024, 2025 or 2026)
#
# - the year's layout the folder holds, recordings per species (a long tail), classes and
#   collections, classes without training audio
# - durations (from file headers), secondary labels, ratings, locations
# - where the folder has them: the labelled soundscapes, and the site and hour in 2026 file names
# - every plot also saved as PNG under `<run_dir>/plots/`
# - parameters from `params/*.yaml` (papermill) or the cell below; on Kaggle the data folder is
#   found under `/kaggle/input`

# %% tags=["parameters"]
data_dir = ""                # "" = search kaggle_input for the competition folder
run_dir = "runs/interactive"
rare_threshold = 10          # list species with fewer recordings than this

# %% [markdown]
# ## Setup (seed cells 1-2)
# The shared package `birdkit` is installed in the venv locally; on Kaggle it comes from the
# attached code dataset. `session.start` builds the typed config from the parameters above.

# %%
from IPython.display import display

from birdkit.notebook import eda, plots, session

cfg, comp = session.start(globals(), "eda")
tables = session.load_tables(comp, cfg.run_dir)
eda.require_recordings(tables, cfg.run_dir)  # no usable recording: stop here, naming the folder and reasons
taxonomy, classes, train = tables.taxonomy, tables.classes, tables.train
print(f"{len(train)} usable recordings of {train.primary_label.nunique()} species; "
      f"the submission has {len(classes)} classes")

# %% [markdown]
# ## Recordings per species (seed cell 3)

# %%
counts = train["primary_label"].value_counts()
fig = plots.top_species(counts, 30)
plots.save(fig, cfg.run_dir, "top30_species")
print("The 5 rarest species:")
display(eda.rarest(counts, taxonomy, 5))

# %% [markdown]
# ## Classes, collections and species with few recordings

# %%
merged = eda.with_taxonomy(train, taxonomy)
for column in [c for c in ("class_name", "collection") if c in merged]:  # 2024 has no collection
    fig = plots.bar_counts(merged[column].value_counts(), f"recordings by {column}")
    plots.save(fig, cfg.run_dir, f"by_{column}")
rare = eda.rare_species(counts, classes, cfg.rare_threshold)
print(f"{len(rare)} species with fewer than {cfg.rare_threshold} recordings (0 = a class with no recording): "
      + ", ".join(f"{label} ({n})" for label, n in rare.items()))
untrained = tables.untrained_classes
print(f"{len(untrained)} of {len(classes)} classes have no training recording (they keep their column and "
      f"model output): {untrained}")

# %% [markdown]
# ## Durations (from file headers, no decoding), secondary labels, ratings, locations

# %%
durations, unreadable = eda.durations(train)
session.write_skips(cfg.run_dir, "eda_headers", unreadable)
fig = plots.histogram(durations["seconds"], "Recording length (file headers)", "seconds", log=True)
plots.save(fig, cfg.run_dir, "durations")
display(durations["seconds"].describe().to_frame().T)

# %%
share = train["secondary"].map(len).gt(0).mean()
print(f"{share:.1%} of recordings name at least one secondary species")
fig = plots.bar_counts(train["rating"].value_counts().sort_index(), "rating (0 = unrated)")
plots.save(fig, cfg.run_dir, "ratings")
fig = plots.locations(merged)
plots.save(fig, cfg.run_dir, "locations")

# %% [markdown]
# ## Labelled soundscapes (`train_soundscapes_labels.csv`: 2026, or any folder that has one)
# Windows per class, and the classes that occur only there (no training recording).

# %%
labelled = tables.labelled
if labelled is None:
    print("no train_soundscapes_labels.csv in this folder")
else:
    print(labelled.summary())
    per_class = eda.labelled_per_class(labelled, taxonomy)
    fig = plots.bar_counts(per_class.set_index("primary_label")["windows"], "labelled windows per class", "windows")
    plots.save(fig, cfg.run_dir, "labelled_windows_per_class")
    only = eda.only_in_soundscapes(tables)
    print(f"{len(only)} classes occur only in labelled soundscapes (no training recording): {only}")
    if labelled.unknown:
        print(f"labels that are not submission classes (counted, not targets): {labelled.unknown}")

# %% [markdown]
# ## Site and hour from file names (2026: `BC2026_Train_<id>_S<site>_<YYYYMMDD>_<HHMMSS>`)
# Other names carry no metadata, and these tables stay empty.

# %%
files = eda.soundscape_files(tables.layout)
for key in ("site", "hour"):
    per_file = eda.counts_by(files, key)
    per_window = eda.counts_by(labelled.windows, key) if labelled is not None else per_file.iloc[:0]
    if per_file.empty and per_window.empty:
        print(f"no soundscape name carries a {key}")
        continue
    print(f"soundscape files per {key}: {per_file.to_dict()}")
    if not per_window.empty:
        fig = plots.bar_counts(per_window, f"labelled windows per {key}", "windows")
        plots.save(fig, cfg.run_dir, f"labelled_windows_per_{key}")
