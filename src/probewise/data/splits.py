"""Train/val/test split assignment: stratified with a seed, or taken from a user's column.

Splits are int8 codes: 0 = train, 1 = val, 2 = test.

Example:
    >>> import numpy as np
    >>> from probewise.data.splits import stratified_split
    >>> split = stratified_split(np.array([0, 1] * 50), val_frac=0.2, test_frac=0.2, seed=0)
    >>> [int((split == s).sum()) for s in (0, 1, 2)]
    [60, 20, 20]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probewise.errors import ConfigError, DataError

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")
_ALIASES = {
    "train": TRAIN, "training": TRAIN,
    "val": VAL, "valid": VAL, "validation": VAL, "dev": VAL,
    "test": TEST, "testing": TEST,
}
SPLIT_ALIASES = _ALIASES  # every accepted split name (lower case) → its code


def check_fractions(val_frac: float, test_frac: float) -> None:
    """Raise ConfigError unless both fractions are in (0, 1) and leave room for training data."""
    for name, f in (("val_frac", val_frac), ("test_frac", test_frac)):
        if not 0.0 < f < 1.0:
            raise ConfigError(f"{name}={f} must be in (0, 1), e.g. 0.15.")
    if val_frac + test_frac >= 1.0:
        raise ConfigError(f"val_frac + test_frac = {val_frac + test_frac} leaves no training data; keep it < 1.")


def _per_class_sizes(n: int, val_frac: float, test_frac: float) -> tuple[int, int]:
    n_val = max(1, int(round(val_frac * n)))
    n_test = max(1, int(round(test_frac * n)))
    if n_val + n_test >= n:
        n_val, n_test = 1, 1
    return n_val, n_test


def stratified_split(
    labels: np.ndarray,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
    *,
    class_names: Sequence[object] | None = None,
) -> np.ndarray:
    """Assign each example to train/val/test, keeping class proportions, from an explicit seed.

    Each class contributes `round(val_frac * n_c)` examples to val and `round(test_frac * n_c)` to test (at least
    one each, and at least one left for train). The same labels and seed give the same split on any machine.

    Args:
        labels: class codes `[n]`.
        val_frac: fraction of each class for validation, in (0, 1).
        test_frac: fraction of each class for test, in (0, 1); `val_frac + test_frac < 1`.
        seed: the seed of the permutation; no global RNG state is touched.
        class_names: names of the codes, used in error messages only.
    Returns:
        int8 `[n]` split codes.
    Raises:
        ConfigError: fractions out of range.
        DataError: a class with fewer than 3 examples.
    """
    check_fractions(val_frac, test_frac)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), dtype=np.int8)
    classes, counts = np.unique(labels, return_counts=True)
    small = [(c, k) for c, k in zip(classes, counts, strict=True) if k < 3]
    if small:
        names = [class_names[int(c)] if class_names is not None else c.item() for c, _ in small]
        desc = ", ".join(f"{name!r} ({int(k)})" for name, (_, k) in zip(names, small, strict=True))
        raise DataError(
            f"a stratified train/val/test split needs at least 3 examples per class, but these classes have fewer: "
            f"{desc}. Add examples, drop those classes, or give your own split column (split_column / "
            "--split-column)."
        )
    for c in classes:
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val, n_test = _per_class_sizes(len(idx), val_frac, test_frac)
        split[idx[:n_val]] = VAL
        split[idx[n_val : n_val + n_test]] = TEST
    return split


def complete_split(
    labels: np.ndarray, split: np.ndarray, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Draw a missing val and/or test split out of the train rows, stratified, from `seed`.

    A user's split (a column, a dataset's own splits, an image-folder layout) often has no validation part
    (train/test only) or no test part; selection needs val and scoring needs test. Each missing part takes
    `val_frac` (or `test_frac`) of every class's train rows, leaving at least one train row per class; a
    class with a single train row stays in train.

    Args:
        labels: class codes `[n]`.
        split: int8 split codes `[n]` with at least one train row.
    Returns:
        the completed split codes `[n]` (a new array) and the names of the parts drawn (`[]`, `["val"]`, ...).
    """
    check_fractions(val_frac, test_frac)
    labels, split = np.asarray(labels), np.array(split, dtype=np.int8)
    need_val, need_test = not (split == VAL).any(), not (split == TEST).any()
    if not (need_val or need_test):
        return split, []
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero((labels == c) & (split == TRAIN)))
        n = len(idx)
        n_val = max(1, int(round(val_frac * n))) if need_val else 0
        n_test = max(1, int(round(test_frac * n))) if need_test else 0
        while n_val + n_test >= n and (n_val or n_test):
            if n_test >= n_val and n_test:
                n_test -= 1
            else:
                n_val -= 1
        split[idx[:n_val]] = VAL
        split[idx[n_val : n_val + n_test]] = TEST
    return split, [name for name, need in (("val", need_val), ("test", need_test)) if need]


def split_from_column(values: Sequence[object]) -> np.ndarray:
    """Map a user's split column (train/val/validation/dev/test, any case) to int8 codes.

    Raises:
        DataError: a value that names no split (listed, with its first row), or no train row at all.
    """
    out = np.empty(len(values), dtype=np.int8)
    unknown: dict[str, int] = {}
    for i, v in enumerate(values):
        key = str(v).strip().lower() if v is not None else ""
        code = _ALIASES.get(key)
        if code is None:
            unknown.setdefault(repr(v), i)
            continue
        out[i] = code
    if unknown:
        desc = ", ".join(f"{v} (first at row {i})" for v, i in list(unknown.items())[:5])
        raise DataError(
            f"the split column holds values that name no split: {desc}. Use train/val/test (also accepted, any "
            "case: training, valid, validation, dev, testing), or drop split_column to split stratified."
        )
    if not (out == TRAIN).any():
        found = ", ".join(f"{int((out == s).sum())} {SPLIT_NAMES[s]}" for s in (VAL, TEST))
        raise DataError(
            f"the split column has no train rows (found {found}); a probe needs training data. Mark some rows "
            "'train', or drop split_column to split stratified."
        )
    return out


def check_split_classes(labels: np.ndarray, split: np.ndarray) -> None:
    """The train split must exist and hold at least two classes."""
    train_classes = np.unique(np.asarray(labels)[np.asarray(split) == TRAIN])
    if len(train_classes) < 2:
        raise DataError(
            f"the train split holds {len(train_classes)} class(es); a probe needs at least two to learn from. "
            "Put examples of every class in train, or drop the split column to split stratified."
        )
