"""A submission that always scores: fallback rows first, atomic rewrites, the adaptive budget
(shedding, watchdog), a member or a file that raises, a killed run, rounds that fit a session."""
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from birdkit.config import Config, ConfigError
from birdkit.data.windows import row_ids
from birdkit.infer.budget import Budget
from birdkit.infer.ensemble import TTA, Scored, load_ensemble
from birdkit.infer.predict import list_audio, predict_soundscapes
from birdkit.infer.submission import SubmissionWriter, fallback_submission, label_prior, output_paths
from birdkit.metrics import file_stems
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.train.selftrain import RoundClock
from conftest import ROOT, tone

SR = 32000
CLASSES = ["1139490", "amekes", "grekis"]
SECONDS = [12.0, 10.0, 15.0, 7.0, 11.0, 10.0]   # windows: 3, 2, 3, 2, 3, 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guard")
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=1, infer_workers=1, tta_views=3)
    paths = []
    for i in range(2):
        torch.manual_seed(i)
        model = build_model(cfg, CLASSES)
        for p in model.parameters():  # spread the random scores so members differ
            p.data.normal_(0, 0.2)
        paths.append(save_checkpoint(tmp / f"m{i}.pth", model, make_contract(cfg, CLASSES)))
    folder = tmp / "test_soundscapes"
    folder.mkdir()
    for k, seconds in enumerate(SECONDS):
        sf.write(folder / f"soundscape_{k}.ogg", tone(seconds, SR, 500.0 + 300 * k, 0.3), SR)
    meta = tmp / "train.csv"
    pd.DataFrame({"primary_label": ["amekes"] * 3 + ["grekis"]}).to_csv(meta, index=False)
    return cfg, paths, list_audio(folder), tmp, meta


def _rows(files):
    return [r for f, s in zip(files, SECONDS) for r in row_ids(f.stem, int(np.ceil(s / 5)), 5.0)]


def _valid(sub, files):
    """Every row of every file, every label column, finite probabilities."""
    assert list(sub.columns) == ["row_id"] + CLASSES
    assert sub["row_id"].tolist() == _rows(files)
    values = sub[CLASSES].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()


def test_label_prior_is_each_class_share_and_uniform_when_unreadable(tmp_path, setup):
    prior, note = label_prior(setup[4], CLASSES)
    np.testing.assert_allclose(prior, [0.5 / 4, 3 / 4, 1 / 4])
    assert "4 training recordings" in note
    uniform, note = label_prior(tmp_path / "missing.csv", CLASSES)
    np.testing.assert_allclose(uniform, [1 / 3] * 3)
    assert "uniform" in note and "missing.csv" in note


def test_fallback_submission_has_every_row_and_writes_atomically(tmp_path, setup):
    files = setup[2]
    (tmp_path / "broken.ogg").write_bytes(b"OggS" + bytes(100))   # no header: the year's file length
    sub = fallback_submission(files + [tmp_path / "broken.ogg"], CLASSES, np.array([0.1, 0.2, 0.3]), SR, 5 * SR, 60)
    assert sub["row_id"].tolist() == _rows(files) + row_ids("broken", 12, 5.0)
    assert (sub[CLASSES].to_numpy() == np.float32([0.1, 0.2, 0.3])).all()
    writer = SubmissionWriter(tmp_path / "sub" / "submission.csv")
    out = writer.write(sub)
    assert pd.read_csv(out).shape == sub.shape and os.listdir(out.parent) == ["submission.csv"]


def _fake_scored(views, active, seconds=1.0, member_seconds=None, audio=60.0):
    return Scored(np.zeros((2, 12, 3), np.float32), seconds=seconds, audio_seconds=audio, views=views,
                  active=tuple(active), member_seconds=member_seconds or {})


