"""Augmentations: waveform steps (per example) and batch steps (per batch)."""
