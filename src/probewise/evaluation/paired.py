"""Paired comparisons of two configurations scored on the same test rows: paired bootstrap, McNemar, Holm.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation.paired import mcnemar_exact, holm
    >>> y = np.array([0, 1] * 10); a = y.copy(); b = y.copy(); b[:3] = 1 - b[:3]
    >>> round(mcnemar_exact(y, a, b), 3), holm([0.01, 0.04, 0.03]).round(2).tolist()
    (0.25, [0.03, 0.06, 0.06])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from probewise.errors import ConfigError


def mcnemar_exact(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for the accuracies of ``pred_a`` and ``pred_b`` on the same rows ``y``."""
    y, a, b = (np.asarray(v) for v in (y, pred_a, pred_b))
    if not (y.shape == a.shape == b.shape):
        raise ConfigError(f"paired predictions need the same rows: got shapes {y.shape}, {a.shape}, {b.shape}")
    ra, rb = a == y, b == y
    n01, n10 = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    if n01 + n10 == 0:
        return 1.0
    return float(binomtest(n01, n01 + n10, 0.5).pvalue)


@dataclass(frozen=True)
class PairedDiff:
    """Score of ``a`` minus score of ``b`` on the same rows, with a percentile interval and a bootstrap p-value."""

    diff: float
    low: float
    high: float
    p_value: float
    n: int


def paired_bootstrap(y, pred_a, pred_b, *, metric=None, n_boot: int = 2000, level: float = 0.95, seed: int = 0):
    """Paired bootstrap of ``metric(y, a) - metric(y, b)`` (accuracy by default): rows are resampled jointly.

    The p-value is two-sided: twice the smaller share of resampled differences on either side of 0 (capped at 1).
    """
    y, a, b = (np.asarray(v) for v in (y, pred_a, pred_b))
    if not (len(y) == len(a) == len(b)) or len(y) == 0:
        raise ConfigError(f"paired predictions need the same non-empty rows: got {len(y)}, {len(a)}, {len(b)}")
    metric = metric or (lambda t, p: float(np.mean(t == p)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    diffs = np.array([metric(y[i], a[i]) - metric(y[i], b[i]) for i in idx])
    lo, hi = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return PairedDiff(metric(y, a) - metric(y, b), float(lo), float(hi), float(p), len(y))


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