def test_budget_sheds_views_then_the_costliest_member_per_weight_and_never_the_last():
    now = [0.0]
    budget = Budget(budget_minutes=10, share=0.8, audio_minutes=60, weights=[1.0, 2.0, 1.0], tta=TTA(3),
                    cores_here=4, started=0.0, clock=lambda: now[0])
    assert budget.begin().startswith("[budget] target 8 min of the 10-min budget")
    # 60 audio minutes at 20 s per audio minute = 20 min: views 3 -> 1 gives 4 + 12 * 1/3 = 8 min
    for _ in range(2):
        budget.record(_fake_scored(3, [0, 1, 2], 20.0, {0: 6.0, 1: 6.0, 2: 6.0}))
    assert [d.step for d in budget.decisions] == ["tta_views"] and budget.tta.views == 1
    assert budget.active == [0, 1, 2]
    # the pace of the new plan is still over: member 1 costs most but weighs 2, so 0 and 2 go first
    for _ in range(2):
        budget.record(_fake_scored(1, [0, 1, 2], 20.0, {0: 6.0, 1: 8.0, 2: 5.0}))
    assert budget.active == [1] and [d.step for d in budget.decisions] == [
        "tta_views", "members", "members", "minimum"]
    assert "model 0 left out" in budget.decisions[1].change
    for _ in range(3):   # nothing more to shed: the minimum is said once
        budget.record(_fake_scored(1, [1], 20.0, {1: 8.0}))
    assert budget.active == [1] and sum(d.step == "minimum" for d in budget.decisions) == 1
    summary = budget.summary()
    assert summary["final"] == {"views": 1, "members": [1], "files_done": 7, "stopped_by_watchdog_after": None}
    assert len(summary["projections"]) >= 3


def test_strict_budget_sheds_nothing_and_the_watchdog_stops_at_the_deadline():
    now = [0.0]
    budget = Budget(budget_minutes=10, share=0.8, audio_minutes=60, weights=[1.0, 1.0], tta=TTA(3),
                    cores_here=4, started=0.0, clock=lambda: now[0], strict=True)
    assert budget.deadline_minutes == 9.0
    for _ in range(3):
        budget.record(_fake_scored(3, [0, 1], 30.0, {0: 10.0, 1: 10.0}))
    assert budget.decisions == [] and budget.plan() == (3, (0, 1)) and budget.projected() > budget.target
    assert not budget.expired
    now[0] = 9.0 * 60
    assert budget.expired and budget.summary()["final"]["stopped_by_watchdog_after"] == 3
    assert [d.step for d in budget.decisions] == ["watchdog"]


def test_over_budget_run_sheds_as_it_goes_and_keeps_the_file_valid(setup, tmp_path):
    cfg, paths, files, _, _ = setup
    ensemble = load_ensemble(paths, "torch", tmp_path / "export")
    asked = []
    score = ensemble.score
    ensemble.score = lambda wave, tta=None, active=None, catch=True: (
        asked.append((tta.views, tuple(active))) or score(wave, tta, active, catch))
    budget = Budget(budget_minutes=0.001, share=0.8, audio_minutes=60, weights=[1.0, 1.0], tta=TTA(3),
                    cores_here=2, started=time.time(), deadline_minutes=60)
    writer = SubmissionWriter(tmp_path / "submission.csv", every_seconds=0)
    result = predict_soundscapes(files, ensemble, cfg, budget=budget, writer=writer, progress=False)
    assert asked[:2] == [(3, (0, 1))] * 2 and asked[2:] in ([(1, (0,))] * 4, [(1, (1,))] * 4)
    assert [d.step for d in budget.decisions][:2] == ["tta_views", "members"]
    assert writer.writes == len(files) + 1
    _valid(pd.read_csv(tmp_path / "submission.csv", dtype={"row_id": str}), files)
    kept = budget.active[0]
    alone = predict_soundscapes(files[2:], load_ensemble([paths[kept]], "torch", tmp_path / "alone"),
                                Config(**{**cfg.to_dict(), "tta_views": 1}), progress=False).submission
    np.testing.assert_allclose(result.submission[CLASSES].to_numpy()[-len(alone):], alone[CLASSES].to_numpy(),
                               atol=1e-5)


