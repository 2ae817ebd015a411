"""The data's journey from files to training examples: audio, competition layouts, tables,
labels, folds, the cache, datasets, soundscape banks, windows."""
