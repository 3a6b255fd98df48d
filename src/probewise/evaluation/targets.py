"""What a target is, and the checks every evaluation function runs on features and labels.

Targets are class labels ``[n]`` (binary or multiclass, codes ``0..k-1``), multi-label 0/1 indicators ``[n, a]``
or float regression targets ``[n]``; :func:`target_kind` tells them apart and refuses what is ambiguous. A probe
enters the evaluation functions as ``fit_predict(X_tr, y_tr, X_te) -> out`` (:data:`FitPredict`): class
probabilities ``[n_te]`` (positive class) or ``[n_te, k]`` for classes, predictions ``[n_te]`` for regression.
Any probe or scikit-learn pipeline plugs in; :func:`nearest_mean` is a reference one.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import target_kind
    >>> target_kind(np.array([0, 1, 1, 0])), target_kind(np.array([0.2, 1.7, 3.1]))
    ('binary', 'regression')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError
from probewise.metrics._checks import as_labels, check_finite, check_lengths, to_numpy

__all__ = [
    "KINDS",
    "FitPredict",
    "as_features",
    "check_positive_int",
    "class_labels",
    "index_array",
    "nearest_mean",
    "resolve_kind",
    "target_kind",
]


KINDS = ("binary", "multiclass", "multilabel", "regression")

#: ``fit_predict(X_tr, y_tr, X_te) -> probabilities [n_te] / [n_te, k], or predictions [n_te] for regression``
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


# ------------------------------------------------------------------------------------------------ input checks
def as_features(X: Any, name: str = "X") -> np.ndarray:
    """Validate finite numeric features ``[n, d]`` (numpy or torch) and return them as a numpy array."""
    a = to_numpy(X)
    if a.ndim != 2:
        raise DataError(f"{name} must be features [n, d], got shape {a.shape}; pool tokens to one vector first.")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric features, got dtype {a.dtype}.")
    check_finite(a, name)
    return a


def check_positive_int(value: Any, name: str) -> int:
    """Raise ConfigError unless ``value`` is an integer >= 1; return it as int."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def target_kind(y: Any, name: str = "y") -> str:
    """Detect what a target array is: ``"binary"``, ``"multiclass"``, ``"multilabel"`` or ``"regression"``.

    Integer (or boolean) ``[n]`` arrays are class labels; floats with fractional parts are regression targets;
    ``[n, a]`` arrays of 0/1 (``a >= 2``) are multi-label indicators. Floats holding only whole numbers are class
    labels when there are two values (``0.0``/``1.0`` as torch often gives) and ambiguous otherwise: ratings or
    counts could be either, so they are refused with the two ways to say which is meant.

    Example:
        >>> target_kind([0, 1, 1]), target_kind([0, 2, 1]), target_kind([0.5, 1.25]), target_kind([[0, 1], [1, 1]])
        ('binary', 'multiclass', 'regression', 'multilabel')

    Args:
        y: Targets ``[n]`` or ``[n, a]`` (numpy, torch or a list).
        name: The argument's name, used in error messages.

    Returns:
        One of :data:`KINDS`.

    Raises:
        DataError: Empty, non-numeric, NaN/inf, a single value, 2-D but not 0/1, or whole-number floats with more
            than two values.
    """
    a = to_numpy(y)
    if a.dtype.kind not in "biuf":
        raise DataError(
            f"{name} must be numeric, got dtype {a.dtype}; map string labels to integers first "
            "(np.unique(y, return_inverse=True)[1])."
        )
    if a.size == 0:
        raise DataError(f"{name} is empty; pass one target per example.")
    check_finite(a, name)
    if a.ndim == 2:
        if a.shape[1] < 2:
            raise DataError(
                f"{name} has shape {a.shape}: pass {name}[:, 0] (1-D) for a single target, or [n, a] with a >= 2 "
                "0/1 columns for multi-label targets."
            )
        extra = np.setdiff1d(np.unique(a), [0, 1])
        if extra.size:
            raise DataError(
                f"2-D {name} {a.shape} is read as multi-label 0/1 indicators but holds other values "
                f"(e.g. {extra[:3].tolist()}); binarise it, or evaluate several regression outputs one column "
                "at a time."
            )
        return "multilabel"
    if a.ndim != 1:
        raise DataError(f"{name} must be [n] (or [n, a] multi-label indicators), got shape {a.shape}.")
    values = np.unique(a)
    if a.dtype.kind == "f":
        if np.any(values != np.round(values)):
            return "regression"
        if values.size > 2:
            preview = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")
            raise DataError(
                f"{name} is float and holds {values.size} distinct whole numbers ({preview}): class labels or a "
                f"regression target on an integer scale? Cast to integers ({name}.astype(int)) for classes, or "
                "pass kind='regression' to treat them as continuous."
            )
    if values.size < 2:
        raise DataError(
            f"{name} holds a single value ({values[0]!r}); a probe needs two classes or varying regression targets."
        )
    return "binary" if values.size == 2 else "multiclass"


