"""Label encoding: class order, kinds of labels, and every refusal with a message that says what to do."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.data.labels import encode_labels, is_missing
from probewise.errors import DataError


def test_strings_sorted_and_coded():
    codes, classes = encode_labels(["pos", "neg", "neutral", "pos"])
    assert classes == ("neg", "neutral", "pos")
    assert codes.dtype == np.int64
    assert codes.tolist() == [2, 0, 1, 2]


def test_ints_sorted_numerically():
    codes, classes = encode_labels([10, 2, 2, 1])
    assert classes == (1, 2, 10)
    assert codes.tolist() == [2, 1, 1, 0]


def test_integer_floats_and_numpy_scalars_read_as_ints():
    codes, classes = encode_labels([np.int64(1), 0.0, np.float32(1.0), 0])
    assert classes == (0, 1)
    assert all(type(c) is int for c in classes)
    assert codes.tolist() == [1, 0, 1, 0]


def test_string_labels_are_stripped():
    codes, classes = encode_labels(["pos", " pos", "neg ", "neg"])
    assert classes == ("neg", "pos")
    assert codes.tolist() == [1, 1, 0, 0]


def test_mixed_kinds_compare_as_strings():
    codes, classes = encode_labels([1, "a", 1, "a"])
    assert classes == ("1", "a")
    assert codes.tolist() == [0, 1, 0, 1]


def test_bools():
    codes, classes = encode_labels([True, False, True])
    assert classes == (False, True)
    assert codes.tolist() == [1, 0, 1]


def test_explicit_classes_keep_their_order():
    codes, classes = encode_labels(["b", "a", "c"], classes=["c", "b", "a"])
    assert classes == ("c", "b", "a")
    assert codes.tolist() == [1, 2, 0]


@pytest.mark.parametrize("value", [None, float("nan"), np.float32("nan"), "", "   "])
def test_missing_labels_name_their_rows(value):
    raw = ["a", "b"] * 4
    raw[3] = value
    raw[6] = value
    with pytest.raises(DataError, match=r"2 of 8 rows have no label .* rows 3, 6 .*Fill them in or drop"):
        encode_labels(raw)


def test_many_missing_rows_are_elided():
    raw = ["a", "b"] + [None] * 10
    with pytest.raises(DataError, match=r"rows 2, 3, 4, 5, 6, \.\.\."):
        encode_labels(raw)


def test_is_missing():
    assert is_missing(None) and is_missing(float("nan")) and is_missing(" ")
    assert not is_missing(0) and not is_missing("0") and not is_missing(False)


def test_single_class_refused():
    with pytest.raises(DataError, match=r"all 5 labels are 'pos', a single class.*at least two.*label column"):
        encode_labels(["pos"] * 5)


def test_continuous_labels_refused():
    with pytest.raises(DataError, match=r"continuous values.*0\.37 at row 1.*bin the values"):
        encode_labels([1.0, 0.37, 2.5])


def test_unhashable_labels_refused():
    with pytest.raises(DataError, match=r"strings or integers.*row 1 holds a list"):
        encode_labels(["a", ["a", "b"], "b"])


def test_label_outside_explicit_classes():
    with pytest.raises(DataError, match=r"labels \['z'\] are not among the classes \['a', 'b'\]"):
        encode_labels(["a", "z", "b"], classes=["a", "b"])


def test_empty_refused():
    with pytest.raises(DataError, match="no labels given"):
        encode_labels([])
