# %% [markdown]
# # 4 · Training (seed cells 6-7)
#
# A timm model by name behind the log-mel front end, trained with AdamW and a warm-up +
# cosine schedule, Mixup, SpecAugment (training batches only), a class-balanced sampler,
# multi-label BCE targets that include secondary labels (or the seed's softmax CE), label
# smoothing. Every epoch reports train/validation loss, top-1 accuracy and the competition
# metric (macro ROC-AUC over classes with a positive in validation). The best checkpoint by
# that metric is `checkpoints/best_model_improved.pth`; `checkpoints/last.pth` lets an
# interrupted run resume. Mixed precision and `channels_last` switch on when a GPU is present.

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
model_name = "efficientnet_b0"
pretrained = False
epochs = 10
batch_size = 32
lr = 1e-4
mixup_alpha = 0.2
specaugment = True
sampler_power = 0.5     # 0 = natural frequencies, 1 = fully balanced
loss = "bce"            # bce | ce
label_smoothing = 0.1
secondary_weight = 0.5
data_source = "images"  # images (the seed's dB cache) | audio (decode crops on the fly)
n_folds = 5             # fold 0 is the 20 % validation split
seed = 42
resume = True

# %%
from birdkit.data import cached_rows, readable_rows
from birdkit.notebook import plots, session
from birdkit.split import split_table
from birdkit.train import Trainer

cfg, comp = session.start(globals(), "train")
tables = session.load_tables(comp, cfg.run_dir)
train = tables.train
if cfg.data_source == "images":
    train, missing = cached_rows(train, cfg)
    session.write_skips(cfg.run_dir, "train_uncached", missing)
else:
    train, unreadable = readable_rows(train)
    session.write_skips(cfg.run_dir, "train_unreadable", unreadable)

# %% [markdown]
# ## Split: stratified folds; species with one or two recordings always train

# %%
train_df, val_df, rare = split_table(train, cfg.n_folds, cfg.seed)
split = session.pd.concat([train_df.assign(split="train"), val_df.assign(split="val")])
split[["filename", "primary_label", "fold", "split"]].to_csv(cfg.run_path / "split.csv", index=False)
print(f"train {len(train_df)} / validation {len(val_df)} recordings; "
      f"{len(rare)} species kept out of validation (1-2 recordings): {rare}")

# %% [markdown]
# ## Train

# %%
trainer = Trainer(cfg, train_df, val_df, tables.classes)
if trainer.maybe_resume():
    print(f"resumed from {cfg.checkpoint_dir / 'last.pth'} at epoch {trainer.start_epoch + 1}")
print(f"{cfg.model_name}: {sum(p.numel() for p in trainer.model.parameters()) / 1e6:.2f} M parameters, "
      f"{len(trainer.train_dl)} batches per epoch on {trainer.device}")
history = trainer.fit()
history.to_csv(cfg.run_path / "history.csv", index=False)

# %% [markdown]
# ## Curves and the best epoch

# %%
fig = plots.history_curves(history)
plots.save(fig, cfg.run_dir, "training_curves")
best = history.loc[history["val_auc"].idxmax()] if history["val_auc"].notna().any() else history.iloc[-1]
print(f"best epoch {int(best.epoch)}: val macro ROC-AUC {best.val_auc:.4f}, top-1 {best.val_accuracy:.3f}")
print(f"checkpoints: {sorted(p.name for p in cfg.checkpoint_dir.glob('*.pth'))}")
