"""Every registered prompt-track method fits and predicts on the tiny set: shapes, finite scores, learning."""

from __future__ import annotations

import numpy as np
import pytest
from prompt_cases import CARD, TRACK, budget

from harness.api import Context
from harness.errors import ParbenchError
from harness.registry import method_config, methods, methods_of

NAMES = sorted(name for name in methods_of("prompt") if not name.endswith("-peek"))


@pytest.fixture(scope="module")
def data(tiny_root):
    b = budget()
    train = TRACK.load_train(tiny_root, CARD, "shots4", b, seed=0)
    return b, train, TRACK.load_test_inputs(tiny_root, CARD, "shots4", b), TRACK.load_truth(tiny_root, CARD,
                                                                                            "shots4", b)


def _fit(name, data):
    b, train, inputs, truth = data
    cls = methods.get(name)
    method = cls(cls.make_config(method_config(name)))
    method.fit(train, b, Context(seed=0))
    return method, method.predict(inputs), truth


def test_every_method_and_ablation_is_registered():
    assert {"zero-shot", "linear-probe", "coop", "cocoop", "maple", "vpt-shallow", "ammpl", "ammpl-no-image-prompt",
            "ammpl-no-masking", "ammpl-no-text-padding"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_gives_finite_scores_of_every_class(name, data):
    _, predictions, truth = _fit(name, data)
    TRACK.validate(predictions, truth)
    metrics = TRACK.evaluate(predictions, truth)
    assert set(metrics) == set(TRACK.metrics)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())


def test_linear_probe_learns_the_training_classes(data):
    b, train, _, _ = data
    _, predictions, _ = _fit("linear-probe", (b, train, type(data[2])(train.images), None))
    assert np.mean(predictions["logits"].argmax(1) == train.labels) > 2 / train.n_classes  # twice chance


def test_prompt_training_moves_the_scores_and_is_seeded(data):
    _, coop, _ = _fit("coop", data)
    _, again, _ = _fit("coop", data)
    _, zero, _ = _fit("zero-shot", data)
    assert np.array_equal(coop["logits"], again["logits"])
    assert not np.allclose(coop["logits"], zero["logits"])


def test_predict_before_fit_says_so():
    with pytest.raises(ParbenchError, match="before fit"):
        methods.get("coop")().predict(None)
