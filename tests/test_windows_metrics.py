import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from birdkit.data.windows import n_windows, row_ids, shifted_windows, tta_shifts
from birdkit.infer.postprocess import smooth_windows
from birdkit.infer.tta import aggregate
from birdkit.metrics import SubmissionError, macro_roc_auc, score_submission


@pytest.mark.parametrize("seconds,expected", [(60, 12), (120, 24), (10, 2), (0.2, 1), (62, 13), (5, 1)])
def test_window_count(seconds, expected):
    assert n_windows(int(seconds * 32000), 160000) == expected


def test_row_ids_are_end_seconds():
    assert row_ids("soundscape_123", 3, 5.0) == ["soundscape_123_5", "soundscape_123_10", "soundscape_123_15"]
    assert row_ids("x", 12, 5.0)[-1] == "x_60"


def test_shifted_windows_move_and_pad():
    wave = np.arange(1, 11, dtype=np.float32)
    assert np.array_equal(shifted_windows(wave, 4, 0)[2], [9, 10, 0, 0])
    assert np.array_equal(shifted_windows(wave, 4, 1)[0], [2, 3, 4, 5])
    assert np.array_equal(shifted_windows(wave, 4, -1)[0], [0, 1, 2, 3])
    assert tta_shifts(4, 10) == [0, 10, -10, 20]


def test_metric_matches_hand_computed_case_and_skips_empty_classes():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
    s = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.4, 0.3, 0.5], [0.6, 0.7, 0.5]])
    # class 0: positives 0.9, 0.4 vs negatives 0.2, 0.6 -> pairs won 3 of 4 = 0.75; class 1: 1.0
    assert macro_roc_auc(y, s) == pytest.approx((0.75 + 1.0) / 2)
    assert macro_roc_auc(y, s) == pytest.approx(roc_auc_score(y[:, :2], s[:, :2], average="macro"))


def test_score_submission_aligns_rows_and_checks_columns():
    sol = pd.DataFrame({"row_id": ["a_5", "a_10", "b_5"], "x": [1, 0, 0], "y": [0, 1, 1], "z": [0, 0, 0]})
    sub = pd.DataFrame({"row_id": ["b_5", "a_5", "a_10"], "x": [0.1, 0.9, 0.2], "y": [0.8, 0.1, 0.7],
                        "z": [0.5, 0.5, 0.5]})
    assert score_submission(sub, sol) == pytest.approx(1.0)
    with pytest.raises(SubmissionError, match="lacks 1 label"):
        score_submission(sub.drop(columns="z"), sol)
    with pytest.raises(SubmissionError, match="lacks 1 rows"):
        score_submission(sub.iloc[1:], sol)


def test_tta_aggregation_and_smoothing():
    p = np.array([[[0.2, 0.4]], [[0.6, 0.4]]])
    assert np.allclose(aggregate(p, "mean"), [[0.4, 0.4]])
    assert np.allclose(aggregate(p, "max"), [[0.6, 0.4]])
    seq = np.array([[0.0], [1.0], [0.0]])
    assert np.allclose(smooth_windows(seq, 0.25), [[0.25], [0.5], [0.25]])
    assert smooth_windows(seq, 0.0) is seq
