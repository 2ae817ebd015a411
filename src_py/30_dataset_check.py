# %% [markdown]
# # 30 · Dataset check (seed cell 5)
#
# What the model sees, asserted (shapes, dtypes, ranges, no NaN) before any GPU time is spent:
# - training batches: waveform crops of `train_seconds` (the waveform cache, or decoded on the
#   fly, only the frames the crop needs)
# - the model's own log-mel image of them: 32 kHz, log-mel (torchaudio), with `band_norm` each
#   band's mean over the example's frames subtracted, the `top_db` dB below the peak kept, scaled
#   to [0, 1], repeated to `in_chans` channels
# - labels index into the class list of `sample_submission.csv` (classes absent from the
#   metadata table included)
# - the seed notebook's path (cached dB spectrograms -> images in the dataset) gives the same image
#   as the model's front end for the same window

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
n_examples = 3

# %%
import torch

from birdkit.data.audio import read_segment
from birdkit.data.datasets import ClipDataset, ImageDataset, cached_rows, place
from birdkit.data.tables import label_map
from birdkit.models import build_model
from birdkit.notebook import plots, session
from birdkit.notebook.training import usable_rows

cfg, comp = session.start(globals(), "dataset_check")
tables = session.load_tables(comp, cfg.run_dir)
index = label_map(tables.classes)
print(f"class map: {len(index)} classes from sample_submission.csv, "
      f"{tables.train.primary_label.nunique()} present in the metadata table")

# %% [markdown]
# ## Training crops (random, as in training) and the model's image of them

# %%
rows = usable_rows(cfg, tables, cfg.run_dir)
sample = rows.sample(min(n_examples, len(rows)), random_state=cfg.seed)
clips = ClipDataset(sample, cfg, tables.classes, train=True, source="audio" if cfg.data_source == "audio" else "waves")
model = build_model(cfg, tables.classes).eval()
class_of = tables.taxonomy.set_index("primary_label")["class_name"]
images, titles = [], []
for i in range(len(clips)):
    wave, target, primary = clips[i]
    assert wave.shape == (cfg.train_samples,) and wave.dtype == torch.float32 and torch.isfinite(wave).all()
    assert target[primary] == 1.0 and tables.classes[primary] == sample.iloc[i].primary_label
    with torch.no_grad():
        image = model.image(wave[None])[0]
    assert image.shape == (cfg.in_chans, cfg.n_mels, cfg.mel.frames(cfg.train_samples)), image.shape
    assert torch.isfinite(image).all() and 0.0 <= image.min() and image.max() <= 1.0
    with torch.no_grad():
        images.append(model.frontend(wave[None])[0].numpy())
    label = tables.classes[primary]
    titles.append(f"{label} ({class_of.get(label, '?')}), class {primary}")
print(f"{len(clips)} crops of {cfg.train_seconds:g} s -> images {tuple(image.shape)}, float32, in [0, 1], no NaN")
fig = plots.spectrogram_grid(images, titles, cfg.sample_rate, cfg.hop_length, cfg.fmax)
plots.save(fig, cfg.run_dir, "dataset_examples")

# %% [markdown]
# ## The seed's image path: one front end
# The dataset's image of a cached window must be the model's image of the same window.

# %%
cached, missing = cached_rows(tables.train, cfg, "images")
print(f"{len(cached)} recordings with a cached spectrogram, {len(missing)} without")
if len(cached):
    seed_images = ImageDataset(cached.head(8), cfg, tables.classes, train=False, source="images")
    batch = torch.stack([seed_images[i][0] for i in range(len(seed_images))])
    assert batch.shape[1:] == (cfg.in_chans, cfg.n_mels, cfg.n_frames) and torch.isfinite(batch).all()
    with torch.no_grad():
        waves = torch.stack([torch.from_numpy(place(read_segment(p, cfg.sample_rate), cfg.window_samples, False))
                             for p in cached.head(8).path])
        gap = (model.image(waves) - batch).abs()
    # the cache of a multi-window segment lets the window's last frames see the next window's audio
    inner = float(gap[..., :-3].max()) if cfg.crop_policy != "first" else float(gap.max())
    print(f"cache batch {tuple(batch.shape)}, min {batch.min():.3f}, max {batch.max():.3f}; largest difference "
          f"to the model's own image of the same windows: {inner:.4f} (float16 cache)")
    assert inner < 0.02, inner
