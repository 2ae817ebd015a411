"""Small utilities every layer may use: notices, progress bars, the accelerator check, atomic
writes, provenance, units."""
