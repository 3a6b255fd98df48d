"""Operating points of a binary detector: TPR at a fixed FPR, the threshold that achieves it, weighted error.

All functions here are binary: labels 0/1 (1 = positive) and positive-class scores ``[n]`` where a higher
score means "more positive"; a threshold ``t`` predicts positive when ``score >= t``.

Example:
    >>> import numpy as np
    >>> from probewise.metrics import threshold_at_fpr, tpr_at_fpr
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> s = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9])
    >>> tpr_at_fpr(y, s, fpr=0.25)
    1.0
    >>> t = threshold_at_fpr(y, s, fpr=0.1)
    >>> float(np.mean(s[y == 0] >= t)), float(np.mean(s[y == 1] >= t))
    (0.0, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError
from probewise.metrics._checks import (
    as_binary_scores,
    as_labels,
    as_pred_labels,
    check_binary_labels,
    check_fraction,
    check_lengths,
    to_numpy,
)

__all__ = ["threshold_at_fpr", "tpr_at_fpr", "weighted_error"]


def _max_false_positives(fpr: float, n_neg: int) -> int:
    """The largest m with ``m / n_neg <= fpr`` (in floating point, as an ROC curve's FPR is computed)."""
    m = int(np.floor(fpr * n_neg))
    while m + 1 <= n_neg and (m + 1) / n_neg <= fpr:
        m += 1
    while m > 0 and m / n_neg > fpr:
        m -= 1
    return m


def _split(y_true: Any, y_score: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    y = as_labels(y_true, names[0])
    s = as_binary_scores(y_score, names[1])
    check_lengths(**{names[0]: y, names[1]: s})
    check_binary_labels(y, names[0])
    neg = s[y == 0]
    if neg.size == 0:
        raise DataError(f"{names[0]} has no negative example (label 0); an FPR needs negatives.")
    return neg, s[y == 1]


def _cut(neg: np.ndarray, fpr: float) -> float:
    """The score of the (m+1)-th highest negative: everything strictly above it keeps FPR <= target."""
    m = _max_false_positives(fpr, neg.size)  # < neg.size since fpr < 1
    return float(-np.partition(-neg, m)[m])


def tpr_at_fpr(y_true: Any, y_score: Any, fpr: float = 0.01) -> float:
    """True-positive rate at the best ROC operating point whose false-positive rate is at most ``fpr``.

    Conservative: no interpolation between ROC points. Among the thresholds ``t`` (predict positive when
    ``score >= t``) whose empirical FPR on these negatives is <= ``fpr``, take the one admitting the most
    positives (the smallest such threshold): the highest point of the ROC curve with FPR <= target. This is
    ``max(tpr[fpr_curve <= fpr])`` on ``sklearn.metrics.roc_curve``, and equals the TPR obtained by applying
    :func:`threshold_at_fpr` to the same data. With few negatives the achievable FPRs are coarse (multiples of
    ``1 / n_neg``); below ``1 / n_neg`` no negative may score above the threshold.

    Example:
        >>> tpr_at_fpr([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.8, 0.95], fpr=0.2)
        0.5

    Args:
        y_true: Binary labels ``[n]`` (1 = positive), both classes present.
        y_score: Positive-class scores ``[n]``.
        fpr: Target false-positive rate, strictly between 0 and 1.

    Returns:
        TPR in [0, 1].

    Raises:
        ConfigError: ``fpr`` outside (0, 1).
        DataError: Only one class present, non-binary labels, NaN/inf, length mismatch.
    """
    fpr = check_fraction(fpr, "fpr")
    neg, pos = _split(y_true, y_score, ("y_true", "y_score"))
    if pos.size == 0:
        raise DataError("y_true has no positive example (label 1); a TPR needs positives.")
    return float(np.count_nonzero(pos > _cut(neg, fpr)) / pos.size)


def threshold_at_fpr(y_val: Any, scores_val: Any, fpr: float) -> float:
    """Threshold to use on new data: predicting ``score >= threshold`` has FPR <= ``fpr`` on these negatives.

    Pick it on validation data, then apply it unchanged to test data (the test FPR will scatter around the
    target). The threshold is the smallest value strictly above the ``(m+1)``-th highest negative score, where
    ``m`` is the most false positives the target allows, so it also gives the highest validation TPR among
    thresholds meeting the target. It is computed in the scores' own floating dtype (float32 scores give a
    float32-representable threshold), so comparing in either precision keeps the guarantee.

    Example:
        >>> import numpy as np
        >>> y = np.array([0] * 100 + [1] * 100)
        >>> s = np.random.default_rng(0).normal(size=200) + y
        >>> t = threshold_at_fpr(y, s, fpr=0.05)
        >>> bool(np.mean(s[y == 0] >= t) <= 0.05)
        True

    Args:
        y_val: Binary validation labels ``[n]`` (1 = positive); needs at least one negative.
        scores_val: Positive-class validation scores ``[n]``.
        fpr: Target false-positive rate, strictly between 0 and 1.

    Returns:
        The threshold, a float.

    Raises:
        ConfigError: ``fpr`` outside (0, 1).
        DataError: No negative example, non-binary labels, NaN/inf, length mismatch.
    """
    fpr = check_fraction(fpr, "fpr")
    neg, _ = _split(y_val, scores_val, ("y_val", "scores_val"))
    cut = _cut(neg, fpr)
    dtype = to_numpy(scores_val).dtype
    dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    return float(np.nextafter(dtype.type(cut), dtype.type(np.inf)))


def weighted_error(y_true: Any, y_pred: Any, fpr_cost: float, fnr_cost: float) -> float:
    """Cost-weighted sum of the error rates: ``fpr_cost * FPR + fnr_cost * FNR``.

    Rates, not counts: the result does not depend on the class balance of the evaluation set. With
    ``fpr_cost = fnr_cost = 0.5`` it is the balanced error rate, ``1 - balanced_accuracy``.

    Example:
        >>> weighted_error([0, 0, 1, 1], [0, 1, 1, 1], fpr_cost=10.0, fnr_cost=1.0)
        5.0

    Args:
        y_true: Binary labels ``[n]`` (1 = positive), both classes present.
        y_pred: Predicted binary labels ``[n]``, or ``[n, 2]`` scores (argmax is taken).
        fpr_cost: Cost of the false-positive rate, >= 0.
        fnr_cost: Cost of the false-negative rate, >= 0.

    Returns:
        The weighted error, in ``[0, fpr_cost + fnr_cost]``.

    Raises:
        ConfigError: A negative or non-finite cost, or both costs zero.
        DataError: Only one class present, non-binary labels or predictions, length mismatch.
    """
    costs = []
    for name, c in (("fpr_cost", fpr_cost), ("fnr_cost", fnr_cost)):
        try:
            c = float(c)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name} must be a number >= 0, got {c!r}.") from exc
        if not np.isfinite(c) or c < 0:
            raise ConfigError(f"{name} must be finite and >= 0, got {c!r}.")
        costs.append(c)
    if costs[0] == 0 and costs[1] == 0:
        raise ConfigError("fpr_cost and fnr_cost are both 0; give at least one a positive cost.")
    y = as_labels(y_true, "y_true")
    p = as_pred_labels(y_pred, "y_pred")
    check_lengths(y_true=y, y_pred=p)
    check_binary_labels(y, "y_true")
    check_binary_labels(p, "y_pred")
    n_pos = int(np.count_nonzero(y))
    if n_pos == 0 or n_pos == y.size:
        raise DataError(
            f"weighted error is undefined: y_true holds only one class ({n_pos} positive of {y.size}); "
            "FPR needs negatives and FNR needs positives."
        )
    fpr = np.count_nonzero(p[y == 0] == 1) / (y.size - n_pos)
    fnr = np.count_nonzero(p[y == 1] == 0) / n_pos
    return float(costs[0] * fpr + costs[1] * fnr)
