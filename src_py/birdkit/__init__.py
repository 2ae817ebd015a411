"""birdkit: the package behind the BirdCLEF notebook suite."""
import warnings

__version__ = "0.2.0"

# timm imports huggingface_hub, which imports tqdm.auto: without ipywidgets that prints a red
# "IProgress not found" warning in every notebook; birdkit's own bars are plain text there anyway.
warnings.filterwarnings("ignore", message="IProgress not found")
