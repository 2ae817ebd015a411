"""Augmentations as ordered lists of named steps: waveform steps per crop (``waveform``), batch
steps per batch (``batch``), the name tables and the lists a config names (``registry``), and the
draws every step makes (``draws``)."""
