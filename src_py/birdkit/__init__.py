"""birdkit: the package behind the BirdCLEF 2025 notebook suite."""
__version__ = "0.1.0"
