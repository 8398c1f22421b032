"""The shared figure of a curve diagnostic: one PNG per dataset and subset, one line per method (mean of seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.curves import method_curves

pytest.importorskip("matplotlib")


def _rows():
    records = []
    for subset in ("a", "b"):
        for method, kind in (("m", "method"), ("base", "baseline"), ("ref", "reference")):
            for seed in (0, 1):
                records.append({"job_key": f"{subset}-{method}-{seed}", "dataset": "d", "subset": subset,
                                "method": method, "method_kind": kind, "seed": seed, "status": "ok",
                                "budget": "smoke"})
    return pd.DataFrame(records)


def test_one_png_per_subset_with_a_line_per_method(tmp_path, monkeypatch):
    import matplotlib.axes

    rows = _rows()
    diagnostics = {key: {"curve": np.linspace(0, 1, 5) * (0.5 + 0.1 * i)} for i, key in enumerate(rows["job_key"])}
    drawn = []
    original = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, x, y, **kw: drawn.append((kw["label"], kw["ls"], np.asarray(y))) or
                        original(self, x, y, **kw))
    paths = method_curves(rows, tmp_path / "out", diagnostics, name="curve", x=lambda n: np.arange(n),
                          xlabel="x", ylabel="y", title="t", suffix="curve",
                          styles={"method": ("-", 2.0), "reference": (":", 1.0)}, labels={"reference": " (ref)"},
                          log_x=False)
    assert [p.name for p in paths] == ["d-a-curve.png", "d-b-curve.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    first = drawn[:3]
    assert [(label, ls) for label, ls, _ in first] == [("base", "--"), ("m", "-"), ("ref (ref)", ":")]
    keys = ["a-base-0", "a-base-1"]
    np.testing.assert_allclose(first[0][2], np.mean([diagnostics[k]["curve"] for k in keys], axis=0))


def test_nothing_is_written_without_the_curve(tmp_path):
    assert method_curves(_rows(), tmp_path, {}, name="curve", x=np.arange, xlabel="x", ylabel="y", title="t",
                         suffix="curve") == []
    assert not list(tmp_path.iterdir())
