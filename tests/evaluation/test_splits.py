"""Group-aware and k-fold splits against scikit-learn's splitters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

from probewise.errors import ConfigError, DataError
from probewise.evaluation import (
    group_split,
    kfold,
    leave_one_group_out,
)


# ------------------------------------------------------------------------------------------------ group splits
@pytest.mark.parametrize("groups", [np.repeat(np.arange(6), 5), np.array(list("abcabcaabbcd") * 2)])
def test_leave_one_group_out_matches_sklearn(groups) -> None:
    ours = list(leave_one_group_out(groups))
    ref = list(LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups))
    assert len(ours) == len(ref)
    for (tr, te), (rtr, rte) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(tr, rtr)
        np.testing.assert_array_equal(te, rte)


def test_leave_one_group_out_names_group_holding_a_class() -> None:
    groups = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])
    labels = np.array([0, 1, 0, 1, 2, 2])
    with pytest.raises(DataError, match="group 's3' holds all 2 example"):
        leave_one_group_out(groups, labels)  # checked at the call, not at the first fold


def test_string_labels_stratify_like_their_integer_codes() -> None:
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 30, 300)
    y = rng.integers(0, 3, 300)
    names = np.array(["left", "right", "up"])[y]
    np.testing.assert_array_equal(group_split(names, groups, seed=2), group_split(y, groups, seed=2))
    assert [te.tolist() for _, te in leave_one_group_out(groups, names)] == [
        te.tolist() for _, te in leave_one_group_out(groups, y)]
    with pytest.raises(DataError, match="group 's3' holds all 2 example"):
        leave_one_group_out(["s1", "s1", "s2", "s2", "s3", "s3"], ["a", "b", "a", "b", "c", "c"])


def test_group_split_keeps_groups_whole_balanced_and_seeded() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, 1000)
    y = (rng.random(1000) < 0.3).astype(int)
    split = group_split(y, groups, val_frac=0.15, test_frac=0.15, seed=3)
    assert split.dtype == np.int8
    for g in np.unique(groups):
        assert np.unique(split[groups == g]).size == 1
    fracs = np.bincount(split, minlength=3) / split.size
    np.testing.assert_allclose(fracs, [0.7, 0.15, 0.15], atol=0.05)
    for code in (0, 1, 2):  # stratified: every split has both classes at roughly the global rate
        assert abs(y[split == code].mean() - y.mean()) < 0.08
    np.testing.assert_array_equal(split, group_split(y, groups, 0.15, 0.15, seed=3))
    assert not np.array_equal(split, group_split(y, groups, 0.15, 0.15, seed=4))
    assert group_split(None, groups, 0.15, 0.15, seed=3).shape == (1000,)


def test_group_split_names_group_holding_all_of_a_class() -> None:
    groups = np.repeat(["alice", "bob", "carol", "dave"], 5)
    y = np.array([0, 1] * 8 + [2, 2, 2, 2])  # dave holds every example of class 2
    with pytest.raises(DataError, match="group 'dave' holds all 4 example"):
        group_split(y, groups, seed=0)


def test_group_split_bad_input() -> None:
    with pytest.raises(DataError, match="at least 3 groups"):
        group_split([0, 1, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ConfigError):
        group_split([0, 1] * 5, np.arange(10), val_frac=0.6, test_frac=0.5)
    with pytest.raises(DataError, match="regression"):
        group_split(np.linspace(0.1, 3.3, 12), np.arange(12))


# ----------------------------------------------------------------------------------------------------- k-fold
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_kfold_has_stratified_kfold_properties(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=203, p=[0.6, 0.3, 0.1])
    folds = kfold(y, k=k, seed=seed)
    tests = np.concatenate([te for _, te in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(y.size))  # test folds partition the data
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == y.size
    sizes = [te.size for _, te in folds]
    assert max(sizes) - min(sizes) <= 1
    ref = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(y.size), y))
    for c in range(3):
        ours = sorted(int(np.sum(y[te] == c)) for _, te in folds)
        theirs = sorted(int(np.sum(y[te] == c)) for _, te in ref)
        assert ours == theirs  # per-class fold counts within one of each other, as scikit-learn's
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold(y, k=k, seed=seed), strict=True))


def test_kfold_with_groups_has_group_kfold_properties() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 600)
    y = rng.integers(0, 2, 600)
    folds = kfold(y, k=5, seed=0, groups=groups)
    ref = list(GroupKFold(n_splits=5).split(np.zeros(600), y, groups))
    assert len(folds) == len(ref) == 5
    seen = []
    for tr, te in folds:
        assert np.intersect1d(groups[tr], groups[te]).size == 0
        seen.extend(np.unique(groups[te]).tolist())
    assert sorted(seen) == sorted(np.unique(groups).tolist())  # each group in exactly one test fold
    sizes = np.array([te.size for _, te in folds])
    ref_sizes = np.array([te.size for _, te in ref])
    assert sizes.max() / sizes.min() < 1.5 and ref_sizes.max() / ref_sizes.min() < 1.5


def test_kfold_bad_input_and_regression() -> None:
    with pytest.raises(DataError, match="class 2 has 2 example"):
        kfold([0] * 10 + [1] * 10 + [2] * 2, k=3)
    with pytest.raises(ConfigError):
        kfold([0, 1] * 5, k=1)
    with pytest.raises(DataError, match="3 groups"):
        kfold([0, 1] * 6, k=4, groups=np.repeat([0, 1, 2], 4))
    folds = kfold(np.linspace(0.05, 5.05, 23), k=4, seed=0)  # regression: plain shuffled folds
    assert sorted(te.size for _, te in folds) == [5, 6, 6, 6]
