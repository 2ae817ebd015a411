import numpy as np
import pytest
import soundfile as sf

from birdkit.data.audio import AudioError, crop_or_pad, frame_windows, load_audio, resolve_audio_path
from conftest import tone


@pytest.mark.parametrize("sr", [16000, 48000, 22050])
def test_resampling_keeps_duration_and_pitch(tmp_path, sr):
    path = tmp_path / f"t{sr}.wav"
    sf.write(path, tone(2.0, sr, 1000.0), sr)
    wave = load_audio(path, 32000)
    assert abs(len(wave) - 64000) <= 1
    peak_hz = np.argmax(np.abs(np.fft.rfft(wave))) * 32000 / len(wave)
    assert abs(peak_hz - 1000.0) < 2.0


def test_stereo_is_downmixed(tmp_path):
    left, right = tone(1.0, 32000, 500.0), tone(1.0, 32000, 3000.0)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 32000)
    wave = load_audio(tmp_path / "s.wav", 32000)
    assert wave.ndim == 1 and np.allclose(wave, (left + right) / 2, atol=1e-4)


def test_five_encodings_decode_to_the_same_length(real_audio):
    lengths = {ext: len(load_audio(real_audio / f"21100_36_48.{ext}", 16000)) for ext in
               ("wav", "flac", "ogg", "mp3", "opus")}
    assert set(lengths.values()) == {160000}, lengths


@pytest.mark.parametrize("n,expected_start", [(100, None), (160, None), (400, 50)])
def test_crop_or_pad_edges(n, expected_start):
    wave = np.arange(n, dtype=np.float32)
    out = crop_or_pad(wave, 160, start=50)
    assert out.shape == (160,)
    if n < 160:
        assert np.array_equal(out[:n], wave) and not out[n:].any()
    elif n == 160:
        assert np.array_equal(out, wave)
    else:
        assert out[0] == expected_start


def test_random_crop_stays_inside():
    wave = np.arange(1000, dtype=np.float32)
    rng = np.random.default_rng(0)
    starts = {int(crop_or_pad(wave, 100, None, rng)[0]) for _ in range(50)}
    assert len(starts) > 10 and min(starts) >= 0 and max(starts) <= 900


def test_frame_windows_pads_last():
    out = frame_windows(np.ones(250, dtype=np.float32), 100)
    assert out.shape == (3, 100) and out[2, 50:].sum() == 0


def test_bad_files_raise_named_errors(tmp_path):
    (tmp_path / "empty.ogg").write_bytes(b"")
    (tmp_path / "junk.ogg").write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match="empty.ogg: empty file"):
        load_audio(tmp_path / "empty.ogg", 32000)
    with pytest.raises(AudioError, match="junk.ogg: undecodable"):
        load_audio(tmp_path / "junk.ogg", 32000)
    with pytest.raises(AudioError, match="missing file"):
        load_audio(tmp_path / "nope.ogg", 32000)


@pytest.mark.parametrize("name", ["/etc/passwd", "../secret.ogg", "a/../../b.ogg"])
def test_paths_outside_the_audio_folder_are_refused(tmp_path, name):
    with pytest.raises(AudioError, match="unsafe path"):
        resolve_audio_path(tmp_path, name)
    assert resolve_audio_path(tmp_path, "x/y.ogg") == (tmp_path / "x/y.ogg").resolve()


def test_readable_rows_keeps_files_with_a_header_and_reports_the_rest(tmp_path):
    import pandas as pd

    from birdkit.data.datasets import readable_rows
    sf.write(tmp_path / "ok.wav", tone(1.0, 32000), 32000)
    (tmp_path / "empty.ogg").write_bytes(b"")
    (tmp_path / "junk.ogg").write_bytes(b"junk" * 50)
    df = pd.DataFrame({"filename": ["a/ok.wav", "a/empty.ogg", "a/junk.ogg"],
                       "path": [str(tmp_path / n) for n in ("ok.wav", "empty.ogg", "junk.ogg")]})
    keep, skipped = readable_rows(df)
    assert keep["filename"].tolist() == ["a/ok.wav"]
    assert sorted(s["filename"] for s in skipped) == ["a/empty.ogg", "a/junk.ogg"]
    assert all(s["reason"] == "unreadable" for s in skipped)
