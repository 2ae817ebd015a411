"""Site and hour priors learned from labelled soundscapes and applied to a submission."""
import numpy as np
import pandas as pd
import pytest

from birdkit.data.competition import detect_layout
from birdkit.data.labels import read_soundscape_labels
from birdkit.infer.priors import PriorError, adjust_submission, apply_prior, learn_prior

CLASSES = ["22961", "brnowl", "yeofly1"]
S01 = "BC2026_Train_0001_S01_20230101_200000.ogg"   # 20 h: the frog
S02 = "BC2026_Train_0002_S02_20230101_080000.ogg"   # 8 h: the owl


def _clock(s):
    return f"00:{s // 60:02d}:{s % 60:02d}"


def _labels(tmp_path):
    """Two labelled files, every window of S01 with the frog, of S02 with the owl (rows doubled)."""
    rows = ["filename,start,end,primary_label"]
    for w in range(12):
        extra = ";yeofly1" if w < 2 else ""
        rows += [f"{S01},{_clock(5 * w)},{_clock(5 * w + 5)},22961{extra}"] * 2
        rows += [f"{S02},{_clock(5 * w)},{_clock(5 * w + 5)},brnowl{extra}"] * 2
    path = tmp_path / "train_soundscapes_labels.csv"
    path.write_text("\n".join(rows) + "\n")
    return read_soundscape_labels(path, CLASSES)


def _submission(stems, value=0.3):
    ids = [f"{s}_{end}" for s in stems for end in (5, 10)]
    return pd.DataFrame({"row_id": ids, **{c: np.full(len(ids), value, np.float32) for c in CLASSES}})


def test_site_prior_rates(tmp_path):
    prior = learn_prior(_labels(tmp_path), "site")
    assert list(prior.rates.index) == ["S01", "S02"] and prior.windows.tolist() == [12, 12]
    assert prior.overall.tolist() == pytest.approx([0.5, 0.5, 4 / 24])
    assert prior.log_ratio("S01")[0] > 0 > prior.log_ratio("S01")[1]
    assert prior.log_ratio("S01")[2] == pytest.approx(0.0, abs=1e-6)  # the same at both sites
    assert (prior.log_ratio("S99") == 0).all() and (prior.log_ratio(None) == 0).all()


def test_apply_moves_known_sites_only(tmp_path):
    prior = learn_prior(_labels(tmp_path), "site")
    test = ["BC2026_Test_0007_S01_20250227_210000", "BC2026_Test_0008_S02_20250227_090000", "soundscape_123"]
    out, matched = apply_prior(_submission(test), prior, weight=1.0)
    assert matched == 4 and list(out.columns) == ["row_id"] + CLASSES
    frog = out["22961"].to_numpy()
    assert frog[0] > 0.3 > frog[2] and frog[4:].tolist() == pytest.approx([0.3, 0.3])
    same, _ = apply_prior(_submission(test), prior, weight=0.0)
    assert same[CLASSES].to_numpy() == pytest.approx(0.3)


def test_hour_prior_is_smooth_over_neighbouring_hours(tmp_path):
    prior = learn_prior(_labels(tmp_path), "hour")
    assert len(prior.rates) == 24
    assert prior.log_ratio(21)[0] > 0.3 and prior.log_ratio(9)[0] < -0.3   # frog at night, owl by day
    assert abs(prior.log_ratio(2)[0]) < prior.log_ratio(21)[0]              # far from any label: nearer 0


def test_no_metadata_no_prior(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("filename,start,end,primary_label\nH21_20230510_051500.ogg,00:00:00,00:00:05,brnowl\n")
    with pytest.raises(PriorError, match="carries a site"):
        learn_prior(read_soundscape_labels(path, CLASSES), "site")


def test_adjust_submission_says_what_it_did(tmp_path):
    comp = tmp_path / "comp"
    comp.mkdir()
    (comp / "sample_submission.csv").write_text("row_id," + ",".join(CLASSES) + "\n")
    pd.DataFrame(columns=["primary_label", "secondary_labels", "filename"]).to_csv(comp / "train.csv", index=False)
    pd.DataFrame({"primary_label": CLASSES, "class_name": ["Amphibia", "Aves", "Aves"]}).to_csv(
        comp / "taxonomy.csv", index=False)
    sub = _submission(["BC2026_Test_0007_S01_20250227_210000"])
    out, message = adjust_submission(sub, detect_layout(comp), "site", 0.5)
    assert out is sub and "no comp/train_soundscapes_labels.csv" in message
    _labels(comp)  # writes comp/train_soundscapes_labels.csv
    out, message = adjust_submission(sub, detect_layout(comp), "site", 0.5)
    assert "applied to 2 of 2 rows" in message and out["22961"].iloc[0] > 0.3
    assert adjust_submission(sub, detect_layout(comp), "off", 0.5)[0] is sub
