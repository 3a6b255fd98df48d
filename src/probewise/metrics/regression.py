"""Regression metrics: targets and predictions ``[n]`` (one output; loop over columns for several).

Example:
    >>> from probewise.metrics import mse, pearson, r2
    >>> y, pred = [1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8]
    >>> round(mse(y, pred), 4), round(r2(y, pred), 4), round(pearson(y, pred), 4)
    (0.025, 0.98, 0.9908)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probewise.errors import DataError
from probewise.metrics._checks import check_finite, check_lengths, to_numpy

__all__ = ["mse", "pearson", "r2"]


def _as_values(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x)
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {a.dtype}.")
    if a.ndim != 1:
        raise DataError(f"{name} must be 1-D [n], got shape {a.shape}; evaluate several outputs one column at a time.")
    check_finite(a, name)
    return a.astype(np.float64, copy=False)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _as_values(y_true, "y_true")
    p = _as_values(y_pred, "y_pred")
    check_lengths(y_true=y, y_pred=p)
    return y, p


def _mse_terms(y_true: Any, y_pred: Any) -> np.ndarray:
    y, p = _pair(y_true, y_pred)
    return (y - p) ** 2


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error ``mean((y_true - y_pred)^2)``.

    Example:
        >>> mse([0.0, 1.0], [0.5, 1.0])
        0.125

    Args:
        y_true: Targets ``[n]``.
        y_pred: Predictions ``[n]``.

    Returns:
        MSE >= 0 (lower is better).
    """
    return float(_mse_terms(y_true, y_pred).mean())


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (can be negative: worse than predicting the mean).

    Example:
        >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 2.0])
        0.5

    Args:
        y_true: Targets ``[n]``, not all equal.
        y_pred: Predictions ``[n]``.

    Returns:
        R² <= 1 (higher is better).

    Raises:
        DataError: Constant targets (R² undefined), NaN/inf, length mismatch.
    """
    y, p = _pair(y_true, y_pred)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        raise DataError(f"R² is undefined: all {y.size} targets are equal; use mse or a split with variance.")
    return float(1.0 - np.sum((y - p) ** 2) / ss_tot)


def pearson(y_true: Any, y_pred: Any) -> float:
    """Pearson correlation coefficient between targets and predictions.

    Example:
        >>> pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]) > 0.99
        True

    Args:
        y_true: Targets ``[n]``, not all equal.
        y_pred: Predictions ``[n]``, not all equal.

    Returns:
        Correlation in [-1, 1].

    Raises:
        DataError: A constant input (correlation undefined), fewer than 2 examples, NaN/inf, length mismatch.
    """
    y, p = _pair(y_true, y_pred)
    yc, pc = y - y.mean(), p - p.mean()
    ny, np_ = float(np.linalg.norm(yc)), float(np.linalg.norm(pc))
    if ny == 0.0 or np_ == 0.0:
        which = "y_true" if ny == 0.0 else "y_pred"
        raise DataError(f"Pearson correlation is undefined: {which} is constant over {y.size} example(s).")
    return float(np.clip(np.dot(yc / ny, pc / np_), -1.0, 1.0))
