"""Helpers the notebooks call (shipped with the core)."""
