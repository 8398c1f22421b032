import json
import math

import pandas as pd
import pytest

from harness.errors import ResultsError
from harness.regress import compare, read_reference, write_reference


def _fresh(values):
    return pd.DataFrame(
        [{"dataset": "d", "subset": s, "method": m, "metric": k, "mean": v, "std": 0.0, "n_ok": 1, "n_runs": 1,
          "status": "ok" if v == v else "timeout", "rank": 1} for (s, m, k), v in values.items()]
    )


def test_compare_reports_values_outside_tolerance_and_failed_jobs():
    fresh = _fresh({("s", "a", "acc"): 0.80, ("s", "b", "acc"): math.nan, ("s", "c", "acc"): 0.5})
    ref = pd.DataFrame(
        [["d", "s", "a", "acc", 0.81, 0.02], ["d", "s", "b", "acc", 0.7, 0.01], ["d", "s", "c", "acc", 0.6, 0.05],
         ["d", "s", "gone", "acc", 0.6, 0.05]],
        columns=["dataset", "subset", "method", "metric", "expected", "tolerance"],
    )
    mismatches, n_checked = compare(fresh, ref)
    assert n_checked == 4
    texts = [str(m) for m in mismatches]
    assert texts == [
        "FAIL d/s b acc: job timeout, expected 0.7 ± 0.01",
        "FAIL d/s c acc: got 0.5, expected 0.6 ± 0.05 (off by -0.1)",
        "FAIL d/s gone acc: job missing, expected 0.6 ± 0.05",
    ]


def test_update_keeps_existing_tolerances_and_writes_provenance(tmp_path):
    path = tmp_path / "t.csv"
    write_reference(_fresh({("s", "a", "acc"): 0.8}), path, provenance={"commit": "abc"}, default_tolerance=0.03)
    ref = read_reference(path)
    ref.loc[0, "tolerance"] = 0.001
    ref.to_csv(path, index=False)
    write_reference(_fresh({("s", "a", "acc"): 0.9, ("s", "b", "acc"): 0.4}), path, provenance={"commit": "def"})
    ref = read_reference(path).set_index("method")
    assert ref.loc["a", "tolerance"] == 0.001 and ref.loc["a", "expected"] == 0.9
    assert ref.loc["b", "tolerance"] == 0.02
    assert '"commit": "def"' in path.with_suffix(".provenance.json").read_text()


def test_update_keeps_the_note_on_tolerances(tmp_path):
    path = tmp_path / "t.csv"
    stamp = path.with_suffix(".provenance.json")
    write_reference(_fresh({("s", "a", "acc"): 0.8}), path, provenance={"commit": "abc"})
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "tolerances": "acc: 0.02, one of 50 users"}))
    write_reference(_fresh({("s", "a", "acc"): 0.9}), path, provenance={"commit": "def"})
    written = json.loads(stamp.read_text())
    assert written["tolerances"] == "acc: 0.02, one of 50 users" and written["commit"] == "def"


def test_hardware_metrics_and_costs_stay_out_of_the_reference(tmp_path):
    path = tmp_path / "t.csv"
    fresh = _fresh({("s", "a", "acc"): 0.8, ("s", "a", "speedup_bs1"): 1.7, ("s", "a", "fit_s"): 3.0})
    assert write_reference(fresh, path, provenance={"commit": "abc"}, exclude=("speedup_bs1",)) == 1
    assert read_reference(path)["metric"].tolist() == ["acc"]


def test_missing_reference_says_how_to_create_it(tmp_path):
    with pytest.raises(ResultsError, match="parbench check <track> --update"):
        read_reference(tmp_path / "none.csv")
