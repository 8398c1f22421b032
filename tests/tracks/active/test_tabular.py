"""The tabular CSV / ARFF loader: values, label encoding, subsets, and one clear error per bad input."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.errors import DataLayoutError, DataMissingError
from harness.tracks.active.tabular import list_subsets, load_subset, load_table

ARFF = """% a tiny ARFF file
@RELATION demo
@ATTRIBUTE width NUMERIC
@ATTRIBUTE height REAL
@ATTRIBUTE class {good,bad}
@DATA
1.5,2,good
3,4.25,bad
5,6,good
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_values_and_sorted_numeric_classes(tmp_path):
    path = _write(tmp_path, "t.csv", "a, b ,label\n1,2.5,10\n3,-4,2\n5,6e-1,10\n")
    table = load_table(path)
    np.testing.assert_array_equal(table.features, [[1, 2.5], [3, -4], [5, 0.6]])
    assert table.features.dtype == np.float64
    assert table.classes == ("2", "10")  # numeric order, not text order
    assert table.labels.tolist() == [1, 0, 1] and table.labels.dtype == np.int64
    assert table.feature_names == ("a", "b") and table.n_classes == 2


def test_label_column_anywhere_and_string_labels(tmp_path):
    path = _write(tmp_path, "t.csv", "species,x\nsetosa,1\nvirginica,2\nversicolor,3\n")
    table = load_table(path, label_column="species")
    assert table.classes == ("setosa", "versicolor", "virginica")
    assert table.labels.tolist() == [0, 2, 1] and table.features[:, 0].tolist() == [1, 2, 3]


def test_arff_nominal_class(tmp_path):
    table = load_table(_write(tmp_path, "t.arff", ARFF), label_column="class")
    np.testing.assert_array_equal(table.features, [[1.5, 2], [3, 4.25], [5, 6]])
    assert table.classes == ("bad", "good") and table.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,label\n1,2,0\n3,,1\n", r"missing value in column 'b' at row 2 \(line 3 of the file\)"),
        ("a,b,label\n1,2,0\n3,4,1\n?,4,1\n", r"missing value in column 'a' at row 3 \(line 4 of the file\)"),
        ("a,b,label\n1,2,0\n3,4,\n", r"missing value in column 'label' at row 2"),
        ("a,b,label\n1,red,0\n3,4,1\n", r"column 'b' at row 1 \(line 2 of the file\) holds 'red', not a number"),
        ("a,b,label\n1,2,0\n3,4,0\n", r"label column 'label' holds one class \('0'\)"),
        ("a,b,label\n", "no data rows below the header"),
    ],
)
def test_bad_csv_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(DataLayoutError, match=message):
        load_table(_write(tmp_path, "bad.csv", text))


def test_unknown_label_column_names_it_and_lists_columns(tmp_path):
    path = _write(tmp_path, "t.csv", "a,b,class\n1,2,0\n3,4,1\n")
    with pytest.raises(DataLayoutError, match=r"label column 'label' does not exist; columns: a, b, class") as info:
        load_table(path)
    assert "--set label_column=NAME" in str(info.value) and str(path) in str(info.value)


def test_arff_missing_value_names_column_and_row(tmp_path):
    path = _write(tmp_path, "t.arff", ARFF.replace("3,4.25,bad", "3,?,bad"))
    with pytest.raises(DataLayoutError, match=r"missing value in column 'height' at row 2"):
        load_table(path, label_column="class")


def test_missing_file_and_wrong_extension(tmp_path):
    with pytest.raises(DataMissingError, match=r"nope.csv does not exist"):
        load_table(tmp_path / "nope.csv")
    with pytest.raises(DataLayoutError, match=r"extension '.txt' is not read; use one of .csv, .arff"):
        load_table(_write(tmp_path, "t.txt", "a,label\n1,0\n"))


def test_subsets_are_file_stems_and_missing_subset_lists_them(tmp_path):
    _write(tmp_path, "one.csv", "a,label\n1,0\n2,1\n")
    _write(tmp_path, "two.arff", ARFF)
    _write(tmp_path, "notes.txt", "ignored")
    assert list_subsets(tmp_path) == ["one", "two"]
    assert load_subset(tmp_path, "one").labels.tolist() == [0, 1]
    assert load_subset(tmp_path, "two", label_column="class").n_classes == 2
    with pytest.raises(DataMissingError, match=r"no file three.csv or three.arff; subsets present: one, two"):
        load_subset(tmp_path, "three")
    assert list_subsets(tmp_path / "absent") == []
