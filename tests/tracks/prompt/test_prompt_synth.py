"""The synthetic attribute objects: deterministic files, novel combinations absent from the pre-training pairs."""

from __future__ import annotations

import hashlib

import numpy as np

from harness.tracks.prompt import synth
from harness.tracks.prompt.loaders import load_synth


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = synth.generate(tmp_path / "a", **synth.PRESETS["tiny"])
    b = synth.generate(tmp_path / "b", **synth.PRESETS["tiny"])
    c = synth.generate(tmp_path / "c", seed=1, **synth.PRESETS["tiny"])
    assert _digest(a) == _digest(b) != _digest(c)


def test_written_set_reads_through_the_coop_loader_with_base_then_novel_classes(tmp_path):
    root = synth.generate(tmp_path / "s", **synth.PRESETS["tiny"])
    index = load_synth(root)
    assert index.class_names[:2] == ("red disc", "red square") and index.n_classes == 12
    assert np.bincount(index.labels["train"]).tolist() == [4] * 12
    assert np.bincount(index.labels["test"]).tolist() == [3] * 12
    novel = {f"{c} {s}" for c, s in synth.NOVEL_COMBOS}
    assert set(index.class_names[6:]) == novel


def test_pretraining_pairs_never_show_a_novel_combination_and_are_deterministic():
    images, captions = synth.pretraining_pairs(300, seed=3, side=16)
    again, captions_again = synth.pretraining_pairs(300, seed=3, side=16)
    assert images.shape == (300, 16, 16, 3) and np.array_equal(images, again) and captions == captions_again
    for text in captions:
        words = text.rstrip(".").split()
        colour = next(w for w in words if w in synth.COLOURS)
        shape = next(w for w in words if w in synth.SHAPES)
        assert (colour, shape) not in synth.NOVEL_COMBOS
    novel_words = {w for combo in synth.NOVEL_COMBOS for w in combo}
    assert novel_words <= {w for text in captions for w in text.rstrip(".").split()}


def test_caption_reads_like_a_template():
    assert synth.caption("red", "disc") == "a photo of a red disc."
    assert synth.caption("blue", "ring", texture="dotted", size="small", background="light") == (
        "a photo of a small blue dotted ring on a light background.")
