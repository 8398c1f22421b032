"""The active track: split protocol, evaluation, validation, the shared loop end to end, no leakage, figures."""

from __future__ import annotations

import numpy as np
import pytest

from harness.api import Context, Predictions
from harness.cards import load_card, resolve_dataset
from harness.errors import InvalidPredictionError, ParbenchError
from harness.metrics.curves import area_under_learning_curve
from harness.runner import plan_run, run_plan
from harness.store import Store
from harness.tracks.active import (
    CURVE_PERCENTS,
    ActiveInputs,
    ActiveTrack,
    ActiveTruth,
    QueryStrategy,
    expected_steps,
    make_classifier,
    split_pool,
)

SEED = 0
E2E_METHODS = ["al-margin", "al-random", "triple-measures"]


@pytest.fixture(scope="module")
def suite(data_root):
    card = load_card("classification_suite")
    return resolve_dataset(card, data_root), card


def test_split_is_stratified_disjoint_seeded_and_starts_with_every_class():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    split = split_pool(labels, seed=3, subset="demo", test_fraction=0.3, n_initial=5)
    assert len(split.test) == 30 and not set(split.pool) & set(split.test)
    assert sorted([*split.pool, *split.test]) == list(range(100))
    assert np.bincount(labels[split.test]).tolist() == [15, 9, 6]
    assert len(split.initial) == 5 and set(labels[split.pool][split.initial]) == {0, 1, 2}
    again = split_pool(labels, seed=3, subset="demo", test_fraction=0.3, n_initial=5)
    assert np.array_equal(split.test, again.test) and np.array_equal(split.initial, again.initial)
    other_seed = split_pool(labels, seed=4, subset="demo", test_fraction=0.3, n_initial=5)
    other_subset = split_pool(labels, seed=3, subset="other", test_fraction=0.3, n_initial=5)
    assert not np.array_equal(split.test, other_seed.test) and not np.array_equal(split.test, other_subset.test)
    tiny = split_pool(labels, seed=3, subset="demo", test_fraction=0.3, n_initial=1)
    assert len(tiny.initial) == 3  # raised to one per class


def test_split_refuses_a_class_with_one_row():
    with pytest.raises(ParbenchError, match="class 2 has 1 row"):
        split_pool(np.array([0, 0, 1, 1, 2]), seed=0, subset="demo", test_fraction=0.3, n_initial=3)


def test_expected_steps_of_sequential_and_batch_mode():
    assert expected_steps(10, 4, 1).tolist() == [10, 11, 12, 13, 14]
    assert expected_steps(10, 7, 3).tolist() == [10, 13, 16, 17]


def _truth(n_test=4, steps=(3, 4, 5, 6, 7)):
    return ActiveTruth(np.array([0, 1, 1, 0][:n_test]), 2, 20, np.array([0, 5, 9]), np.array(steps))


def _predictions(labels, *, queried=(1, 2, 3, 4), query_s=(0.1, 0.2, 0.3, 0.4), steps=(3, 4, 5, 6, 7)):
    return Predictions.of(labels=np.asarray(labels), n_labelled=np.array(steps), queried=np.array(queried),
                          query_s=np.array(query_s))


def test_evaluate_against_a_hand_computed_curve():
    labels = [[1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0]]
    accuracy = [0.5, 0.75, 1.0, 1.0, 0.75]
    got = ActiveTrack().evaluate(_predictions(labels), _truth())
    assert got["aulc"] == pytest.approx(area_under_learning_curve([3, 4, 5, 6, 7], accuracy))
    assert got["aulc"] == pytest.approx((0.625 + 0.875 + 1.0 + 0.875) / 4)
    assert got["accuracy_at_25pct"] == 0.75 and got["accuracy_at_50pct"] == 1.0
    assert got["accuracy_at_100pct"] == 0.75 and got["query_s"] == pytest.approx(0.25)
    assert set(got) == set(ActiveTrack.metrics)
    curve = ActiveTrack().diagnostics(_predictions(labels), _truth())["curve"]
    assert curve[0] == 0.5 and curve[-1] == 0.75 and curve[2] == pytest.approx(0.6)  # 0 %, 100 %, 10 %


def test_per_row_results_resample_to_the_evaluated_metrics():
    labels = [[1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0]]
    track, predictions, truth = ActiveTrack(), _predictions(labels), _truth()
    got = track.evaluate(predictions, truth)
    items = track.item_results(predictions, truth)
    once = track.resample_metrics(items, np.ones((1, 4)))
    assert set(once) == {"aulc", "accuracy_at_25pct", "accuracy_at_50pct", "accuracy_at_100pct"}
    for metric, values in once.items():
        assert values[0] == pytest.approx(got[metric]), metric
    # a resample that draws test row 0 four times: the metrics of row 0's own 0/1 curve
    row0 = np.array(labels)[:, 0] == truth.labels[0]
    only = track.resample_metrics(items, np.array([[4.0, 0.0, 0.0, 0.0]]))
    assert only["aulc"][0] == pytest.approx(area_under_learning_curve([3, 4, 5, 6, 7], row0.astype(float)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.zeros((4, 4), dtype=int)}, r"labels'\] must have shape \(5, 4\); got \(4, 4\)"),
        ({"labels": np.full((5, 4), 2)}, r"class numbers in \[0, 2\); got 2..2"),
        ({"steps": (3, 4, 5, 6, 8)}, r"n_labelled'\] must be the budget's steps"),
        ({"queried": (1, 2, 3, 5)}, r"queried'\] must be distinct pool rows in \[0, 20\) outside the initial set"),
        ({"queried": (1, 2, 2, 4)}, r"queried'\] must be distinct pool rows"),
        ({"query_s": (0.1, -0.2, 0.3, 0.4)}, r"query_s'\] must be >= 0 seconds"),
        ({"query_s": (0.1, np.nan, 0.3, 0.4)}, r"query_s'\] must be finite"),
    ],
)
def test_invalid_predictions_name_the_array(kwargs, message):
    labels = kwargs.pop("labels", np.zeros((5, 4), dtype=int))
    with pytest.raises(InvalidPredictionError, match=message):
        ActiveTrack().validate(_predictions(labels, **kwargs), _truth())


