"""Group-aware and k-fold splits on plain arrays: no group (subject, document) on both sides of a split.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import kfold
    >>> folds = kfold(np.array([0, 1] * 10), k=4, seed=0)
    >>> len(folds), sorted(len(te) for _, te in folds)
    (4, [5, 5, 5, 5])
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from probewise.data.splits import TEST, TRAIN, VAL, check_fractions
from probewise.errors import ConfigError, DataError
from probewise.evaluation.targets import (
    check_positive_int,
    class_labels,
    target_kind,
)
from probewise.metrics._checks import check_finite, check_lengths, to_numpy

__all__ = ["group_split", "kfold", "leave_one_group_out"]


def _encode_groups(groups: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    g = to_numpy(groups)
    if g.ndim != 1 or g.size == 0:
        raise DataError(f"groups must be a non-empty 1-D array (one group id per example), got shape {g.shape}.")
    if n is not None and g.size != n:
        raise DataError(f"groups has {g.size} entries but labels has {n}; pass one group id per example.")
    if g.dtype.kind == "f":
        check_finite(g, "groups")
    return np.unique(g, return_inverse=True)


def _class_codes(labels: Any) -> np.ndarray:
    """Class codes ``[n]`` for stratifying: string or object labels (``"left"``, ``"right"``) are encoded by
    ``np.unique``; numeric ones go through :func:`class_labels` (regression targets refused)."""
    y = np.asarray(labels)
    if y.dtype.kind in "USO":
        if y.ndim != 1:
            raise DataError(f"labels must be 1-D (one class per example), got shape {y.shape}.")
        return np.unique(y.astype(str), return_inverse=True)[1].astype(np.int64)
    return class_labels(labels, "labels")


def _check_no_class_in_one_group(y: np.ndarray, names: np.ndarray, gid: np.ndarray, what: str) -> None:
    """Raise DataError naming the group when one group holds every example of a class."""
    for c in np.unique(y):
        holders = np.unique(gid[y == c])
        if holders.size == 1 and np.unique(gid).size > 1:
            count = int(np.count_nonzero(y == c))
            raise DataError(
                f"group {names[holders[0]].item()!r} holds all {count} example(s) of class {c}, so {what} cannot put "
                f"class {c} on both sides: add examples of class {c} from other groups, drop the class, or "
                "split without groups."
            )


def _assign_groups(y: np.ndarray, gid: np.ndarray, fracs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Greedy stratified assignment of whole groups to bins with target fractions; returns the bin of each group.

    Groups are visited in random order; each goes to the bin whose per-class counts move closest to their targets
    (squared deviation, each class scaled by its total), ties to the bin furthest below its size target.
    """
    _, yc = np.unique(y, return_inverse=True)
    counts = np.zeros((gid.max() + 1, yc.max() + 1))
    np.add.at(counts, (gid, yc), 1.0)
    totals = counts.sum(axis=0)
    targets = fracs[:, None] * totals[None, :]
    current = np.zeros_like(targets)
    weight = 1.0 / totals**2
    out = np.empty(counts.shape[0], dtype=np.int64)
    for g in rng.permutation(counts.shape[0]):
        delta = (((current + counts[g] - targets) ** 2 - (current - targets) ** 2) * weight).sum(axis=1)
        deficit = (targets - current).sum(axis=1)
        b = int(np.lexsort((-deficit, delta))[0])
        out[g] = b
        current[b] += counts[g]
    return out


