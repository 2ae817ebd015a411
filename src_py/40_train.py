# %% [markdown]
# # 40 · Training (seed cells 6-7)
#
# - waveform crops through the model, which computes its own log-mel (on the GPU when there is
#   one): training, validation, TTA and submission share one front end
# - the crop (`train_seconds`) may be longer than the scored 5-s window; the `sed` head reads one
#   score per 5-s window off its frames, the `classifier` head scores a window at a time
# - augmentation: Mixup of waveforms (labels: union `max`, or the seed notebook's `blend`;
#   `mixup_domain: image` is its image Mixup), SpecAugment on the model's image, random gain, a
#   `train_soundscapes` chunk as background, class-balanced sampling; BCE (label smoothing per
#   output) or CE; the seed notebook's image path: `data_source: images`
# - validation: held-out recordings (first crop, secondary labels in the targets) and, where the
#   data has labelled soundscape windows, those windows through the inference path: the score
#   that predicts the leaderboard and picks the best epoch
# - `val_fold: -1` trains on everything (last epoch kept); `folds: [0, 1, 2]` trains three fold
#   models, listed in `checkpoints/ensemble.json` for the inference notebook
# - mixed precision and `channels_last` with a GPU; `ddp_processes`: several GPUs (DDP)
# - distillation (`distill_weight`, `distill_kd_weight`; docs/foundation.md): a cosine loss to a
#   pretrained model's cached embedding of the same crop, from 25_embeddings in this run folder or,
#   on Kaggle, the embeddings kernel's output (found under `kaggle_input`; `embedding_dir` overrides)

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
model_name = "efficientnet_b0"
pretrained = False
head = "classifier"          # classifier | sed
train_seconds = 5.0          # training crop; the scored window stays 5 s
data_source = "waves"        # waves (cache) | audio (decode crops on the fly) | images (the seed's)
epochs = 10
batch_size = 32
lr = 1e-4
loss = "bce"                 # bce | ce
label_smoothing = 0.1
mixup_alpha = 0.2
mixup_domain = "wave"        # wave | image (the seed's)
mixup_labels = "max"         # max (union) | blend (the seed's)
background_prob = 0.0        # add a train-soundscape chunk to this share of crops
reverb_prob = 0.0            # reverberate this share of crops (a call heard from afar)
band_norm = False            # front end: subtract each mel band's mean (the demo's field soundscapes need it)
sampler_power = 0.5          # 0 = natural frequencies, 1 = fully balanced
val_fold = 0                 # -1 = train on everything
folds = []                   # several folds in one run, e.g. [0, 1, 2]
seed = 42
resume = True

# %%
from birdkit.data.folds import write_split
from birdkit.ensemble_list import write_ensemble_list
from birdkit.notebook import plots, session
from birdkit.notebook.training import background_bank, soundscape_sets, training_inputs
from birdkit.train.loop import best_epoch
from birdkit.train.run import train_fold

cfg, comp = session.start(globals(), "train")
tables = session.load_tables(comp, cfg.run_dir)
inputs = training_inputs(cfg, tables, cfg.run_dir)
background = background_bank(cfg, inputs)
print(f"{len(inputs.train)} recordings readable as {cfg.data_source!r}; {len(inputs.unlabelled)} unlabelled "
      f"soundscapes (background: {'on' if background else 'off'}); labelled soundscape windows: "
      f"{0 if inputs.labelled is None else len(inputs.labelled[0])}; folds to train: {list(cfg.train_folds)}")

# %% [markdown]
# ## Train each fold
# Stratified folds of the recordings; species with one or two recordings always train. Each
# fold resumes from its own `last.pth`.

# %%
split = write_split(cfg, inputs.train, cfg.run_path / "split.csv")
print(f"{(split.fold >= 0).sum()} recordings in {cfg.n_folds} folds; {(split.fold < 0).sum()} of species with "
      "1-2 recordings always train")
results = []
for fold in cfg.train_folds:
    soundscape_val, soundscape_train = soundscape_sets(cfg, inputs, fold)
    result = train_fold(cfg, tables.classes, inputs.train, fold, background=background,
                        soundscape_val=soundscape_val, soundscape_train=soundscape_train)
    results.append(result)
    print(f"fold {fold}: {result.counts} -> {result.best}")
ensemble_list = write_ensemble_list(cfg.checkpoint_dir, results)
print(f"{len(results)} model(s) listed in {ensemble_list}")

# %% [markdown]
# ## Curves and the best epoch of each fold

# %%
for result in results:
    history = result.history
    fig = plots.history_curves(history)
    plots.save(fig, cfg.run_dir, f"training_curves_fold{result.fold}")
    best = best_epoch(history)   # the epoch whose checkpoint training kept, chosen as the Trainer chose it
    scores = ", ".join(f"{k} {best[k]:.4f}" for k in ("val_soundscape_auc", "val_auc") if k in history)
    print(f"fold {result.fold}: best epoch {int(best.epoch)}: {scores} -> {result.best.name}" if scores else
          f"fold {result.fold}: no validation (val_fold -1); last epoch kept")
history = session.pd.concat([r.history.assign(fold=r.fold) for r in results], ignore_index=True)
history.to_csv(cfg.run_path / "history.csv", index=False)
