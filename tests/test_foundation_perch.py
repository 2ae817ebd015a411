"""Perch v2 (birdkit.foundation.perch) on a stand-in ONNX graph with the real port's names and shapes
(tests/perch_standin.py): peak normalisation before the graph, batching (dynamic and fixed batch 1),
onnxruntime and OpenVINO, labels, the headless graph, errors, and pickling for worker processes."""
import importlib.util
import pickle

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the stand-in graph is built with onnx (not in Kaggle's image)")
pytest.importorskip("onnxruntime", reason="Perch's ONNX port runs on onnxruntime (not in Kaggle's image)")

import perch_standin as standin  # noqa: E402
from birdkit.foundation.base import FoundationError  # noqa: E402
from birdkit.foundation.perch import Perch, normalise  # noqa: E402


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    root = tmp_path_factory.mktemp("perch")
    w = standin.weights()
    full = standin.build(root / "onnx" / "perch_v2.onnx", w)
    standin.write_labels(full.parent)
    fixed = standin.build(root / "fixed" / "perch_v2.onnx", w, batch=1)
    standin.write_labels(fixed.parent, ebird=False)
    headless = standin.build(root / "headless" / "perch_v2_embedding_only.onnx", w, head=False)
    standin.write_labels(headless.parent)   # as on Hugging Face: a labels.csv beside the headless graph
    rng = np.random.default_rng(1)
    waves = rng.standard_normal((70, standin.WINDOW), dtype=np.float32) * rng.uniform(0.01, 2.0, (70, 1)).astype(
        np.float32)
    waves[5] = 0.0                           # a silent window
    return {"root": root, "w": w, "full": full, "fixed": fixed, "headless": headless, "waves": waves,
            "perch": Perch(str(full), threads=1)}


def test_normalise_peak_silence_dtype():
    x = np.zeros((3, 1000), np.float64)
    x[0, 10], x[0, 20] = 0.5, -2.0           # peak |x| = 2 at a negative sample
    x[1] = np.sin(np.linspace(0, 30, 1000)) * 1e-3
    out = normalise(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.abs(out[:2]).max(axis=1).tolist() == [0.25, 0.25]
    assert out[0, 20] == -0.25 and out[0, 10] == np.float32(0.0625)
    assert not out[2].any() and np.isfinite(out).all()
    np.testing.assert_allclose(normalise(3 * x), out, rtol=1e-6, atol=1e-9)


def test_outputs_are_the_graph_on_normalised_windows(graphs):
    perch, waves, w = graphs["perch"], graphs["waves"][:8], graphs["w"]
    emb, logits = perch.embed_logits(waves)
    ref = standin.reference(normalise(waves), w)
    assert emb.shape == (8, 1536) and logits.shape == (8, standin.N_LABELS) and np.isfinite(logits).all()
    np.testing.assert_allclose(emb, ref["embedding"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, ref["label"], rtol=1e-4, atol=1e-4)
    raw = standin.reference(waves, w)["label"]  # the graph itself is not scale-invariant
    assert not np.allclose(raw, ref["label"], atol=1e-2)
    emb3, logits3 = perch.embed_logits(3 * waves)
    np.testing.assert_allclose(emb3, emb, atol=1e-5)
    np.testing.assert_allclose(logits3, logits, atol=1e-4)


def test_batches_of_any_size_and_a_fixed_batch_graph(graphs):
    waves = graphs["waves"]
    perch = Perch(str(graphs["full"]), threads=1, batch_size=32)   # batches of 32, 32, 6
    emb, logits = perch.embed_logits(waves)
    one = [perch.embed_logits(waves[i:i + 1]) for i in range(len(waves))]
    np.testing.assert_allclose(emb, np.concatenate([e for e, _ in one]), atol=1e-5)
    np.testing.assert_allclose(logits, np.concatenate([z for _, z in one]), atol=1e-4)
    fixed = Perch(str(graphs["fixed"]), threads=1, batch_size=32)
    assert fixed._fixed == 1 and "fixed batch 1" in fixed.describe()
    emb1, logits1 = fixed.embed_logits(waves)
    np.testing.assert_allclose(emb1, emb, atol=1e-5)
    np.testing.assert_allclose(logits1, logits, atol=1e-4)
    assert fixed.labels.ebird == [""] * standin.N_LABELS   # no eBird csv beside it


def test_openvino_gives_the_same(graphs):
    waves = graphs["waves"][:6]
    ov = Perch(str(graphs["full"]), runtime="openvino", threads=1)
    assert ov.runtime == "openvino"
    for a, b in zip(ov.embed_logits(waves), graphs["perch"].embed_logits(waves)):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_labels(graphs):
    labels = graphs["perch"].labels
    assert len(labels) == standin.N_LABELS and len(labels.ebird) == len(labels.common) == len(labels)
    for i, (name, code) in standin.KNOWN.items():
        assert labels.codes[i] == labels.scientific[i] == name
        assert labels.ebird[i] == ("" if code == "no_ebird_code" else code)
    assert labels.scientific[1] == "Genus0000 species1"


def test_headless_graph_gives_embeddings_only(graphs):
    perch = Perch(str(graphs["headless"]), threads=1)
    waves = graphs["waves"][:4]
    emb, logits = perch.embed_logits(waves)
    assert perch.headless and len(perch.labels) == 0 and logits.shape == (4, 0)
    np.testing.assert_allclose(emb, standin.reference(normalise(waves), graphs["w"])["embedding"], atol=1e-5)
    assert "headless" in perch.describe() and "0 labels" in perch.describe()
    assert Perch(search_roots=[graphs["headless"].parent], threads=1).path == graphs["headless"]


def test_missing_files_and_runtimes(graphs, tmp_path):
    missing = tmp_path / "nowhere" / "perch_v2.onnx"
    with pytest.raises(FoundationError, match="foundation_path") as err:
        Perch(str(missing))
    assert str(missing) in str(err.value)
    with pytest.raises(FoundationError, match="no perch_v2"):
        Perch(search_roots=[tmp_path])
    lone = tmp_path / "lone" / "perch_v2.onnx"
    lone.parent.mkdir()
    lone.symlink_to(graphs["full"])
    with pytest.raises(FoundationError, match="foundation_labels_path") as err:
        Perch(str(lone), threads=1)
    assert str(lone) in str(err.value)
    with pytest.raises(FoundationError, match="foundation_labels_path"):
        Perch(str(lone), labels_path=str(tmp_path / "labels.csv"), threads=1)
    saved = tmp_path / "perch_v2_cpu" / "1"
    saved.mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"")
    if importlib.util.find_spec("tensorflow") is None:
        with pytest.raises(FoundationError, match="TensorFlow 2.20"):
            Perch(search_roots=[tmp_path / "perch_v2_cpu"])


def test_pickled_model_reopens_and_scores_the_same(graphs):
    perch, waves = graphs["perch"], graphs["waves"][:4]
    copy = pickle.loads(pickle.dumps(perch))
    assert copy._call is not None and copy._call is not perch._call
    for a, b in zip(copy.embed_logits(waves), perch.embed_logits(waves)):
        np.testing.assert_array_equal(a, b)