def resolve_kind(y: Any, kind: str | None, name: str) -> str:
    if kind is None:
        return target_kind(y, name)
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS} or None (detect), got {kind!r}.")
    return kind


def class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Class labels ``[n]`` as int64 for a classifier path; regression and multi-label targets are refused.

    Example:
        >>> class_labels([0.0, 1.0, 1.0]).tolist()
        [0, 1, 1]
    """
    kind = target_kind(y, name)
    if kind == "regression":
        raise DataError(
            f"{name} holds continuous float values (regression targets); this function needs class labels. "
            "For regression use data_efficiency(..., kind='regression') or metrics.evaluate_regression; "
            "to classify, discretise the targets first (e.g. np.digitize)."
        )
    if kind == "multilabel":
        raise DataError(
            f"{name} is 2-D multi-label indicators {to_numpy(y).shape}; this function needs class labels [n]. "
            "Evaluate each attribute with fit_multilabel."
        )
    return to_numpy(y).astype(np.int64)


def nearest_mean(X_tr: Any, y_tr: Any, X_te: Any) -> np.ndarray:
    """A reference ``fit_predict``: Gaussian class means with one shared isotropic variance (no selection).

    Class ``c`` gets the logit ``-||x - mu_c||^2 / (2 s^2)`` with ``s^2`` the mean squared within-class residual
    per dimension; the softmax of the logits is returned. Cheap, deterministic, and a sanity baseline.

    Example:
        >>> import numpy as np
        >>> p = nearest_mean(np.array([[0.0], [0.2], [2.0], [2.2]]), np.array([0, 0, 1, 1]), np.array([[0.1], [2.1]]))
        >>> p.shape, p.argmax(axis=1).tolist()
        ((2, 2), [0, 1])

    Args:
        X_tr: Training features ``[n, d]``.
        y_tr: Class codes ``[n]`` (``0..k-1``; a class absent from train gets probability 0).
        X_te: Features to score ``[m, d]``.

    Returns:
        Class probabilities ``[m, k]``.
    """
    X = as_features(X_tr, "X_tr").astype(np.float64)
    Z = as_features(X_te, "X_te").astype(np.float64)
    y = as_labels(y_tr, "y_tr")
    check_lengths(X_tr=X, y_tr=y)
    k = int(y.max()) + 1
    present = np.bincount(y, minlength=k) > 0
    means = np.zeros((k, X.shape[1]))
    means[present] = np.stack([X[y == c].mean(axis=0) for c in np.flatnonzero(present)])
    var = max(float(((X - means[y]) ** 2).mean()), 1e-12)
    d2 = (Z**2).sum(1)[:, None] - 2.0 * Z @ means.T + (means**2).sum(1)[None, :]
    logits = np.where(present[None, :], -d2 / (2.0 * var), -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def index_array(idx: Any, n: int, name: str) -> np.ndarray:
    a = to_numpy(idx)
    if a.dtype.kind == "b":
        if a.shape != (n,):
            raise DataError(f"boolean {name} must have shape ({n},), got {a.shape}.")
        return np.flatnonzero(a)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise DataError(f"{name} must be 1-D integer indices or a boolean mask, got {a.dtype} {a.shape}.")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise DataError(f"{name} holds indices outside [0, {n}).")
    if np.unique(a).size != a.size:
        raise DataError(f"{name} holds repeated indices; pass each training example once.")
    return a.astype(np.int64)
