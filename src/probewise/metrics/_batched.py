"""Bootstrap fast paths: metrics evaluated on many resamples at once, each resample given as example counts.

A resample of ``n`` indices is equivalent to a count vector ``w [n]`` (how often each example was drawn); a
metric that can be written with weighted sums is then evaluated for a whole block of resamples ``W [B, n]``
with a few matrix products, after validating and sorting the data once. Each ``prepare_*`` takes the
metric's own arguments, runs the same checks as the metric, and returns ``stat(W) -> [B]`` where NaN marks a
resample on which the metric is undefined (where the metric itself would raise ``DataError``).

Example:
    >>> import numpy as np
    >>> from probewise.metrics import auroc
    >>> y, s = np.array([0, 1, 0, 1, 1]), np.array([0.1, 0.7, 0.4, 0.3, 0.9])
    >>> w = np.array([[1.0, 1, 1, 1, 1], [2.0, 0, 1, 1, 1]])  # all once; example 0 twice, example 1 dropped
    >>> stat = prepare_auroc(y, s)
    >>> stat(w).round(4).tolist(), auroc(y[[0, 0, 2, 3, 4]], s[[0, 0, 2, 3, 4]])
    ([0.8333, 0.8333], 0.8333333333333334)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse

from probewise.metrics import calibration as _cal
from probewise.metrics import classification as _clf
from probewise.metrics import regression as _reg
from probewise.metrics import thresholds as _thr
from probewise.metrics._checks import (
    as_binary_scores,
    as_labels,
    as_scores,
    check_binary_labels,
    check_fraction,
    check_labels_in_range,
    check_lengths,
)

Stat = Callable[[np.ndarray], np.ndarray]


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """Index matrix ``[B, n]`` → count matrix ``[B, n]`` (float64): how often each example was drawn."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def _onehot(codes: np.ndarray, m: int, values: np.ndarray | None = None) -> sparse.csr_matrix:
    """Sparse ``[n, m]`` matrix with ``values`` (default 1) at ``(i, codes[i])``."""
    n = codes.size
    data = np.ones(n) if values is None else values.astype(np.float64)
    return sparse.csr_matrix((data, (np.arange(n), codes)), shape=(n, m))


def _wsum(w: np.ndarray, m: sparse.csr_matrix) -> np.ndarray:
    """``w @ m`` for dense ``w [B, n]`` and sparse ``m [n, c]`` → dense ``[B, c]``."""
    return np.asarray((m.T @ w.T).T)


