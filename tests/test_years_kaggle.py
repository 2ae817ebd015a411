"""Kaggle per year: params/kaggle-<year>.yaml name the competition that make push attaches."""
import json

import pytest
import yaml

from birdkit.config import Config
from birdkit_tools.kaggle.stage import stage


def _params(root, name):
    return yaml.safe_load((root / "params" / name).read_text())


@pytest.mark.parametrize("year", [2024, 2026])
def test_year_params_are_kaggle_yaml_with_their_competition(root, year):
    base, year_params = _params(root, "kaggle.yaml"), _params(root, f"kaggle-{year}.yaml")
    assert year_params.pop("competition") == f"birdclef-{year}"
    assert year_params == {k: v for k, v in base.items() if k != "competition"}
    Config.from_dict(_params(root, f"kaggle-{year}.yaml"))


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