def test_loaders_agree_and_test_inputs_carry_no_labels(suite):
    root, card = suite
    track = ActiveTrack()
    budget = track.budget("smoke")
    pool = track.load_train(root, card, "wine", budget, seed=SEED)
    inputs = track.load_test_inputs(root, card, "wine", budget, seed=SEED)
    truth = track.load_truth(root, card, "wine", budget, seed=SEED)
    assert isinstance(inputs, ActiveInputs) and set(vars(inputs)) == {"features"}
    assert len(pool.labels) + len(truth.labels) == 178 and len(inputs.features) == len(truth.labels)
    assert np.allclose(pool.features.mean(axis=0), 0) and np.allclose(pool.features.std(axis=0), 1)
    test_rows = {row.tobytes() for row in inputs.features}
    assert not test_rows & {row.tobytes() for row in pool.features}, "test rows must not be in the pool"
    assert np.array_equal(pool.initial, truth.initial) and truth.n_labelled.tolist() == list(range(3, 16))
    assert set(pool.labels[pool.initial]) == {0, 1, 2}


class _Replay(QueryStrategy):
    """Queries the lowest unlabelled rows; records what the loop showed it."""

    name = "replay"

    def select(self, state):
        self.seen = getattr(self, "seen", []) + [(state.labelled.copy(), state.labels.copy())]
        assert len(state.labels) == len(state.labelled)  # labels of labelled rows only
        return state.unlabelled[: state.batch_size]


@pytest.mark.parametrize("batch_size", [1, 4])
def test_loop_retrains_after_each_batch_and_reveals_only_queried_labels(suite, batch_size):
    root, card = suite
    track = ActiveTrack()
    budget = track.budget("smoke", batch_size=batch_size, label_budget=10)
    pool = track.load_train(root, card, "iris", budget, seed=SEED)
    inputs = track.load_test_inputs(root, card, "iris", budget, seed=SEED)
    truth = track.load_truth(root, card, "iris", budget, seed=SEED)
    method = _Replay()
    method.fit(pool, budget, Context(seed=SEED))
    predictions = method.predict(inputs)
    track.validate(predictions, truth)
    assert predictions["n_labelled"].tolist() == expected_steps(3, 10, batch_size).tolist()
    for step, n_labelled in enumerate(predictions["n_labelled"]):
        rows = np.concatenate([pool.initial, predictions["queried"][: n_labelled - 3]])
        model = make_classifier("logistic_regression", c=1.0, seed=SEED).fit(pool.features[rows], pool.labels[rows])
        np.testing.assert_array_equal(predictions["labels"][step], model.predict(inputs.features))
    for labelled, labels in method.seen:
        np.testing.assert_array_equal(labels, pool.labels[labelled])


def test_smoke_grid_through_the_runner_then_leaderboard_and_figures(data_root, tmp_path):
    pytest.importorskip("skactiveml")
    pytest.importorskip("matplotlib")
    from harness.cli.leaderboard import write_track_leaderboard

    plan = plan_run("active", budget="smoke", data_root=data_root, method_names=E2E_METHODS, seeds=[0, 1])
    assert {j.subset for j in plan.jobs} == {"iris"} and len(plan.jobs) == 6
    summary = run_plan(plan, Store(tmp_path), progress=False, n_jobs=2)
    assert summary.counts == {"ok": 6}, summary.failed
    rows = Store(tmp_path).read("active")
    aulc = rows[rows["metric"] == "aulc"].groupby("method")["value"].mean()
    assert ((aulc > 0.5) & (aulc <= 1)).all()
    md_path = write_track_leaderboard(ActiveTrack(), tmp_path, budget="smoke")
    text = md_path.read_text()
    assert "![classification_suite-iris](active/classification_suite-iris.png)" in text
    assert (tmp_path / "leaderboards" / "active" / "classification_suite-iris.png").stat().st_size > 10_000
    assert "curve_" not in text and "curve_" not in (tmp_path / "leaderboards" / "active.csv").read_text()
    assert not rows["metric"].str.startswith("curve").any()  # the curve is an array beside the rows
    curve = Store(tmp_path).read_arrays("active", rows["job_key"].iloc[0], "diagnostic")["curve"]
    assert curve.shape == (len(CURVE_PERCENTS),) and ((curve >= 0) & (curve <= 1)).all()
    again = plan_run("active", budget="smoke", data_root=data_root, method_names=["al-margin"], seeds=[0])
    run_plan(again, Store(tmp_path / "again"), progress=False)
    first = rows[(rows["method"] == "al-margin") & (rows["seed"] == 0)].set_index("metric")["value"]
    second = Store(tmp_path / "again").read("active").set_index("metric")["value"]
    assert first.loc[["aulc", "accuracy_at_100pct"]].equals(second.loc[["aulc", "accuracy_at_100pct"]])
