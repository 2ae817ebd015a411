"""Smoke test of the benchmark's plumbing (timings are not asserted beyond being positive)."""
import math

import pytest
import yaml

from birdkit_tools.bench import COLUMNS, DEMO_PARAMS, SHOWN, run_bench

pytestmark = pytest.mark.slow  # exports and times graphs


def test_quick_bench_writes_table(tmp_path):
    table = run_bench(tmp_path, files=1, models=["demo", "2xdemo:sed10"], backends=["torch", "openvino"],
                      threads=1, seconds=10.0, model_name="test_efficientnet", repeats=1)
    assert list(table["backend"]) == ["torch", "openvino"] * 2
    assert list(table["model"]) == ["demo:test_efficientnet"] * 2 + ["2xdemo:sed10:test_efficientnet"] * 2
    assert list(table["members"]) == [1, 1, 2, 2] and list(table["head"]) == ["classifier"] * 2 + ["sed"] * 2
    assert list(table["chunk_s"]) == [5.0, 5.0, 10.0, 10.0]
    assert set(SHOWN) <= set(table.columns) and set(COLUMNS) <= set(table.columns)
    n_mels = yaml.safe_load(DEMO_PARAMS.read_text())["n_mels"]  # the 'demo' model is params/demo.yaml's
    for row in table.to_dict(orient="records"):  # openvino: the window graph its backend compiled
        assert row["windows"] == 2 and row["n_mels"] == n_mels and row["in_chans"] == 1
        for col in SHOWN[4:]:
            assert math.isfinite(row[col]) and row[col] > 0, (row["backend"], col)
    assert math.isclose(table.iloc[0]["speedup_vs_torch"], 1.0)
    md = (tmp_path / "bench.md").read_text()
    assert md.startswith("| " + " | ".join(SHOWN) + " |") and "wave_to_scores_ms" in md
    assert (tmp_path / "bench.csv").is_file() and (tmp_path / "bench.json").is_file()
