"""The experiments tool's pure parts: recipes over the demo parameters, and the seed summary."""
import math

import pandas as pd

from birdkit_tools.experiments import RECIPES, demo_params, recipe_config, summarise


def test_recipe_overrides_demo_params_and_extra_overrides_recipe(tmp_path):
    cfg = recipe_config(demo_params(), "sed", 3, tmp_path / "comp", tmp_path / "run", tmp_path / "cache",
                        {"train_seconds": 15.0})
    assert cfg.head == "sed" and cfg.data_source == "waves"          # from the recipe
    assert cfg.train_seconds == 15.0 and cfg.seed == 3                # extra, then the seed
    assert cfg.n_mels == demo_params()["n_mels"]                      # shared from params/demo.yaml
    seed = recipe_config(demo_params(), "seed", 0, tmp_path, tmp_path / "r", tmp_path / "c", {})
    assert (seed.data_source, seed.mixup_domain, seed.mixup_labels) == ("images", "image", "blend")
    assert set(RECIPES) >= {"seed", "wave", "sed", "sed_bg"}


def test_summary_is_mean_and_sd_over_seeds_per_design_recipe_round():
    rows = pd.DataFrame({"design": ["field"] * 4, "recipe": ["wave"] * 3 + ["seed"], "round": ["0"] * 4,
                         "seed": [0, 1, 2, 0], "val_soundscape_auc": [0.7, 0.8, 0.9, 0.5],
                         "test_auc": [0.6, 0.7, 0.8, 0.4], "train_s": [10.0, 20.0, 30.0, 5.0]})
    out = summarise(rows).set_index("recipe")
    assert out.loc["wave", "seeds"] == 3 and math.isclose(out.loc["wave", "test_auc_mean"], 0.7)
    assert math.isclose(out.loc["wave", "test_auc_std"], 0.1) and math.isclose(out.loc["wave", "train_s_mean"], 20.0)
    assert out.loc["seed", "seeds"] == 1 and math.isnan(out.loc["seed", "test_auc_std"])
