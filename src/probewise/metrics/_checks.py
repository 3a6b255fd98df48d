"""Input checks shared by the metrics: one place that turns array-likes into validated numpy arrays.

Every check raises :class:`~probewise.errors.DataError` (bad data) or :class:`~probewise.errors.ConfigError`
(bad argument) with a message that says what to do.

Example:
    >>> from probewise.metrics._checks import as_labels
    >>> as_labels([0, 1.0, 2]).tolist()
    [0, 1, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError

#: Tolerance on the row sums of ``[n, k]`` probabilities (float32 softmax outputs pass comfortably).
PROB_SUM_ATOL = 1e-4


def to_numpy(x: Any) -> np.ndarray:
    """Array-like (list, numpy, CPU/GPU torch tensor) → numpy array, without copying when possible."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor; probewise.metrics never imports torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise DataError naming how many entries of a float array are NaN or infinite."""
    if a.dtype.kind in "fc":
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        if bad:
            raise DataError(
                f"{name} has {bad} NaN/inf value(s) out of {a.size}; drop or fix those examples first "
                f"(for example with np.isfinite({name}).all(axis=-1) as a mask)."
            )


def check_lengths(**arrays: np.ndarray) -> int:
    """Raise DataError unless every array has the same, non-zero, first dimension; return it."""
    lengths = {name: int(a.shape[0]) if a.ndim else 0 for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise DataError(f"length mismatch: {listed}; pass one entry per example in every array.")
    n = next(iter(lengths.values()))
    if n == 0:
        raise DataError(f"empty input ({', '.join(lengths)} have no examples); a metric needs at least one.")
    return n


def as_labels(y: Any, name: str = "y_true") -> np.ndarray:
    """Validate integer class labels ``[n]`` and return them as int64.

    Integer-valued floats (``1.0``) and booleans are accepted; floats with fractional parts are refused as
    regression targets.
    """
    a = to_numpy(y)
    if a.ndim != 1:
        raise DataError(f"{name} must be 1-D integer class labels [n], got shape {a.shape}.")
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind in "fc":
        check_finite(a, name)
        if a.dtype.kind == "c" or np.any(a != np.round(a)):
            n_unique = np.unique(a).size
            raise DataError(
                f"{name} holds non-integer values ({n_unique} distinct): these look like regression targets. "
                "Classification metrics take integer class labels; use r2/mse/pearson for regression, "
                "or discretise the targets first."
            )
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise DataError(
            f"{name} must hold integer class labels, got dtype {a.dtype}; "
            "map string labels to integers first (e.g. np.unique(y, return_inverse=True)[1])."
        )
    return a.astype(np.int64, copy=False)


def as_scores(s: Any, name: str = "y_score", allow_2d: bool = True) -> np.ndarray:
    """Validate finite scores ``[n]`` (or ``[n, k]`` when ``allow_2d``) and return them as float64."""
    a = to_numpy(s)
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric scores, got dtype {a.dtype}.")
    if a.ndim not in ((1, 2) if allow_2d else (1,)):
        shapes = "[n] or [n, k]" if allow_2d else "[n]"
        raise DataError(f"{name} must have shape {shapes}, got {a.shape}.")
    if a.ndim == 2 and a.shape[1] < 2:
        raise DataError(f"{name} of shape {a.shape} has fewer than 2 columns; pass a 1-D array [n] instead.")
    check_finite(a, name)
    return a.astype(np.float64, copy=False)


def as_binary_scores(s: Any, name: str = "y_score") -> np.ndarray:
    """Validate 1-D positive-class scores ``[n]``; a ``[n, 2]`` input is refused with advice."""
    a = to_numpy(s)
    if a.ndim == 2:
        raise DataError(
            f"{name} has shape {a.shape} but this metric is binary and takes positive-class scores [n]; "
            f"pass {name}[:, 1] for a two-class problem."
        )
    return as_scores(a, name, allow_2d=False)


def check_binary_labels(y: np.ndarray, name: str = "y_true") -> None:
    """Raise DataError unless every label is 0 or 1."""
    extra = np.setdiff1d(np.unique(y), [0, 1])
    if extra.size:
        raise DataError(
            f"{name} must hold binary labels 0/1 for [n] positive-class scores, found {extra[:5].tolist()}; "
            "map the positive class to 1 (e.g. (y == pos_label).astype(int)) or pass [n, k] scores."
        )


def check_labels_in_range(y: np.ndarray, k: int, name: str = "y_true") -> None:
    """Raise DataError unless every label indexes one of the k score columns."""
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= k:
        raise DataError(
            f"{name} holds labels in [{lo}, {hi}] but the scores have {k} columns; labels must be 0..{k - 1} "
            "and index the columns of the scores."
        )


def as_pred_labels(y_pred: Any, name: str = "y_pred") -> np.ndarray:
    """Predicted labels ``[n]``, or class scores ``[n, k]`` reduced by argmax (the first maximum on ties)."""
    a = to_numpy(y_pred)
    if a.ndim == 2:
        return np.argmax(as_scores(a, name), axis=1)
    if a.ndim == 1 and a.dtype.kind == "f":
        check_finite(a, name)
        if np.any(a != np.round(a)):
            raise DataError(
                f"{name} holds non-integer values: this metric takes predicted labels [n] or class scores "
                "[n, k] (argmax is taken). For binary positive-class probabilities pass "
                f"({name} >= 0.5).astype(int)."
            )
    return as_labels(a, name)


def as_probs(p: Any, name: str = "y_prob") -> np.ndarray:
    """Validate probabilities: ``[n]`` positive-class in [0, 1], or ``[n, k]`` rows in [0, 1] summing to 1."""
    a = as_scores(p, name)
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 1.0:
        fix = "a sigmoid" if a.ndim == 1 else "a softmax over the last axis"
        raise DataError(
            f"{name} holds values in [{lo:.4g}, {hi:.4g}], outside [0, 1]: these look like logits, not "
            f"probabilities; apply {fix} first (or apply_temperature(logits, T))."
        )
    if a.ndim == 2:
        sums = a.sum(axis=1)
        bad = int(np.count_nonzero(np.abs(sums - 1.0) > PROB_SUM_ATOL))
        if bad:
            worst = float(sums[np.argmax(np.abs(sums - 1.0))])
            raise DataError(
                f"{bad} row(s) of {name} do not sum to 1 (e.g. {worst:.6g}); "
                "pass probabilities (apply a softmax to logits) rather than renormalising scores here."
            )
    return a


def check_fraction(x: float, name: str) -> float:
    """Raise ConfigError unless 0 < x < 1."""
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number in (0, 1), got {x!r}.") from exc
    if not 0.0 < v < 1.0:
        raise ConfigError(f"{name} must lie strictly between 0 and 1, got {x!r}.")
    return v
