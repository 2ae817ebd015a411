# %% [markdown]
# # 3 · Dataset check (seed cell 5)
#
# The dataset class turns a recording into what the model sees: decode, resample to 32 kHz,
# random-crop or pad to the 5-s window, log-mel (torchaudio), normalise, repeat to 3
# channels: `[3, 128, 313]` for the seed's settings. Labels index into a species map built
# from the taxonomy (all its classes, also those absent from train.csv). This notebook draws a
# few examples and asserts shapes, dtype, value ranges and the absence of NaN, from audio and
# from the spectrogram cache, before any GPU time is spent.

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
n_examples = 3

# %%
import torch

from birdkit.audio import load_audio
from birdkit.data import BirdClefDataset, cached_rows
from birdkit.notebook import plots, session
from birdkit.tables import label_map

cfg, comp = session.start(globals(), "dataset_check")
tables = session.load_tables(comp, cfg.run_dir)
index = label_map(tables.classes)
print(f"species map: {len(index)} classes from the taxonomy, "
      f"{tables.train.primary_label.nunique()} present in train.csv")

# %% [markdown]
# ## From audio (random crops, as in training)

# %%
sample = tables.train.sample(min(n_examples, len(tables.train)), random_state=cfg.seed)
audio_ds = BirdClefDataset(sample, cfg, tables.classes, train=True, source="audio")
class_of = tables.taxonomy.set_index("primary_label")["class_name"]
images, titles = [], []
for i in range(len(audio_ds)):
    image, target, primary = audio_ds[i]
    assert image.shape == (cfg.in_chans, cfg.n_mels, cfg.n_frames), image.shape
    assert image.dtype == torch.float32 and torch.isfinite(image).all()
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert target[primary] == 1.0 and tables.classes[primary] == sample.iloc[i].primary_label
    db = audio_ds.frontend(torch.from_numpy(load_audio(sample.iloc[i].path, cfg.sample_rate))[None])[0]
    images.append(db[:, : cfg.n_frames].numpy())
    label = tables.classes[primary]
    titles.append(f"{label} ({class_of.get(label, '?')}), class {primary}")
print(f"{len(audio_ds)} examples from audio: shape {tuple(image.shape)}, float32, in [0, 1], no NaN")
fig = plots.spectrogram_grid(images, titles, cfg.sample_rate, cfg.hop_length, cfg.fmax)
plots.save(fig, cfg.run_dir, "dataset_examples")

# %% [markdown]
# ## From the spectrogram cache (what training reads by default)

# %%
cached, missing = cached_rows(tables.train, cfg)
print(f"{len(cached)} recordings cached, {len(missing)} without a cache file")
if len(cached):
    cache_ds = BirdClefDataset(cached.head(32), cfg, tables.classes, train=False, source="images")
    batch = torch.stack([cache_ds[i][0] for i in range(len(cache_ds))])
    assert batch.shape[1:] == (cfg.in_chans, cfg.n_mels, cfg.n_frames) and torch.isfinite(batch).all()
    print(f"cache batch {tuple(batch.shape)}, min {batch.min():.3f}, max {batch.max():.3f}")
