"""Classification metrics: numpy in, float out.

Conventions used throughout:

* ``y_true`` is ``[n]`` integer class labels (integer-valued floats and booleans are accepted; floats with
  fractional parts are refused as regression targets).
* *Label metrics* (:func:`accuracy`, :func:`balanced_accuracy`, :func:`macro_f1`) take ``y_pred``: predicted
  labels ``[n]`` or class scores ``[n, k]`` (argmax is taken, first maximum on ties).
* *Ranking metrics* (:func:`auroc`, :func:`auprc`, :func:`top_k_accuracy`) take any monotone scores: ``[n]``
  positive-class scores for binary labels 0/1, or ``[n, k]`` per-class scores (probabilities or logits).
* *Probability metrics* (:func:`log_loss`, :func:`brier`) take probabilities: ``[n]`` positive-class
  probabilities, or ``[n, k]`` rows summing to 1.

Example:
    >>> import numpy as np
    >>> from probewise.metrics import accuracy, auroc
    >>> y = np.array([0, 0, 1, 1])
    >>> accuracy(y, [0, 1, 1, 1])
    0.75
    >>> auroc(y, [0.1, 0.4, 0.35, 0.8])
    0.75
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from probewise.errors import ConfigError, DataError
from probewise.metrics._checks import (
    as_labels,
    as_pred_labels,
    as_probs,
    as_scores,
    check_binary_labels,
    check_labels_in_range,
    check_lengths,
)

__all__ = [
    "accuracy",
    "auprc",
    "auroc",
    "balanced_accuracy",
    "brier",
    "log_loss",
    "macro_f1",
    "top_k_accuracy",
]


# --------------------------------------------------------------------------------------------- label metrics
def _label_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y = as_labels(y_true, "y_true")
    p = as_pred_labels(y_pred, "y_pred")
    check_lengths(y_true=y, y_pred=p)
    return y, p


def _accuracy_terms(y_true: Any, y_pred: Any) -> np.ndarray:
    y, p = _label_pair(y_true, y_pred)
    return (y == p).astype(np.float64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples whose predicted label equals the true label.

    Example:
        >>> accuracy([0, 1, 2, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
        0.75

    Args:
        y_true: True labels ``[n]``.
        y_pred: Predicted labels ``[n]``, or class scores ``[n, k]`` (argmax is taken).

    Returns:
        Accuracy in [0, 1].
    """
    return float(_accuracy_terms(y_true, y_pred).mean())


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean over the classes present in ``y_true`` of the per-class recall (scikit-learn's, unadjusted).

    Predicted classes absent from ``y_true`` count only as errors on the classes that are present.

    Example:
        >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
        0.5

    Args:
        y_true: True labels ``[n]``.
        y_pred: Predicted labels ``[n]``, or class scores ``[n, k]`` (argmax is taken).

    Returns:
        Balanced accuracy in [0, 1].
    """
    y, p = _label_pair(y_true, y_pred)
    classes, y_idx = np.unique(y, return_inverse=True)
    hits = np.bincount(y_idx, weights=(y == p), minlength=classes.size)
    support = np.bincount(y_idx, minlength=classes.size)
    return float(np.mean(hits / support))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean of the per-class F1 over the union of true and predicted classes.

    Matches ``sklearn.metrics.f1_score(average="macro")`` (every class in the union has a defined F1).

    Example:
        >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)
        0.7333

    Args:
        y_true: True labels ``[n]``.
        y_pred: Predicted labels ``[n]``, or class scores ``[n, k]`` (argmax is taken; the union then covers
            only classes seen in ``y_true`` or predicted, not all k columns).

    Returns:
        Macro-averaged F1 in [0, 1].
    """
    y, p = _label_pair(y_true, y_pred)
    classes, inv = np.unique(np.concatenate([y, p]), return_inverse=True)
    yi, pi = inv[: y.size], inv[y.size :]
    m = classes.size
    tp = np.bincount(yi[yi == pi], minlength=m)
    denom = np.bincount(yi, minlength=m) + np.bincount(pi, minlength=m)  # 2tp + fp + fn
    return float(np.mean(2.0 * tp / denom))


# ------------------------------------------------------------------------------------------- ranking metrics
def _top_k_terms(y_true: Any, y_score: Any, k: int = 2) -> np.ndarray:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}.")
    y = as_labels(y_true, "y_true")
    s = _as_2d_scores(y_score, "top_k_accuracy")
    n = check_lengths(y_true=y, y_score=s)
    check_labels_in_range(y, s.shape[1])
    true_s = s[np.arange(n), y][:, None]
    # Rank of the true class in a stable descending sort: higher scores, plus ties at a lower index.
    ahead = (s > true_s) | ((s == true_s) & (np.arange(s.shape[1])[None, :] < y[:, None]))
    return (ahead.sum(axis=1) < k).astype(np.float64)


