"""One source of defaults and a closed config."""
import ast
import dataclasses
import subprocess
import sys

import pytest
import yaml

from birdkit.config import Config, ConfigError, defaults, load_params
from birdkit_tools.runner import resolve_params


def _parameters_cell(path) -> dict:
    cell = path.read_text().split('# %% tags=["parameters"]')[1].split("\n# %%")[0]
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell).body}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_every_notebook_parameter_is_a_field_with_configs_default(root):
    fields = defaults()
    notebooks = sorted((root / "src_py").glob("[0-9][0-9]_*.py"))
    assert len(notebooks) >= 6
    for nb in notebooks:
        params = _parameters_cell(nb)
        assert params, nb.name
        for name, value in params.items():
            assert name in fields, f"{nb.name}: {name} is not a Config field"
            assert value == _plain(fields[name]), f"{nb.name}: {name} = {value!r}, Config says {fields[name]!r}"


def test_validation_runs_on_construction_and_replace():
    cfg = Config()
    with pytest.raises(ConfigError, match="tta_views"):
        dataclasses.replace(cfg, tta_views=0)
    with pytest.raises(ConfigError, match="backend must be one of"):
        Config(backend="tensorrt")
    with pytest.raises(ConfigError, match="epochs must be int"):
        Config(epochs="10")
    with pytest.raises(ConfigError, match="batch_size must be int"):
        Config(batch_size=True)
    with pytest.raises(ConfigError, match="reverb_rt60_s must be"):
        Config(reverb_rt60_s=(0.0, 1.0))
    with pytest.raises(ConfigError, match="reverb_prob"):
        Config(reverb_prob=1.5)
    assert Config(fmin=20).fmin == 20.0 and isinstance(Config(fmin=20).fmin, float)
    assert Config(checkpoint_paths=["a.pth"]).checkpoint_paths == ("a.pth",)


def test_misspelt_name_in_a_parameters_cell_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="'tta_view' \\(did you mean 'tta_views'\\?\\)"):
        Config.from_namespace({"tta_view": 3, "epochs": 2, "sys": sys})
    # a notebook run again in the same kernel also holds its later variables: only near misses fail
    assert Config.from_namespace({"share": 0.3, "epochs": 2}, strict=False).epochs == 2
    with pytest.raises(ConfigError, match="tta_view"):
        Config.from_namespace({"tta_view": 3}, strict=False)
    assert Config.from_namespace({"_hidden": 1, "In": [], "Path": dict, "epochs": 3}).epochs == 3


def test_misspelt_key_in_a_parameter_file_fails_before_any_notebook(tmp_path, root):
    params = yaml.safe_load((root / "params" / "smoke.yaml").read_text())
    params["n_mel"] = 64
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="bad.yaml: not a Config field: 'n_mel' \\(did you mean 'n_mels'\\?\\)"):
        resolve_params(path, {})
    proc = subprocess.run([sys.executable, "-m", "birdkit_tools.runner", "--params", str(path), "--runs-dir",
                           str(tmp_path / "runs"), "--name", "bad"], capture_output=True, text=True, cwd=root)
    assert proc.returncode != 0 and "n_mel" in proc.stderr
    assert not list((tmp_path / "runs").rglob("*.ipynb")), "no notebook may run"


def test_mel_settings_are_one_frozen_object_derived_from_the_fields():
    cfg = Config(n_mels=64, top_db=0.0)
    assert cfg.mel.n_mels == 64 and cfg.mel.top_db is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mel.n_mels = 32


def test_every_parameter_file_is_a_valid_config(root):
    files = sorted((root / "params").glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        Config.from_yaml(path)   # an unknown key or a bad value raises, naming the file


def test_runner_set_overrides_a_parameter_and_is_validated(tmp_path, root):
    from birdkit_tools.runner import parse_sets
    assert parse_sets(["pseudo_rounds=1", "folds=[0, 1]", "backend=torch"]) == \
        {"pseudo_rounds": 1, "folds": [0, 1], "backend": "torch"}
    params = resolve_params(root / "params" / "smoke.yaml", parse_sets(["epochs=3"]))
    assert params["epochs"] == 3
    with pytest.raises(ConfigError, match="epoch"):
        resolve_params(root / "params" / "smoke.yaml", parse_sets(["epoch=3"]))
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        parse_sets(["epochs"])


# ---- parameter files: only what differs from Config, and include: ----

def restated(path) -> list:
    """Keys of ``path`` (itself, not its include) whose value is the one the file would have
    without them: Config's default, or the included file's value."""
    own = yaml.safe_load(path.read_text()) or {}
    below = Config.from_dict(load_params(path.parent / own["include"]) if "include" in own else {})
    cfg = Config.from_yaml(path)
    return [k for k in own if k != "include" and getattr(cfg, k) == getattr(below, k)]


def test_parameter_files_state_only_what_differs_from_the_defaults(root):
    files = sorted((root / "params").glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        assert not restated(path), f"{path.name} restates its default for {restated(path)}: remove them"


def test_a_key_equal_to_its_default_or_its_include_is_found(tmp_path):
    (tmp_path / "base.yaml").write_text("epochs: 3\nlr: 0.01\n")
    (tmp_path / "a.yaml").write_text('data_dir: ""\nseed: 42\nfmin: 20\nepochs: 4\n')   # 20 == 20.0
    (tmp_path / "b.yaml").write_text("include: base.yaml\nepochs: 3\nseed: 1\n")
    assert restated(tmp_path / "a.yaml") == ["data_dir", "seed", "fmin"]
    assert restated(tmp_path / "b.yaml") == ["epochs"]


def test_include_is_read_relative_to_the_including_file_and_overridden(tmp_path, monkeypatch):
    (tmp_path / "base.yaml").write_text("epochs: 3\nlr: 0.01\ncompetition: birdclef-2025\n")
    (tmp_path / "mid.yaml").write_text("include: base.yaml\nlr: 0.02\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "top.yaml").write_text("include: ../mid.yaml\ncompetition: birdclef-2026\n")
    monkeypatch.chdir(tmp_path / "sub")   # relative to the file, not to the working folder
    top = tmp_path / "sub" / "top.yaml"
    assert load_params(top) == {"epochs": 3, "lr": 0.02, "competition": "birdclef-2026"}
    cfg = Config.from_yaml(top, epochs=5)
    assert (cfg.epochs, cfg.lr, cfg.competition) == (5, 0.02, "birdclef-2026")
    assert resolve_params(top, {"seed": 1}) == {"epochs": 3, "lr": 0.02, "competition": "birdclef-2026", "seed": 1}


def test_a_missing_or_bad_include_names_the_file(tmp_path):
    (tmp_path / "a.yaml").write_text("include: nope.yaml\nepochs: 3\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: include 'nope\.yaml': no such file .*nope\.yaml"):
        load_params(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="a.yaml: include 'nope.yaml'"):
        resolve_params(tmp_path / "a.yaml", {})
    (tmp_path / "b.yaml").write_text("include: [x.yaml]\n")
    with pytest.raises(ConfigError, match="b.yaml: include must be one parameter file's path"):
        load_params(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("include: d.yaml\n")
    (tmp_path / "d.yaml").write_text("include: c.yaml\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_params(tmp_path / "c.yaml")
