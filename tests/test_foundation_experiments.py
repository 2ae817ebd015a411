"""The foundation rows' scoring (birdkit_tools.foundation_experiments): each member alone over the
classes it scores, the masked rank blends, and the summary table's means over seeds."""
import numpy as np
import pandas as pd

from birdkit_tools.foundation_experiments import score_rows, summary_table


def test_members_blends_and_the_table():
    classes = ["a", "b"]
    ids = [f"s_{5 * (i + 1)}" for i in range(6)]
    truth = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 1], [0, 0]])
    solution = pd.DataFrame(truth, columns=classes).assign(row_id=ids)[["row_id", *classes]]
    cnn = truth * 0.6 + 0.2 * (np.arange(6)[:, None] % 2)
    cnn[5, 1] = 0.9                                               # a negative above every positive of b but two
    zeroshot = np.c_[truth[:, 0] * 0.9, np.zeros(6)]              # perfect on a, no score for b
    probs = [np.stack([cnn, cnn, zeroshot])[:, :, :].astype(np.float32)]
    masks = np.array([[True, True], [True, True], [True, False]])
    rows = {r: (t, m) for r, t, m in score_rows(["cnn0", "head", "zeroshot"], probs, ids, masks, classes, solution)}
    assert rows["zeroshot"][0] == 1.0 and rows["zeroshot"][1] == 1.0     # over its mapped class only
    assert np.isclose(rows["head"][0], (1.0 + 6 / 9) / 2) and rows["head"][1] == 1.0   # b: 6 of 9 pairs right
    assert {"head+zeroshot", "blend_cnn1", "blend_cnn0.25"} <= set(rows)
    results = pd.DataFrame([{"recipe": "foundation", "seed": s, "row": "zeroshot", "test": v, "test_mapped": v}
                            for s, v in enumerate([0.9, 0.8, 0.7])])
    table = summary_table(results, 0.5)
    assert "| baseline (log-mel logistic regression) | 0.500 |" in table
    assert "| BirdNET zero-shot (mapped classes only) | 0.800 ± 0.100 | 3 |" in table


def test_weights_chosen_on_validation_take_the_member_that_ranks_right():
    from birdkit_tools.weights_on_validation import blend, choose

    truth = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    rng = np.random.default_rng(0)
    noise, right, wrong = rng.random((6, 2)), truth * 0.8 + 0.1, 1 - truth    # wrong: every pair inverted
    probs = np.stack([noise, right, wrong]).astype(np.float32)
    masks = np.ones((3, 2), bool)
    weights, auc = choose(probs, truth, masks)
    assert auc == 1.0 and weights[1] > 0 and weights[2] == 0 and weights[0] <= weights[1]
    assert weights == (0.0, 0.5, 0.0)                                         # the first of the equals
    masked = masks.copy()
    masked[1, 1] = False                                  # "right" has no score for b: b is the others' average
    mixed = blend(probs, (0.0, 1.0, 1.0), masked)
    assert np.allclose(mixed[:, 1], pd.DataFrame(wrong[:, 1]).rank(pct=True).to_numpy()[:, 0])