def test_watchdog_leaves_the_fallback_rows_of_files_not_scored(setup, tmp_path):
    cfg, paths, files, _, meta = setup
    ensemble = load_ensemble(paths[:1], "torch", tmp_path / "export")
    prior, _ = label_prior(meta, CLASSES)
    budget = Budget(budget_minutes=90, share=0.8, audio_minutes=60, weights=[1.0], tta=TTA(1), cores_here=2,
                    started=time.time() - 3600, deadline_minutes=30)   # the deadline passed half an hour ago
    result = predict_soundscapes(files, ensemble, cfg, budget=budget, fallback=prior, progress=False)
    _valid(result.submission, files)
    assert (result.submission[CLASSES].to_numpy() == prior).all()
    assert {s["reason"] for s in result.skipped} == {"not scored (watchdog)"} and len(result.skipped) == len(files)
    assert budget.decisions[-1].step == "watchdog"


def test_a_member_that_raises_is_dropped_and_a_file_that_raises_keeps_its_fallback(setup, tmp_path):
    cfg, paths, files, _, meta = setup
    cfg = Config(**{**cfg.to_dict(), "tta_views": 1})
    prior, _ = label_prior(meta, CLASSES)
    ensemble = load_ensemble(paths, "torch", tmp_path / "export")
    backend = ensemble.members[1].backend
    calls = []

    def broken(images):
        calls.append(1)
        raise RuntimeError("injected member failure")
    backend.from_images = broken
    score = ensemble.score

    def file_fails(wave, tta=None, active=None, catch=True):
        if len(wave) == int(SECONDS[3] * SR):
            raise ValueError("injected file failure")
        return score(wave, tta, active, catch)
    ensemble.score = file_fails
    result = predict_soundscapes(files, ensemble, cfg, fallback=prior, progress=False)
    _valid(result.submission, files)
    assert calls == [1], "the failed member is asked once, then left out"
    assert result.budget.active == [0] and "injected member failure" in result.budget.dropped[1]
    assert [(s["filename"], s["reason"]) for s in result.skipped] == [(files[3].name, "scoring failed")]
    assert "injected file failure" in result.skipped[0]["error"]
    sub = result.submission.set_index("row_id")
    assert (sub.loc[row_ids(files[3].stem, 2, 5.0)].to_numpy() == prior).all()
    alone = predict_soundscapes(files, load_ensemble(paths[:1], "torch", tmp_path / "alone"), cfg,
                                progress=False).submission.set_index("row_id")
    others = [r for r in sub.index if not r.startswith(files[3].stem + "_")]
    np.testing.assert_allclose(sub.loc[others].to_numpy(), alone.loc[others].to_numpy(), atol=1e-5)