def _as_2d_scores(y_score: Any, metric: str) -> np.ndarray:
    """Scores that must be ``[n, k]``; a 1-D input is refused with advice."""
    s = as_scores(y_score, "y_score")
    if s.ndim != 2:
        raise DataError(
            f"{metric} takes class scores [n, k], got shape {s.shape}; for binary positive-class scores p "
            "pass np.stack([1 - p, p], axis=1)."
        )
    return s


def top_k_accuracy(y_true: Any, y_score: Any, k: int = 2) -> float:
    """Fraction of examples whose true class is among the k highest-scored classes.

    Ties are broken as a stable sort would (the lower class index ranks first), so ``k=1`` agrees with
    :func:`accuracy` on the argmax.

    Example:
        >>> top_k_accuracy([0, 1, 2], [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1]], k=2)
        0.6666666666666666

    Args:
        y_true: True labels ``[n]`` in ``0..k_classes-1``.
        y_score: Class scores or probabilities ``[n, k_classes]``.
        k: How many top classes count as a hit (>= 1; k >= k_classes gives 1.0).

    Returns:
        Top-k accuracy in [0, 1].
    """
    return float(_top_k_terms(y_true, y_score, k).mean())


def _binary_auroc(y: np.ndarray, s: np.ndarray, what: str = "y_true") -> float:
    n_pos = int(np.count_nonzero(y))
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            f"AUROC is undefined: {what} holds only one class ({n_pos} positive, {n_neg} negative); "
            "evaluate on a split containing both classes (e.g. a stratified split)."
        )
    ranks = rankdata(s)  # average ranks on ties = trapezoidal ROC area
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auroc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve; multiclass as the unweighted mean of one-vs-rest AUROCs.

    Ties between scores count one half (the trapezoidal area). For ``[n, k]`` scores every class must be
    present and absent in ``y_true``; pass probabilities to match ``roc_auc_score(multi_class="ovr")``
    (one-vs-rest on raw logits ranks a column on its own, which a softmax can change).

    Example:
        >>> auroc([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.4])
        0.875

    Args:
        y_true: True labels: 0/1 for ``[n]`` scores, or ``0..k-1`` for ``[n, k]`` scores.
        y_score: Positive-class scores ``[n]`` or per-class scores ``[n, k]`` (any monotone scale).

    Returns:
        AUROC in [0, 1]; 0.5 is chance.

    Raises:
        DataError: One class only (AUROC undefined), labels out of range, NaN/inf scores, length mismatch.
    """
    y = as_labels(y_true, "y_true")
    s = as_scores(y_score, "y_score")
    check_lengths(y_true=y, y_score=s)
    if s.ndim == 1:
        check_binary_labels(y)
        return _binary_auroc(y, s)
    check_labels_in_range(y, s.shape[1])
    return float(
        np.mean([_binary_auroc((y == c).astype(np.int64), s[:, c], f"class {c} vs rest") for c in range(s.shape[1])])
    )


def binary_clf_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of false and true positives at each distinct score, predicting positive when ``score >= t``.

    Returns ``(fps, tps, thresholds)`` with thresholds in decreasing order (as scikit-learn's private helper).
    """
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    idx = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    tps = np.cumsum(y_sorted)[idx].astype(np.float64)
    fps = (idx + 1) - tps
    return fps, tps, s_sorted[idx]


