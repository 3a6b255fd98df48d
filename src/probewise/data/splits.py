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


def check_fractions(val_frac: float, test_frac: float) -> None:
    """Raise ConfigError unless both fractions are in (0, 1) and leave room for training data."""
    for name, f in (("val_frac", val_frac), ("test_frac", test_frac)):
        if not 0.0 < f < 1.0:
            raise ConfigError(f"{name}={f} must be in (0, 1), e.g. 0.15.")
    if val_frac + test_frac >= 1.0:
        raise ConfigError(f"val_frac + test_frac = {val_frac + test_frac} leaves no training data; keep it < 1.")


def stratified_split(labels: np.ndarray, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0) -> np.ndarray:
    """Assign each example to train/val/test, keeping class proportions, from an explicit seed.

    Args:
        labels: class codes `[n]`.
    Returns:
        int8 `[n]` split codes.
    """
    check_fractions(val_frac, test_frac)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), dtype=np.int8)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 3:
            raise DataError(
                f"class {c!r} has {len(idx)} example(s); a stratified train/val/test split needs at least 3 "
                "per class. Add examples or give your own split column."
            )
        idx = rng.permutation(idx)
        n_val = max(1, int(round(val_frac * len(idx))))
        n_test = max(1, int(round(test_frac * len(idx))))
        if n_val + n_test >= len(idx):
            n_val, n_test = 1, 1
        split[idx[:n_val]] = VAL
        split[idx[n_val : n_val + n_test]] = TEST
    return split


def split_from_column(values: Sequence[object]) -> np.ndarray:
    """Map a user's split column (train/val/validation/dev/test, any case) to int8 codes."""
    out = np.empty(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        key = str(v).strip().lower()
        if key not in _ALIASES:
            raise DataError(
                f"row {i}: split value {v!r} is not one of train/val/test (also accepted: validation, dev)."
            )
        out[i] = _ALIASES[key]
    if not (out == TRAIN).any():
        raise DataError("the split column has no 'train' rows; a probe needs training data.")
    return out


def check_split_classes(labels: np.ndarray, split: np.ndarray) -> None:
    """Every split that exists must contain at least one example; train must have two classes."""
    train_classes = np.unique(labels[split == TRAIN])
    if len(train_classes) < 2:
        raise DataError(
            "the train split has a single class; a probe cannot learn from it. Re-split with stratification."
        )
