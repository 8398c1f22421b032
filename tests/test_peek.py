"""No label reaches a method: a real job of every track records all it receives, and the test searches it.

The peek method (``engine_faults.Peek``) runs as an ordinary job under the smoke budget and writes a survey of
everything it was handed: every string and numeric array inside its training data, budget, context and test
inputs, every path among them (and open files, and its working folder) with what lies up to three levels below,
and its environment. The test then looks there for the truth the runner holds: the dataset folder (from which
``ground_truth/`` or label files can be read), the cache of derived files (where the fedrec split lies), the
truth's arrays, the file names of the test items, and an order of the test items that groups or alternates their
labels.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from engine_faults import array_hash, row_hashes

from harness.registry import methods
from harness.runner import plan_run, run_plan
from harness.store import Store

#: track -> (truth fields no method may receive, the test input array whose rows identify the items)
CASES = {
    "toy": (("labels",), "features"),
    "anomaly": (("labels", "masks"), "images"),
    "active": (("labels",), "features"),
    "earlyexit": (("labels",), "images"),
    "prompt": (("labels",), "images"),
    "fedrec": (("test_items",), "candidates"),
    "wsol": (("labels",), "images"),
    "reid": (("query_pids", "gallery_pids"), "query"),
    "teaching": (("targets",), "features"),
}
#: track -> the truth field whose order the test order must not show (default ``labels``)
ORDER_LABELS = {"reid": "query_pids", "teaching": "groups"}
#: tracks whose smoke test items, in index order, change label about as often as a random order would
UNGROUPED_INDEX = {
    "reid": "40 of 200 queries (2 per identity) rarely keep a pair side by side",
    "wsol": "the smoke test images are taken one class at a time, so the labels alternate",
    "earlyexit": "the smoke test images are taken one class at a time, so the labels alternate",
}


def _under(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


@pytest.fixture(scope="module", params=sorted(CASES))
def peeked(request, tmp_path_factory, data_root):
    track = request.param
    tmp = tmp_path_factory.mktemp(f"peek-{track}")
    record = tmp / "record.json"
    methods.register(f"{track}-peek", "engine_faults:Peek", replace=True, track=track,
                     config={"record": str(record)}, kind="baseline")
    plan = plan_run(track, budget="smoke", data_root=data_root, method_names=[f"{track}-peek"], seeds=[0])
    plan.jobs = plan.jobs[:1]
    summary = run_plan(plan, Store(tmp / "results"), progress=False)
    assert dict(summary.counts) == {"error": 1}  # the peek method ends its job on purpose, after recording
    job = plan.jobs[0]
    truth = plan.track.load_truth(plan.root, plan.card, job.subset, plan.budget, seed=job.seed)
    inputs = plan.track.load_test_inputs(plan.root, plan.card, job.subset, plan.budget, seed=job.seed)
    return track, plan, json.loads(record.read_text()), truth, inputs, data_root


def test_no_received_string_path_or_reachable_file_leads_to_the_dataset(peeked):
    _, plan, record, _, _, data_root = peeked
    for folder in (plan.root, data_root, plan.cache_root):  # the cache holds derived files: the fedrec split
        assert not [s for s in record["strings"] if str(folder) in s]
        assert not [p for p in record["paths"] + record["reachable"] if _under(p, folder)]
        assert not [k for k, v in record["environ"].items() if str(folder) in v]
        assert not _under(record["cwd"], folder)
    assert "PARBENCH_DATA" not in record["environ"] and "PARBENCH_CACHE" not in record["environ"]


def test_no_received_array_is_the_truth(peeked):
    track, plan, record, truth, _, _ = peeked
    received = {a["sha1"] for a in record["arrays"]}
    for name in CASES[track][0]:
        secret = getattr(truth, name)
        assert array_hash(secret) not in received, name
        if plan.track.shuffle_test:
            assert not {array_hash(secret[np.asarray(order)]) for order in _orders(record, track, peeked[4])} & received


def test_no_received_string_names_a_test_file(peeked):
    _, _, record, truth, _, _ = peeked
    paths = getattr(truth, "paths", [])
    tails = {str(Path(*Path(p).parts[-2:]).with_suffix("")) for p in paths}  # e.g. "crack/003"
    assert not [s for s in record["strings"] for tail in tails if tail in s]


def _orders(record, track, inputs):
    """Index positions of the test items in the order the job received them."""
    field = CASES[track][1]
    value = getattr(inputs, field)
    if isinstance(value, dict):  # one array per modality: an item is the tuple of its rows
        wheres = [f"inputs.{field}[{key!r}]" for key in sorted(value)]
        rows = list(zip(*(next(a["rows"] for a in record["arrays"] if a["where"] == w) for w in wheres), strict=True))
        mine = list(zip(*(row_hashes(value[key]) for key in sorted(value)), strict=True))
    else:
        rows = next(a["rows"] for a in record["arrays"] if a["where"] == f"inputs.{field}")
        mine = row_hashes(value)
    position = {h: i for i, h in enumerate(mine)}
    assert len(position) == len(mine), "the test inputs' rows must identify the items"
    return [[position[h] for h in rows]]


def test_the_order_of_the_test_items_tells_no_label(peeked):
    track, plan, record, truth, inputs, _ = peeked
    if not plan.track.shuffle_test:
        pytest.skip(f"{type(plan.track).__name__}.shuffle_test is False: its test order carries nothing")
    (order,) = _orders(record, track, inputs)
    labels = np.unique(np.asarray(getattr(truth, ORDER_LABELS.get(track, "labels"))), return_inverse=True)[1]
    assert sorted(order) == list(range(len(labels)))
    assert order != list(range(len(labels)))
    received = labels[order]
    changes = int((received[1:] != received[:-1]).sum())
    share = np.bincount(labels) / len(labels)
    expected = (len(labels) - 1) * (1 - float((share**2).sum()))  # label changes of a random order
    assert 0.5 * expected < changes < 1.5 * expected, (changes, expected)
    index_changes = int((labels[1:] != labels[:-1]).sum())
    if track not in UNGROUPED_INDEX:
        assert not 0.5 * expected < index_changes < 1.5 * expected  # the index order itself would tell


def test_fedrec_candidates_hide_the_held_out_item(peeked):
    track, _, _, truth, inputs, _ = peeked
    if track != "fedrec":
        pytest.skip("fedrec only")
    candidates = inputs.candidates
    columns = np.argmax(candidates == truth.test_items[:, None], axis=1)
    assert np.bincount(columns).max() < 0.1 * len(columns)  # no column holds the held-out item


def test_reid_training_data_carries_no_identity(peeked):
    track, plan, record, _, _, data_root = peeked
    if track != "reid":
        pytest.skip("reid only")
    train = plan.track.load_train(plan.root, plan.card, plan.jobs[0].subset, plan.budget)
    received = {a["sha1"] for a in record["arrays"]}
    assert array_hash(train.pids) not in received and array_hash(train.camids) not in received
    hidden = ("train.pids", "train.camids", "inputs.query_camids")
    assert not [a for a in record["arrays"] if a["where"].startswith(hidden)]


def test_the_survey_sees_what_it_should(peeked):
    track, _, record, _, inputs, _ = peeked
    wheres = {a["where"] for a in record["arrays"]}
    assert any(where == f"inputs.{CASES[track][1]}" or where.startswith(f"inputs.{CASES[track][1]}[")
               for where in wheres)
    assert record["cwd"] in record["paths"]
    assert dataclasses.is_dataclass(inputs)
    assert any(where.startswith("train") for where in wheres)
