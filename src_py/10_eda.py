# %% [markdown]
# # 1 · Exploring the BirdCLEF 2025 data
#
# What the competition folder holds: recordings per species (a long tail), classes and
# collections, durations, secondary labels, ratings and locations. Every plot is also saved as
# PNG under `<run_dir>/plots/`. Parameters come from `params/*.yaml` (papermill) or the cell
# below when run by hand; on Kaggle the data folder is found under `/kaggle/input`.

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
taxonomy, classes, train = tables.taxonomy, tables.classes, tables.train
print(f"{len(train)} usable recordings of {train.primary_label.nunique()} species; taxonomy has {len(classes)} classes")

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
for column in ("class_name", "collection"):
    fig = plots.bar_counts(merged[column].value_counts(), f"recordings by {column}")
    plots.save(fig, cfg.run_dir, f"by_{column}")
rare = eda.rare_species(counts, classes, cfg.rare_threshold)
print(f"{len(rare)} species with fewer than {cfg.rare_threshold} recordings (0 = in taxonomy, not in train.csv): "
      + ", ".join(f"{label} ({n})" for label, n in rare.items()))

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
