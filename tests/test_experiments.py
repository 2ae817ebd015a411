"""The experiments tool's pure parts: recipes over the demo parameters, the summary over seeds, and
the recipes' old names read from measured rows."""
import math
import re

import pandas as pd

from birdkit_tools.experiments import RECIPES, demo_params, main, read_results, recipe_config, recipe_name, summarise
from conftest import ROOT


def test_recipe_overrides_demo_params_and_extra_overrides_recipe(tmp_path):
    cfg = recipe_config(demo_params(), "sed", 3, tmp_path / "comp", tmp_path / "run", tmp_path / "cache",
                        {"train_seconds": 15.0})
    assert cfg.head == "sed" and cfg.data_source == "waves"          # from the recipe
    assert cfg.train_seconds == 15.0 and cfg.seed == 3                # extra, then the seed
    assert cfg.n_mels == demo_params()["n_mels"]                      # shared from params/demo.yaml
    classic = recipe_config(demo_params(), "classic", 0, tmp_path, tmp_path / "r", tmp_path / "c", {})
    assert (classic.data_source, classic.mixup_domain, classic.mixup_labels) == ("images", "image", "blend")
    assert set(RECIPES) >= {"classic", "classic_bn", "wave", "sed", "sed_bg"} and "seed" not in RECIPES


def test_summary_is_mean_and_sd_over_seeds_per_design_recipe_round():
    rows = pd.DataFrame({"design": ["field"] * 4, "recipe": ["wave"] * 3 + ["classic"], "round": ["0"] * 4,
                         "seed": [0, 1, 2, 0], "val_soundscape_auc": [0.7, 0.8, 0.9, 0.5],
                         "test_auc": [0.6, 0.7, 0.8, 0.4], "train_s": [10.0, 20.0, 30.0, 5.0]})
    out = summarise(rows).set_index("recipe")
    assert out.loc["wave", "seeds"] == 3 and math.isclose(out.loc["wave", "test_auc_mean"], 0.7)
    assert math.isclose(out.loc["wave", "test_auc_std"], 0.1) and math.isclose(out.loc["wave", "train_s_mean"], 20.0)
    assert out.loc["classic", "seeds"] == 1 and math.isnan(out.loc["classic", "test_auc_std"])


def test_old_recipe_names_are_read_as_the_new_ones(capsys):
    """docs/measurements/ keeps the rows as measured, under "seed" and "seed_bn"."""
    assert recipe_name("seed") == "classic" and recipe_name("seed_bn") == "classic_bn" and recipe_name("wave") == "wave"
    csv = ROOT / "docs" / "measurements" / "experiments_2025.csv"
    assert {"seed", "seed_bn"} <= set(pd.read_csv(csv).recipe)
    rows = read_results(csv)
    assert {"classic", "classic_bn"} <= set(rows.recipe) and not {"seed", "seed_bn"} & set(rows.recipe)
    main(["--summarise", str(csv)])
    printed = capsys.readouterr().out
    assert re.search(r"field\s+classic\s+0\s", printed) and " seed " not in printed
