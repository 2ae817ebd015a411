"""Kaggle per year: params/kaggle-<year>.yaml name the competition that make push attaches."""
import json

import pytest
import yaml

from birdkit.config import Config, load_params
from birdkit_tools.kaggle.stage import kernel_params, stage


@pytest.mark.parametrize("year", [2024, 2026])
def test_year_params_are_kaggle_yaml_with_their_competition(root, year):
    path = root / "params" / f"kaggle-{year}.yaml"
    assert yaml.safe_load(path.read_text()) == {"include": "kaggle.yaml", "competition": f"birdclef-{year}"}
    year_params, base = load_params(path), load_params(root / "params" / "kaggle.yaml")
    assert year_params.pop("competition") == f"birdclef-{year}"
    assert year_params == {k: v for k, v in base.items() if k != "competition"}
    staged = kernel_params(root, f"params/kaggle-{year}.yaml", {"params": {"pseudo_rounds": 1}})
    assert staged == {**base, "competition": f"birdclef-{year}", "pseudo_rounds": 1}   # what make push injects
    assert Config.from_dict(staged).competition == f"birdclef-{year}"


def test_staged_kernels_attach_the_params_competition(root, tmp_path):
    manifest = stage(root, tmp_path / "staging", "params/kaggle-2026.yaml", env={"KAGGLE_OWNER": "someone"})
    for kernel in manifest["kernels"]:
        meta = json.loads((tmp_path / "staging" / "kernels" / kernel["id"].split("/")[1] /
                           "kernel-metadata.json").read_text())
        assert meta["competition_sources"] == ["birdclef-2026"]
    default = stage(root, tmp_path / "default", env={"KAGGLE_OWNER": "someone"})
    meta = json.loads((tmp_path / "default" / "kernels" / default["kernels"][0]["id"].split("/")[1] /
                       "kernel-metadata.json").read_text())
    assert meta["competition_sources"] == [Config().competition] == ["birdclef-2025"]