def _groups(s: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of the scores and the start of each run of tied scores in that order."""
    order = np.argsort(-s if descending else s, kind="mergesort")
    starts = np.r_[0, np.flatnonzero(np.diff(s[order])) + 1]
    return order, starts


def _group_sums(w: np.ndarray, y: np.ndarray, order: np.ndarray, starts: np.ndarray):
    """Weighted positives and negatives per tie group ``[B, G]``."""
    wo = w[:, order]
    pos = np.add.reduceat(wo * y[order], starts, axis=1)
    neg = np.add.reduceat(wo, starts, axis=1) - pos
    return pos, neg


def _one_vs_rest(y_true: Any, y_score: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    y = as_labels(y_true, "y_true")
    s = as_scores(y_score, "y_score")
    check_lengths(y_true=y, y_score=s)
    if s.ndim == 1:
        check_binary_labels(y)
        return [(y.astype(np.float64), s)]
    check_labels_in_range(y, s.shape[1])
    return [((y == c).astype(np.float64), s[:, c]) for c in range(s.shape[1])]


def prepare_auroc(y_true: Any, y_score: Any) -> Stat:
    """Batched :func:`~probewise.metrics.auroc` (pairwise form, ties count one half)."""
    problems = [(y, *_groups(s, descending=False)) for y, s in _one_vs_rest(y_true, y_score)]

    def stat(w: np.ndarray) -> np.ndarray:
        out = []
        for y, order, starts in problems:
            pos, neg = _group_sums(w, y, order, starts)
            neg_below = np.cumsum(neg, axis=1) - neg
            n_pos, n_neg = pos.sum(1), neg.sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                auc = (pos * (neg_below + 0.5 * neg)).sum(1) / (n_pos * n_neg)
            out.append(np.where((n_pos > 0) & (n_neg > 0), auc, np.nan))
        return np.mean(out, axis=0)

    return stat


def prepare_auprc(y_true: Any, y_score: Any) -> Stat:
    """Batched :func:`~probewise.metrics.auprc` (step-wise average precision)."""
    problems = [(y, *_groups(s, descending=True)) for y, s in _one_vs_rest(y_true, y_score)]

    def stat(w: np.ndarray) -> np.ndarray:
        out = []
        for y, order, starts in problems:
            pos, neg = _group_sums(w, y, order, starts)
            tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                ap = np.where(pos > 0, pos * tp / (tp + fp), 0.0).sum(1) / tp[:, -1]
            out.append(np.where(tp[:, -1] > 0, ap, np.nan))
        return np.mean(out, axis=0)

    return stat


def prepare_tpr_at_fpr(y_true: Any, y_score: Any, fpr: float = 0.01) -> Stat:
    """Batched :func:`~probewise.metrics.tpr_at_fpr`."""
    fpr = check_fraction(fpr, "fpr")
    y = as_labels(y_true, "y_true")
    s = as_binary_scores(y_score, "y_score")
    check_lengths(y_true=y, y_score=s)
    check_binary_labels(y)
    y = y.astype(np.float64)
    order, starts = _groups(s, descending=True)

    def stat(w: np.ndarray) -> np.ndarray:
        pos, neg = _group_sums(w, y, order, starts)
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        n_pos, n_neg = tp[:, -1], fp[:, -1]
        m = np.array([_thr._max_false_positives(fpr, int(k)) if k > 0 else 0 for k in n_neg])
        g = (fp <= m[:, None]).sum(1)  # leading tie groups admitted without exceeding m false positives
        tp_at = np.where(g > 0, tp[np.arange(w.shape[0]), np.maximum(g - 1, 0)], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((n_pos > 0) & (n_neg > 0), tp_at / n_pos, np.nan)

    return stat


def prepare_balanced_accuracy(y_true: Any, y_pred: Any) -> Stat:
    """Batched :func:`~probewise.metrics.balanced_accuracy`."""
    y, p = _clf._label_pair(y_true, y_pred)
    classes, yi = np.unique(y, return_inverse=True)
    hits_m = _onehot(yi, classes.size, (y == p).astype(np.float64))
    support_m = _onehot(yi, classes.size)

    def stat(w: np.ndarray) -> np.ndarray:
        hits, support = _wsum(w, hits_m), _wsum(w, support_m)
        present = support > 0
        recall = np.where(present, hits / np.where(present, support, 1.0), 0.0)
        return recall.sum(1) / present.sum(1)

    return stat


def prepare_macro_f1(y_true: Any, y_pred: Any) -> Stat:
    """Batched :func:`~probewise.metrics.macro_f1` (classes: union of those drawn in y_true and y_pred)."""
    y, p = _clf._label_pair(y_true, y_pred)
    classes, inv = np.unique(np.concatenate([y, p]), return_inverse=True)
    yi, pi = inv[: y.size], inv[y.size :]
    m = classes.size
    tp_m = _onehot(yi, m, (yi == pi).astype(np.float64))
    both_m = _onehot(yi, m) + _onehot(pi, m)  # true count + predicted count = 2tp + fp + fn

    def stat(w: np.ndarray) -> np.ndarray:
        tp, denom = _wsum(w, tp_m), _wsum(w, both_m)
        present = denom > 0
        f1 = np.where(present, 2.0 * tp / np.where(present, denom, 1.0), 0.0)
        return f1.sum(1) / present.sum(1)

    return stat


def prepare_ece(y_true: Any, y_prob: Any, n_bins: int = 15) -> Stat:
    """Batched :func:`~probewise.metrics.ece`: per bin, ``|sum(correct) - sum(confidence)| / n``."""
    n_bins = _cal._check_n_bins(n_bins)
    conf, correct = _cal._top_label(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    gap_m = _onehot(idx, n_bins, correct - conf)

    def stat(w: np.ndarray) -> np.ndarray:
        return np.abs(_wsum(w, gap_m)).sum(1) / w.sum(1)

    return stat


def _drawn_constant(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether the examples drawn in each resample all share one value of ``x``."""
    drawn = w > 0
    return np.where(drawn, x, np.inf).min(1) == np.where(drawn, x, -np.inf).max(1)


def prepare_r2(y_true: Any, y_pred: Any) -> Stat:
    """Batched :func:`~probewise.metrics.r2` (moments of targets centred on the full-data mean)."""
    y, p = _reg._pair(y_true, y_pred)
    yc = y - y.mean()
    moments = np.stack([yc, yc**2, (y - p) ** 2], axis=1)

    def stat(w: np.ndarray) -> np.ndarray:
        s_y, s_yy, s_rr = (w @ moments).T
        ss_tot = s_yy - s_y**2 / w.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(_drawn_constant(w, y), np.nan, 1.0 - s_rr / ss_tot)

    return stat


def prepare_pearson(y_true: Any, y_pred: Any) -> Stat:
    """Batched :func:`~probewise.metrics.pearson` (moments centred on the full-data means)."""
    y, p = _reg._pair(y_true, y_pred)
    yc, pc = y - y.mean(), p - p.mean()
    moments = np.stack([yc, pc, yc**2, pc**2, yc * pc], axis=1)

    def stat(w: np.ndarray) -> np.ndarray:
        s_y, s_p, s_yy, s_pp, s_yp = (w @ moments).T
        total = w.sum(1)
        cov = s_yp - s_y * s_p / total
        var_y, var_p = s_yy - s_y**2 / total, s_pp - s_p**2 / total
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.clip(cov / np.sqrt(var_y * var_p), -1.0, 1.0)
        return np.where(_drawn_constant(w, y) | _drawn_constant(w, p), np.nan, r)

    return stat


#: metric → preparer of its batched form (same arguments as the metric).
PREPARE: dict[Callable[..., float], Callable[..., Stat]] = {
    _clf.auroc: prepare_auroc,
    _clf.auprc: prepare_auprc,
    _thr.tpr_at_fpr: prepare_tpr_at_fpr,
    _clf.balanced_accuracy: prepare_balanced_accuracy,
    _clf.macro_f1: prepare_macro_f1,
    _cal.ece: prepare_ece,
    _reg.r2: prepare_r2,
    _reg.pearson: prepare_pearson,
}
