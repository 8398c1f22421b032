import numpy as np

from harness.data import LabelFreeImages
from harness.tracks.earlyexit import EarlyExitImages
from harness.tracks.wsol import WsolImages


def test_take_reorders_and_keeps_the_track_class():
    images = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    order = np.array([2, 0, 3, 1])
    for cls in (LabelFreeImages, WsolImages, EarlyExitImages):
        taken = cls(images).take(order)
        assert type(taken) is cls
        assert len(taken) == 4
        np.testing.assert_array_equal(taken.images, images[order])
