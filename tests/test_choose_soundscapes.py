"""Which files the inference notebook predicts: test soundscapes, else a dry run on train ones."""
import shutil

import pytest

from birdkit.infer.predict import choose_soundscapes


def _layout(tmp_path, real_audio, test=(), train=()):
    comp = tmp_path / "comp"
    for folder, names in (("test_soundscapes", test), ("train_soundscapes", train)):
        (comp / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(real_audio / "birds_10s.flac", comp / folder / name)
    (comp / "test_soundscapes" / "notes.txt").write_text("not audio")
    return comp


def test_test_soundscapes_are_used_when_present(tmp_path, real_audio):
    comp = _layout(tmp_path, real_audio, test=["b.ogg", "a.wav"], train=["t1.ogg"])
    files, dry_run = choose_soundscapes(comp, dry_run_count=3)
    assert [f.name for f in files] == ["a.wav", "b.ogg"] and not dry_run
    files, _ = choose_soundscapes(comp, dry_run_count=3, max_files=1)
    assert [f.name for f in files] == ["a.wav"]


def test_empty_test_folder_is_a_dry_run_on_train_soundscapes(tmp_path, real_audio):
    comp = _layout(tmp_path, real_audio, train=["t3.ogg", "t1.ogg", "t2.ogg"])
    files, dry_run = choose_soundscapes(comp, dry_run_count=2)
    assert dry_run and [f.parent.name for f in files] == ["train_soundscapes"] * 2
    assert [f.name for f in files] == ["t1.ogg", "t2.ogg"]


def test_two_files_with_one_stem_are_refused_with_both_names(tmp_path, real_audio):
    comp = _layout(tmp_path, real_audio, test=["x.ogg", "x.wav", "y.ogg"])
    with pytest.raises(ValueError, match=r"x\.ogg and .*x\.wav share the name 'x'"):
        choose_soundscapes(comp, dry_run_count=3)