def _binary_ap(y: np.ndarray, s: np.ndarray, what: str = "y_true") -> float:
    if not np.any(y):
        raise DataError(f"average precision is undefined: {what} has no positive example; use a split that has one.")
    fps, tps, _ = binary_clf_curve(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def auprc(y_true: Any, y_score: Any) -> float:
    """Average precision: the step-wise area under the precision-recall curve, no interpolation.

    ``AP = sum_t (R_t - R_{t-1}) P_t`` over the distinct score thresholds, as
    ``sklearn.metrics.average_precision_score``; multiclass as the unweighted one-vs-rest mean. Its chance
    level is the positive rate, not 0.5.

    Example:
        >>> round(auprc([0, 1, 0, 1], [0.1, 0.8, 0.4, 0.35]), 4)
        0.8333

    Args:
        y_true: True labels: 0/1 for ``[n]`` scores, or ``0..k-1`` for ``[n, k]`` scores.
        y_score: Positive-class scores ``[n]`` or per-class scores ``[n, k]`` (any monotone scale).

    Returns:
        Average precision in [0, 1].

    Raises:
        DataError: No positive example (for some class), labels out of range, NaN/inf, length mismatch.
    """
    y = as_labels(y_true, "y_true")
    s = as_scores(y_score, "y_score")
    check_lengths(y_true=y, y_score=s)
    if s.ndim == 1:
        check_binary_labels(y)
        return _binary_ap(y, s)
    check_labels_in_range(y, s.shape[1])
    return float(np.mean([_binary_ap((y == c).astype(np.int64), s[:, c], f"class {c}") for c in range(s.shape[1])]))


# ---------------------------------------------------------------------------------------- probability metrics
def _prob_pair(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    y = as_labels(y_true, "y_true")
    p = as_probs(y_prob, "y_prob")
    check_lengths(y_true=y, y_prob=p)
    if p.ndim == 1:
        check_binary_labels(y)
    else:
        check_labels_in_range(y, p.shape[1])
    return y, p


def _log_loss_terms(y_true: Any, y_prob: Any) -> np.ndarray:
    y, p = _prob_pair(y_true, y_prob)
    eps = np.finfo(np.float64).eps
    p_true = np.where(y == 1, p, 1.0 - p) if p.ndim == 1 else p[np.arange(y.size), y]
    return -np.log(np.clip(p_true, eps, 1.0))


def log_loss(y_true: Any, y_prob: Any) -> float:
    """Mean negative log-likelihood (cross-entropy) of the true labels, in nats.

    Probabilities are clipped at float64 machine epsilon, so a confident mistake costs about 36 nats, not inf.
    ``[n, k]`` rows must already sum to 1: the function refuses to renormalise (pass a softmax of logits).

    Example:
        >>> round(log_loss([0, 1], [[0.8, 0.2], [0.4, 0.6]]), 4)
        0.367

    Args:
        y_true: True labels: 0/1 for ``[n]`` probabilities, or ``0..k-1`` for ``[n, k]``.
        y_prob: Positive-class probabilities ``[n]`` or class probabilities ``[n, k]``.

    Returns:
        Log loss >= 0 (lower is better).

    Raises:
        DataError: Values outside [0, 1] (logits?), rows not summing to 1, NaN/inf, bad labels.
    """
    return float(_log_loss_terms(y_true, y_prob).mean())


def _brier_terms(y_true: Any, y_prob: Any) -> np.ndarray:
    y, p = _prob_pair(y_true, y_prob)
    if p.ndim == 1:
        return (p - y) ** 2
    onehot = np.zeros_like(p)
    onehot[np.arange(y.size), y] = 1.0
    sq = ((p - onehot) ** 2).sum(axis=1)
    return sq / 2.0 if p.shape[1] == 2 else sq


def brier(y_true: Any, y_prob: Any) -> float:
    """Brier score: mean squared error of the probabilities against the one-hot labels.

    As ``sklearn.metrics.brier_score_loss`` (``scale_by_half="auto"``): ``mean((p - y)^2)`` for ``[n]``
    positive-class probabilities and for ``[n, 2]`` (range [0, 1]); ``mean(sum_c (p_c - 1[y=c])^2)`` for
    ``[n, k]`` with k > 2 (range [0, 2]).

    Example:
        >>> round(brier([0, 1, 1], [0.1, 0.9, 0.6]), 4)
        0.06

    Args:
        y_true: True labels: 0/1 for ``[n]`` probabilities, or ``0..k-1`` for ``[n, k]``.
        y_prob: Positive-class probabilities ``[n]`` or class probabilities ``[n, k]``.

    Returns:
        Brier score >= 0 (lower is better).
    """
    return float(_brier_terms(y_true, y_prob).mean())
