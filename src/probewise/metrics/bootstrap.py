"""Percentile-bootstrap confidence intervals for any metric, with a vectorized path for mean-type metrics.

Example:
    >>> import numpy as np
    >>> from probewise.metrics import accuracy, bootstrap_ci
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> pred = np.where(rng.random(500) < 0.8, y, 1 - y)
    >>> est = bootstrap_ci(accuracy, y, pred, n_boot=1000, seed=0)
    >>> bool(est.low < est.value < est.high), est.n, est.n_boot
    (True, 500, 1000)
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from probewise.errors import ConfigError, DataError
from probewise.metrics import _batched
from probewise.metrics import classification as _clf
from probewise.metrics import regression as _reg
from probewise.metrics._checks import check_fraction, check_lengths, to_numpy

__all__ = ["Estimate", "bootstrap_ci", "wilson_ci"]

#: Index-matrix elements drawn per chunk (16 MiB of int64); chunks depend only on n, so every path sees the
#: same resamples for the same seed.
_CHUNK_ELEMENTS = 1 << 21

#: Metrics that are means of per-example terms: their bootstrap is one gather and one mean per chunk.
_TERMS: dict[Callable[..., float], Callable[..., np.ndarray]] = {
    _clf.accuracy: _clf._accuracy_terms,
    _clf.top_k_accuracy: _clf._top_k_terms,
    _clf.log_loss: _clf._log_loss_terms,
    _clf.brier: _clf._brier_terms,
    _reg.mse: _reg._mse_terms,
}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its percentile-bootstrap interval.

    Example:
        >>> str(Estimate(value=0.8125, low=0.79, high=0.834, n=500, n_boot=1000, seed=0))
        '0.8125 [0.7900, 0.8340] (n=500, 95% CI)'

    Attributes:
        value: The metric on the full data.
        low: Lower end of the ``1 - alpha`` interval (NaN when ``n_boot == 0``).
        high: Upper end of the interval (NaN when ``n_boot == 0``).
        n: Number of examples.
        n_boot: Number of resamples drawn (including skipped ones).
        seed: Seed of the resampling.
        alpha: Miscoverage level: the interval is the ``[alpha/2, 1 - alpha/2]`` percentile range.
        n_skipped: Resamples on which the metric was undefined (e.g. one class only for AUROC), left out.
        method: How the interval was made: ``"percentile bootstrap"``, or ``"wilson"`` (accuracy, a proportion:
            :func:`wilson_ci`).
    """

    value: float
    low: float
    high: float
    n: int
    n_boot: int
    seed: int
    alpha: float = 0.05
    n_skipped: int = 0
    method: str = "percentile bootstrap"

    def __str__(self) -> str:
        level = f"{100 * (1 - self.alpha):g}% CI"
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}] (n={self.n}, {level})"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-ready)."""
        return asdict(self)


def _resamples(n: int, n_boot: int, seed: int):
    """Yield index matrices ``[rows, n]`` covering ``n_boot`` resamples; depends on (n, n_boot, seed) only."""
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, size=(min(rows, n_boot - start), n), dtype=np.int64)


def _unwrap(metric_fn: Callable[..., float], kwargs: dict[str, Any]) -> tuple[Callable[..., float], dict]:
    """See through ``functools.partial(fn, **kw)`` so partials of mean-type metrics keep the fast path."""
    while isinstance(metric_fn, functools.partial) and not metric_fn.args:
        kwargs = {**(metric_fn.keywords or {}), **kwargs}
        metric_fn = metric_fn.func
    return metric_fn, kwargs


