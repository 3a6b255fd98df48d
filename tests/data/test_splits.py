"""Split assignment: stratified from a seed (deterministic, proportions kept), from a column, completed from train."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.data import Examples
from probewise.data.splits import (
    TEST,
    TRAIN,
    VAL,
    check_fractions,
    check_split_classes,
    complete_split,
    split_from_column,
    stratified_split,
)
from probewise.errors import ConfigError, DataError

LABELS = np.repeat([0, 1, 2], [100, 60, 40])


# -- stratified_split ---------------------------------------------------------------------------------------------


def test_same_seed_same_split():
    a = stratified_split(LABELS, 0.15, 0.15, seed=7)
    b = stratified_split(LABELS.copy(), 0.15, 0.15, seed=7)
    assert a.dtype == np.int8
    np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    splits = [stratified_split(LABELS, 0.15, 0.15, seed=s) for s in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert (splits[i] != splits[j]).any()
    # ... but every seed draws the same sizes
    for s in splits:
        assert np.bincount(s, minlength=3).tolist() == np.bincount(splits[0], minlength=3).tolist()


def test_class_proportions_kept():
    split = stratified_split(LABELS, val_frac=0.2, test_frac=0.1, seed=0)
    for c, n in zip((0, 1, 2), (100, 60, 40), strict=True):
        in_c = split[LABELS == c]
        assert int((in_c == VAL).sum()) == round(0.2 * n)
        assert int((in_c == TEST).sum()) == round(0.1 * n)
        assert int((in_c == TRAIN).sum()) == n - round(0.2 * n) - round(0.1 * n)


def test_does_not_touch_global_rng():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    stratified_split(LABELS, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_tiny_classes_get_one_of_each():
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    split = stratified_split(labels, 0.15, 0.15, seed=0)
    for c in (0, 1):
        assert sorted(np.bincount(split[labels == c], minlength=3).tolist()[1:]) == [1, 1]
        assert (split[labels == c] == TRAIN).sum() >= 1


def test_class_with_fewer_than_three_examples_named():
    labels = np.array([0] * 10 + [1] * 2 + [2])
    with pytest.raises(DataError, match=r"at least 3 examples per class.*'rare' \(2\), 'rarest' \(1\).*split column"):
        stratified_split(labels, class_names=("common", "rare", "rarest"))
    with pytest.raises(DataError, match=r"1 \(2\), 2 \(1\)"):
        stratified_split(labels)


@pytest.mark.parametrize(
    ("val", "test", "match"),
    [(0.0, 0.15, "val_frac=0.0 must be in"), (0.15, 1.0, "test_frac=1.0 must be in"), (-0.1, 0.1, "val_frac"),
     (float("nan"), 0.1, "val_frac"), (0.5, 0.5, "leaves no training data"), (0.7, 0.4, "keep it < 1")],
)
def test_fractions_out_of_range(val, test, match):
    with pytest.raises(ConfigError, match=match):
        check_fractions(val, test)
    with pytest.raises(ConfigError, match=match):
        stratified_split(LABELS, val, test)
    with pytest.raises(ConfigError, match=match):
        Examples.from_lists([f"t{i}" for i in range(len(LABELS))], LABELS, val_frac=val, test_frac=test)


# -- split_from_column --------------------------------------------------------------------------------------------


def test_split_column_aliases_any_case():
    values = ["train", "TRAIN ", "Training", "val", "Valid", "validation", "dev", "test", "Testing"]
    assert split_from_column(values).tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_split_column_unknown_values_listed():
    values = ["train", "trian", "test", None, "trian", "holdout"]
    with pytest.raises(DataError, match=r"'trian' \(first at row 1\), None \(first at row 3\), 'holdout' "
                                        r"\(first at row 5\).*Use train/val/test"):
        split_from_column(values)


def test_split_column_without_train():
    with pytest.raises(DataError, match=r"no train rows \(found 2 val, 1 test\).*Mark some rows 'train'"):
        split_from_column(["val", "test", "dev"])


# -- complete_split -----------------------------------------------------------------------------------------------


def test_complete_split_draws_val_from_train_only():
    labels = np.repeat([0, 1], 50)
    given = np.where(np.arange(100) % 5 == 0, TEST, TRAIN).astype(np.int8)
    split, drawn = complete_split(labels, given, val_frac=0.2, test_frac=0.2, seed=0)
    assert drawn == ["val"]
    np.testing.assert_array_equal(split[given == TEST], TEST)  # the user's test rows are untouched
    assert ((given == TRAIN) | (split != VAL)).all()  # val rows come out of train
    for c in (0, 1):
        assert int(((labels == c) & (split == VAL)).sum()) == round(0.2 * 40)
    again, _ = complete_split(labels, given, val_frac=0.2, test_frac=0.2, seed=0)
    np.testing.assert_array_equal(split, again)
    other, _ = complete_split(labels, given, val_frac=0.2, test_frac=0.2, seed=1)
    assert (other != split).any()


def test_complete_split_draws_both_and_leaves_full_splits_alone():
    labels = np.repeat([0, 1], 20)
    split, drawn = complete_split(labels, np.zeros(40, np.int8), seed=0)
    assert drawn == ["val", "test"]
    assert all(((labels == c) & (split == s)).sum() == 3 for c in (0, 1) for s in (VAL, TEST))
    full = np.array([0, 1, 2] * 10, np.int8)
    same, drawn = complete_split(np.arange(30) % 2, full)
    assert drawn == [] and same.tolist() == full.tolist()


def test_complete_split_keeps_a_lone_train_row_in_train():
    labels = np.array([0] * 10 + [1])
    split, _ = complete_split(labels, np.zeros(11, np.int8), seed=0)
    assert split[-1] == TRAIN


def test_examples_with_train_test_column_get_val():
    texts = [f"t{i}" for i in range(40)]
    labels = ["a", "b"] * 20
    ex = Examples.from_lists(texts, labels, split=["train"] * 30 + ["test"] * 10, seed=3)
    assert (ex.split == VAL).sum() > 0 and (ex.split[30:] == TEST).all()
    assert ex.meta["drawn_splits"] == ["val"] and ex.meta["split_seed"] == 3
    full = Examples.from_lists(texts, labels, split=["train"] * 30 + ["val"] * 5 + ["test"] * 5)
    assert "drawn_splits" not in full.meta and full.meta["split_seed"] is None


def test_train_split_with_one_class_refused():
    with pytest.raises(DataError, match="train split holds 1 class"):
        check_split_classes(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 2]))
    with pytest.raises(DataError, match="train split holds 1 class"):
        Examples.from_lists(["a", "b", "c", "d"], [0, 0, 1, 1], split=["train", "train", "val", "test"])
