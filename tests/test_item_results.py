"""Every track's stored per-item results: in the track's item order, and resampled with unit weights they give
back the metrics the job stored (a real smoke job per track through the runner)."""

import numpy as np
import pytest

from harness.registry import tracks
from harness.runner import plan_run, run_plan
from harness.store import Store

CASES = [
    ("toy", "toy-centroid", "easy", "label"),
    ("anomaly", "pixel-gaussian", "nut", "label"),
    ("active", "al-random", "iris", "label"),
    ("fedrec", "popularity", "tiny", None),
]


@pytest.mark.parametrize(("track_name", "method", "subset", "ordered"), CASES)
def test_items_reproduce_the_stored_metrics(track_name, method, subset, ordered, data_root, tmp_path):
    if track_name == "anomaly":
        pytest.importorskip("anomalib")
    if track_name == "active":
        pytest.importorskip("skactiveml")
    plan = plan_run(track_name, budget="smoke", data_root=data_root, method_names=[method], subsets=[subset])
    store = Store(tmp_path)
    summary = run_plan(plan, store, progress=False)
    assert summary.counts == {"ok": len(plan.jobs)}, summary.failed
    track = tracks.get(track_name)()
    rows = store.read(track_name)
    for job in plan.jobs:
        items = store.read_arrays(track_name, job.key, "item")
        assert items, f"{track_name}: no per-item results stored"
        n_items = {len(v) for v in items.values()}
        assert len(n_items) == 1
        once = track.resample_metrics(items, np.ones((1, n_items.pop())))
        assert once, f"{track_name}: no metric is resampled"
        stored = rows[rows["job_key"] == job.key].set_index("metric")["value"]
        for metric, values in once.items():
            assert values[0] == pytest.approx(stored[metric], abs=1e-9), metric
        if ordered:  # the job saw its items shuffled: the stored arrays are back in the track's order
            truth = track.load_truth(plan.root, plan.card, subset, plan.budget, seed=job.seed)
            np.testing.assert_array_equal(items[ordered], truth.labels)


def test_fedrec_diagnostics_are_arrays_not_metric_rows(data_root, tmp_path):
    plan = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["fedmf"])
    store = Store(tmp_path)
    run_plan(plan, store, progress=False)
    rows = store.read("fedrec")
    assert not rows["metric"].str.startswith("spectrum").any()
    diagnostics = store.read_arrays("fedrec", plan.jobs[0].key, "diagnostic")
    assert set(diagnostics) == {"spectrum_global", "spectrum_personal"}
    assert diagnostics["spectrum_global"].shape == (32,) and diagnostics["spectrum_global"][0] == 1.0