def leave_one_group_out(groups: Any, labels: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Folds holding out one group at a time, in sorted group order (scikit-learn's ``LeaveOneGroupOut``).

    Example:
        >>> [(tr.tolist(), te.tolist()) for tr, te in leave_one_group_out(["a", "b", "a", "c"])]
        [([1, 3], [0, 2]), ([0, 2, 3], [1]), ([0, 1, 2], [3])]

    Args:
        groups: Group id per example ``[n]`` (speaker, document, image source, ...).
        labels: Optional class labels ``[n]`` (integers or strings); when given, a group holding every example of
            a class is refused (the fold holding it out would train without that class).

    Returns:
        An iterator of ``(train_idx, test_idx)`` int64 index arrays (inputs are checked at the call).

    Raises:
        DataError: Fewer than two groups, or (with labels) a group holding all examples of a class.
    """
    names, gid = _encode_groups(groups)
    if names.size < 2:
        raise DataError(f"leave-one-group-out needs at least 2 groups, got {names.size}.")
    if labels is not None:
        y = _class_codes(labels)
        check_lengths(labels=y, groups=gid)
        _check_no_class_in_one_group(y, names, gid, "leave-one-group-out")
    return ((np.flatnonzero(gid != g), np.flatnonzero(gid == g)) for g in range(names.size))


def group_split(
    labels: Any, groups: Any, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0
) -> np.ndarray:
    """Train/val/test split codes (0/1/2, as in ``probewise.data.splits``) where no group spans two splits.

    Whole groups are assigned greedily in a seeded random order, each to the split whose class counts it brings
    closest to ``val_frac``/``test_frac``, so classes stay roughly balanced. Fractions are met approximately
    (groups are indivisible). A split missing a class of val/test is warned about; train missing one is refused.

    Example:
        >>> import numpy as np
        >>> y = np.tile([0, 1], 50); g = np.repeat(np.arange(20), 5)
        >>> split = group_split(y, g, val_frac=0.2, test_frac=0.2, seed=0)
        >>> all(np.unique(split[g == k]).size == 1 for k in range(20)), np.bincount(split).tolist()
        (True, [60, 20, 20])

    Args:
        labels: Class labels ``[n]`` to balance, or ``None`` (regression or unlabelled: balance sizes only).
        groups: Group id per example ``[n]``.
        val_frac: Target fraction of examples in val, in (0, 1).
        test_frac: Target fraction in test, in (0, 1); ``val_frac + test_frac < 1``.
        seed: Seed of the group order.

    Returns:
        int8 split codes ``[n]``.

    Raises:
        ConfigError: Bad fractions.
        DataError: Fewer than 3 groups, a group holding all examples of a class (named), an empty split, or a
            class absent from train.
    """
    check_fractions(val_frac, test_frac)
    names, gid = _encode_groups(groups, None if labels is None else len(to_numpy(labels)))
    y = np.zeros(gid.size, np.int64) if labels is None else _class_codes(labels)
    if names.size < 3:
        raise DataError(f"a group-aware train/val/test split needs at least 3 groups, got {names.size}.")
    if labels is not None:
        _check_no_class_in_one_group(y, names, gid, "a group-aware split")
    fracs = np.array([1.0 - val_frac - test_frac, val_frac, test_frac])
    split = _assign_groups(y, gid, fracs, np.random.default_rng(seed)).astype(np.int8)[gid]
    for code, split_name in ((TRAIN, "train"), (VAL, "val"), (TEST, "test")):
        if not np.any(split == code):
            raise DataError(
                f"the {split_name} split received no group ({names.size} groups); use more, smaller groups or "
                "larger fractions."
            )
    classes = np.unique(y)
    missing = np.setdiff1d(classes, y[split == TRAIN])
    if missing.size:
        raise DataError(f"classes {missing.tolist()} ended up outside train; try another seed or more groups.")
    for code, split_name in ((VAL, "val"), (TEST, "test")):
        absent = np.setdiff1d(classes, y[split == code])
        if absent.size:
            warnings.warn(
                f"group_split: the {split_name} split has no example of classes {absent.tolist()}.",
                RuntimeWarning,
                stacklevel=2,
            )
    return split


def kfold(labels: Any, k: int = 5, seed: int = 0, groups: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold cross-validation: stratified for class labels, group-disjoint when ``groups`` is given.

    Without groups, each class is shuffled and dealt round-robin across folds, continuing where the previous
    class stopped: per-class fold counts, and fold sizes, differ by at most one (as ``StratifiedKFold``).
    Regression or multi-label targets get plain shuffled folds. With groups, whole groups are dealt greedily
    (as :func:`group_split`) so that no group is in two test folds (as ``GroupKFold``).

    Example:
        >>> folds = kfold([0, 1] * 10, k=5, seed=0)
        >>> len(folds), sorted(int(i) for _, te in folds for i in te) == list(range(20))
        (5, True)

    Args:
        labels: Targets ``[n]`` (class labels are stratified) or ``[n, a]``.
        k: Number of folds, >= 2.
        seed: Seed of the shuffling.
        groups: Optional group id per example ``[n]``.

    Returns:
        ``k`` pairs ``(train_idx, test_idx)`` of int64 indices; the test folds partition ``0..n-1``.

    Raises:
        ConfigError: ``k < 2``.
        DataError: A class with fewer than ``k`` examples (named with its count), fewer than ``k`` groups, or a
            group holding all examples of a class.
    """
    k = check_positive_int(k, "k")
    if k < 2:
        raise ConfigError(f"k must be >= 2 folds, got {k}.")
    kind = target_kind(labels, "labels")
    y = to_numpy(labels).astype(np.int64) if kind in ("binary", "multiclass") else None
    n = len(to_numpy(labels))
    rng = np.random.default_rng(seed)
    if groups is not None:
        names, gid = _encode_groups(groups, n)
        if names.size < k:
            raise DataError(f"{names.size} groups cannot fill k={k} group-disjoint folds; lower k or add groups.")
        strat = y if y is not None else np.zeros(n, np.int64)
        if y is not None:
            _check_no_class_in_one_group(y, names, gid, "group k-fold")
        fold = _assign_groups(strat, gid, np.full(k, 1.0 / k), rng)[gid]
    else:
        strat = y if y is not None else np.zeros(n, np.int64)
        classes, counts = np.unique(strat, return_counts=True)
        if y is not None and counts.min() < k:
            c = classes[np.argmin(counts)]
            raise DataError(
                f"class {c} has {counts.min()} example(s), fewer than k={k} folds; lower k or add examples of "
                f"class {c}."
            )
        fold = np.empty(n, dtype=np.int64)
        offset = 0
        for c in classes:
            idx = rng.permutation(np.flatnonzero(strat == c))
            fold[idx] = (offset + np.arange(idx.size)) % k
            offset = (offset + idx.size) % k
    if np.unique(fold).size < k:
        raise DataError(f"only {np.unique(fold).size} of k={k} folds received examples; lower k.")
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]