def bootstrap_ci(
    metric_fn: Callable[..., float],
    *arrays: Any,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    metric_kwargs: Mapping[str, Any] | None = None,
) -> Estimate:
    """Metric value with a percentile-bootstrap confidence interval, resampling examples jointly.

    Each resample draws ``n`` example indices with replacement and applies them to every array alike (labels
    stay paired with their scores). Metrics that are means of per-example terms (accuracy, top-k accuracy,
    log loss, Brier, MSE) are resampled with one vectorized gather; AUROC, AUPRC, TPR at FPR, balanced
    accuracy, macro F1, ECE, R² and Pearson in weighted form on blocks of resamples (see
    ``probewise.metrics._batched``); any other callable (a lambda, your own metric) is called once per
    resample. All paths see the same resamples for the same ``(n, n_boot, seed)``, and so do different metrics, which
    makes intervals of several metrics on the same data paired. Resamples where the metric raises
    :class:`~probewise.errors.DataError` (undefined, e.g. a single class for AUROC) are skipped and counted in
    ``Estimate.n_skipped``; a warning is issued when more than 10% are skipped, as the interval then describes
    only the resamples where the metric exists.

    Example:
        >>> from probewise.metrics import auroc
        >>> y, s = [0, 0, 1, 1, 0, 1, 0, 1], [0.1, 0.3, 0.7, 0.8, 0.4, 0.35, 0.2, 0.9]
        >>> est = bootstrap_ci(auroc, y, s, n_boot=200, seed=1)
        >>> est.value, est.n_boot, est == bootstrap_ci(auroc, y, s, n_boot=200, seed=1)
        (0.9375, 200, True)

    Args:
        metric_fn: ``metric_fn(*arrays, **metric_kwargs) -> float``, e.g. :func:`~probewise.metrics.accuracy`.
        *arrays: Arrays sharing their first dimension ``n`` (e.g. ``y_true [n]`` and ``y_score [n, k]``).
        n_boot: Number of resamples (0: no interval, ``low``/``high`` are NaN).
        alpha: Miscoverage; 0.05 gives a 95% interval.
        seed: Seed of the resampling (integer; no global RNG state is used).
        metric_kwargs: Extra keyword arguments for ``metric_fn`` (e.g. ``{"fpr": 0.05}``).

    Returns:
        An :class:`Estimate`.

    Raises:
        ConfigError: Bad ``n_boot``, ``alpha`` or ``seed``, or no arrays.
        DataError: Length mismatch, the metric undefined on the full data, or on every resample.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ConfigError(f"n_boot must be an integer >= 0, got {n_boot!r}.")
    alpha = check_fraction(alpha, "alpha")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed must be an integer (explicit seeds keep runs reproducible), got {seed!r}.")
    if not arrays:
        raise ConfigError("bootstrap_ci needs arrays to resample, e.g. bootstrap_ci(fn, y, scores).")
    data = [to_numpy(a) for a in arrays]
    if any(a.ndim == 0 for a in data):
        raise DataError("bootstrap_ci resamples along the first axis; got a scalar instead of an array.")
    n = check_lengths(**{f"arrays[{i}]": a for i, a in enumerate(data)})
    kwargs = dict(metric_kwargs or {})
    value = float(metric_fn(*data, **kwargs))
    if n_boot == 0:
        return Estimate(value, math.nan, math.nan, n, 0, int(seed), alpha, 0)

    fn, kw = _unwrap(metric_fn, kwargs)
    stats: list[np.ndarray] = []
    skipped = 0
    if fn in _TERMS:
        terms = _TERMS[fn](*data, **kw)
        for idx in _resamples(n, n_boot, int(seed)):
            stats.append(terms[idx].mean(axis=1))
    elif fn in _batched.PREPARE:
        stat = _batched.PREPARE[fn](*data, **kw)
        for idx in _resamples(n, n_boot, int(seed)):
            values = stat(_batched.counts(idx, n))
            defined = ~np.isnan(values)
            skipped += int(values.size - np.count_nonzero(defined))
            stats.append(values[defined])
    else:
        for idx in _resamples(n, n_boot, int(seed)):
            chunk = []
            for row in idx:
                try:
                    chunk.append(float(metric_fn(*(a[row] for a in data), **kwargs)))
                except DataError:
                    skipped += 1
            stats.append(np.asarray(chunk, dtype=np.float64))
    boot = np.concatenate(stats)
    if boot.size == 0:
        raise DataError(
            f"the metric was undefined on all {n_boot} bootstrap resamples (n={n}); with so few examples of "
            "some class no interval can be given: collect more data or report the point estimate alone."
        )
    if skipped > 0.1 * n_boot:
        warnings.warn(
            f"bootstrap_ci: the metric was undefined on {skipped} of {n_boot} resamples (n={n}); the "
            "interval covers only the resamples where it is defined and is likely too narrow.",
            RuntimeWarning,
            stacklevel=2,
        )
    low, high = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(value, float(low), float(high), n, int(n_boot), int(seed), alpha, skipped)


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``: honest at small n and at 0 or 1.

    A percentile bootstrap of accuracy collapses to ``[1, 1]`` when every test row is right (there is no
    resample with an error); Wilson's interval keeps the uncertainty of n rows: 18 of 18 right gives
    ``[0.82, 1.0]``.

    Example:
        >>> [round(v, 3) for v in wilson_ci(18, 18)]
        [0.824, 1.0]
        >>> [round(v, 3) for v in wilson_ci(80, 100)]
        [0.711, 0.867]

    Args:
        successes: Count of successes (correct predictions), ``0 <= successes <= n``.
        n: Number of trials (test rows), ``n >= 1``.
        alpha: Miscoverage; 0.05 gives a 95% interval.

    Returns:
        ``(low, high)``.
    """
    from statistics import NormalDist

    if n < 1 or not 0 <= successes <= n:
        raise DataError(f"wilson_ci needs 0 <= successes <= n and n >= 1, got successes={successes}, n={n}.")
    alpha = check_fraction(alpha, "alpha")
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