def test_per_file_arrays_are_the_submission_rows_of_each_scored_file(setup, tmp_path):
    cfg, paths, files, _, meta = setup
    (tmp_path / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    files = files + [tmp_path / "broken.ogg"]
    prior, _ = label_prior(meta, CLASSES)
    cfg = dataclasses.replace(cfg, smoothing=0.2, file_max_rescale=0.5, ensemble_average="rank")   # post-processed
    result = predict_soundscapes(files, load_ensemble(paths, "torch", tmp_path / "export"), cfg, fallback=prior,
                                 progress=False)
    assert list(result.per_file) == files[:-1]   # the undecodable file has its fallback rows, no array
    stems = file_stems(result.submission["row_id"])
    for path, probs in result.per_file.items():
        rows = result.submission.loc[stems == path.stem, CLASSES].to_numpy()
        assert probs.dtype == np.float32 and probs.shape == rows.shape == (np.ceil(SECONDS[files.index(path)] / 5), 3)
        np.testing.assert_array_equal(probs, rows)
    assert (result.submission.loc[stems == "broken", CLASSES].to_numpy() == prior).all()


def test_output_paths_follow_submission_path(tmp_path):
    out = output_paths(Config(run_dir=str(tmp_path / "run")))
    assert (out.submission, out.seed_view, out.score) == (tmp_path / "run" / "submission.csv",
                                                         tmp_path / "run" / "submission_seed_view.csv",
                                                         tmp_path / "run" / "score.txt")
    out = output_paths(Config(run_dir=str(tmp_path / "run"), submission_path=str(tmp_path / "kaggle" / "sub.csv")))
    assert (out.submission, out.seed_view, out.score) == (tmp_path / "kaggle" / "sub.csv",
                                                         tmp_path / "kaggle" / "submission_seed_view.csv",
                                                         tmp_path / "run" / "score.txt")


def test_a_checkpoint_that_does_not_load_is_left_out_unless_none_is_left(setup, tmp_path, capsys):
    paths = setup[1]
    broken = tmp_path / "broken.pth"
    broken.write_bytes(paths[0].read_bytes()[:1000])   # truncated
    ensemble = load_ensemble([broken, paths[1]], "torch", tmp_path / "a", weights=(2.0, 3.0), skip_broken=True)
    assert len(ensemble.members) == 1 and ensemble.members[0].weight == 3.0
    assert "model 0 left out" in capsys.readouterr().out and ensemble.spec["paths"] == [str(paths[1])]
    with pytest.raises(ValueError, match="no checkpoint could be loaded"):
        load_ensemble([broken], "torch", tmp_path / "b", skip_broken=True)
    with pytest.raises(ValueError, match="ensemble_weights has 1 weights for 2 checkpoints"):
        load_ensemble(paths, "torch", tmp_path / "c", weights=(1.0,))
    with pytest.raises(ConfigError, match="ensemble_weights"):
        Config(ensemble_weights=(1.0, -1.0))


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from birdkit.config import Config
    from birdkit.infer.ensemble import load_ensemble
    from birdkit.infer.predict import list_audio, predict_soundscapes
    from birdkit.infer.submission import SubmissionWriter, fallback_submission

    ckpt, folder, out = sys.argv[2:5]
    files = list_audio(folder)
    classes = ["1139490", "amekes", "grekis"]
    prior = np.array([0.1, 0.2, 0.3], np.float32)
    writer = SubmissionWriter(out, every_seconds=0)
    writer.write(fallback_submission(files, classes, prior, 32000, 160000, 60))
    print("fallback written", flush=True)
    ensemble = load_ensemble([ckpt], "torch", out + ".export")
    score = ensemble.score
    def slow(*args, **kwargs):
        time.sleep(0.5)
        return score(*args, **kwargs)
    ensemble.score = slow
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=1, infer_workers=1)
    predict_soundscapes(files, ensemble, cfg, writer=writer, fallback=prior, progress=False)
    print("finished", flush=True)
""")


def _scored_rows(sub):
    """Rows that are not the child's fallback (0.1, 0.2, 0.3)."""
    return (~np.isclose(sub[CLASSES].to_numpy(), [0.1, 0.2, 0.3])).any(axis=1)


@pytest.mark.slow
def test_a_killed_inference_run_leaves_a_valid_submission(setup, tmp_path):
    _, paths, files, _, _ = setup
    script, out = tmp_path / "child.py", tmp_path / "submission.csv"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(ROOT / "src_py"), str(paths[0]), str(files[0].parent),
                              str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:   # kill once some scored rows replaced fallback
        if out.is_file() and _scored_rows(pd.read_csv(out, dtype={"row_id": str})).sum() >= 3:
            break
        time.sleep(0.05)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, f"the child ended on its own: {err[-2000:]}"
    sub = pd.read_csv(out, dtype={"row_id": str})
    _valid(sub, files)
    scored = _scored_rows(sub)
    assert 3 <= scored.sum() < len(sub), "killed part-way: some rows scored, the rest still fallback"
    assert {p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")} <= {f".tmp-{child.pid}-submission.csv"}


def test_round_clock_runs_the_rounds_that_fit_and_skips_the_rest():
    now = [0.0]
    clock = RoundClock(100, 30.0, clock=lambda: now[0] * 60, started=0.0)
    now[0] = 10
    assert clock.fits(1)[0]
    now[0] = 50                      # round 1 took 40 min: later rounds are estimated at 40
    assert clock.finished(1) == 40 and clock.estimate == 40
    fits, why = clock.fits(2)
    assert fits and "ends by minute 90.0" in why
    now[0] = 85
    clock.finished(2)
    fits, why = clock.fits(3)
    assert not fits and "round 3 skipped" in why and "session_budget_minutes" in why
    assert RoundClock(0, 1e9, clock=lambda: 0.0, started=0.0).fits(1)[0]
