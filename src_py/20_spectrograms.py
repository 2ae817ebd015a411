# %% [markdown]
# # 20 · Spectrogram generation (seed cell 4)
#
# For every row of the metadata table:
# - decode (soundfile), downmix, resample to 32 kHz, choose the segment (`crop_policy`: the seed
#   notebook's `first` 5 s, the first `max_windows` windows, or the `loudest` window)
# - log-mel (torchaudio, 128 bands, 20-16,000 Hz) -> `<cache>/<primary_label>/<stem>.png` (the seed
#   notebook's 0-255 image, OpenCV; to look at) and a lossless `<stem>.npy` (float16 dB:
#   `data_source: images`)
# - with `write_waves`, `<cache>/waves/<primary_label>/<stem>.npy`: the segment's float16 waveform
#   at 32 kHz, at least one training crop long, which training reads (`data_source: waves`;
#   64 KB per second of audio)
# - on all cores; resumable (atomic writes, finished files skipped, damaged ones rewritten);
#   every failing file listed with its error in `<cache>/failures.csv` instead of stopping

# %% tags=["parameters"]
data_dir = ""
run_dir = "runs/interactive"
cache_dir = ""          # "" = <run_dir>/spectrograms
crop_policy = "windows" # first | windows | loudest
max_windows = 6
write_png = True
write_waves = True      # the waveform cache training reads (data_source: waves)
workers = 0             # 0 = all cores
max_files = 0           # 0 = every row of train.csv

# %%
import cv2
import numpy as np

from birdkit.data.cache import generate_spectrograms, output_paths, wave_path
from birdkit.notebook import session

cfg, comp = session.start(globals(), "spectrograms")
tables = session.load_tables(comp, cfg.run_dir)
todo = tables.train.head(cfg.max_files) if cfg.max_files else tables.train
print(f"{len(todo)} recordings to process into {cfg.cache_path} (crop policy {cfg.crop_policy!r})")

# %%
summary = generate_spectrograms(todo, cfg)
print(f"written {summary['written']}, already done {summary['already_done']}, failed {summary['failed']} "
      f"{summary['failed_by_reason']}, species folders {summary['species_folders']}, {summary['seconds']} s")
print(f"damaged outputs found and rewritten (counted in written): {summary['damaged_rewritten']}"
      + "".join(f"\n    {f}" for f in summary["damaged_files"]))
print(f"failure report: {cfg.cache_path / 'failures.csv'}")

# %% [markdown]
# ## Accounting and a look at the output
# Every row of `train.csv` is either skipped by the table check (listed in
# `skips/train_table.csv`), already done, written now, or failed (listed in `failures.csv`).

# %%
accounted = summary["already_done"] + summary["written"] + summary["failed"]
assert accounted == len(todo), (accounted, len(todo))
print(f"train.csv rows {tables.rows_in_csv}: table-skipped {tables.rows_in_csv - len(tables.train)}, "
      f"processed {accounted}, not requested (max_files) {len(tables.train) - len(todo)}")
first = todo.iloc[0]
npy_path, png_path = output_paths(cfg.cache_path, first.primary_label, first.filename)
if png_path.is_file():
    image = cv2.imread(str(png_path), cv2.IMREAD_UNCHANGED)
    print(f"{png_path.name}: {image.shape} {image.dtype}")
waves = wave_path(cfg.cache_path, first.primary_label, first.filename)
if waves.is_file():
    cached = np.load(waves, mmap_mode="r")
    print(f"{waves.name} (waveform cache): {cached.shape[0] / cfg.sample_rate:.1f} s, {cached.dtype}; "
          f"training crop {cfg.train_seconds:g} s")
folder_mb = sum(f.stat().st_size for f in (cfg.cache_path / "waves").rglob("*.npy")) / 1e6 if cfg.write_waves else 0
print(f"waveform cache: {folder_mb:.1f} MB")

# %% [markdown]
# ## Speed
# Files per second of this run (fresh files only) and what the whole real `train_audio`
# (28,564 files) would take at that rate. Measured on the 2-core development machine
# (2 workers, PNG + dB cache, crop policy `windows`, before the waveform cache): 69 files/s on
# the demo's 3-15 s clips,
# i.e. about 7 min for 28,564 such files. Real recordings are longer (decode time grows with
# length; the cache stops at `max_windows`), so expect a few times fewer files per second,
# offset by the 4 cores of a Kaggle machine: well within one Kaggle session.

# %%
if summary["files_per_second"]:
    rate = summary["files_per_second"]
    print(f"{rate:.1f} files/s here -> 28,564 files in about {28564 / rate / 60:.0f} min")
