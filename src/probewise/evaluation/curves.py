"""Few-shot draws and learning curves: a probe's score as a function of the labelled data it gets.

Each point repeats its draw ``n_draws`` times with seeds derived from one seed, and carries the mean, the spread
and an interval. The probe enters as ``fit_predict(X_tr, y_tr, X_te)`` (see :mod:`probewise.evaluation.targets`).

Example:
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from probewise.evaluation import few_shot_eval
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5)); y = (X[:, 0] > 0).astype(int)
    >>> fp = lambda a, b, c: LogisticRegression().fit(a, b).predict_proba(c)
    >>> pts = few_shot_eval(fp, X[:200], y[:200], X[200:], y[200:], ks=(1, 10), n_draws=3, seed=0)
    >>> [(p.k, p.n_train, len(p.values)) for p in pts]
    [(1, 2, 3), (10, 20, 3)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from probewise.errors import ConfigError, DataError
from probewise.evaluation.multilabel import fit_multilabel
from probewise.evaluation.targets import (
    FitPredict,
    as_features,
    check_positive_int,
    class_labels,
    index_array,
    resolve_kind,
)
from probewise.metrics import evaluate_classification, evaluate_regression
from probewise.metrics._checks import as_labels, check_lengths, to_numpy

__all__ = ["CurvePoint", "data_efficiency", "few_shot_draws", "few_shot_eval"]


def few_shot_draws(
    labels: Any, train_idx: Any = None, k_per_class: int = 5, n_draws: int = 5, seed: int = 0
) -> list[np.ndarray]:
    """Random few-shot training sets: ``k_per_class`` examples of every class, ``n_draws`` independent times.

    Example:
        >>> draws = few_shot_draws([0, 1, 2] * 10, k_per_class=2, n_draws=3, seed=0)
        >>> len(draws), [d.size for d in draws]
        (3, [6, 6, 6])

    Args:
        labels: Class labels ``[n]`` (all examples; every class among them must be drawable from train).
        train_idx: Indices (or a boolean mask) of the examples to draw from; ``None``: all.
        k_per_class: Examples per class in each draw.
        n_draws: Number of draws.
        seed: Seed of the draws.

    Returns:
        ``n_draws`` sorted int64 index arrays into ``labels``, each of ``k_per_class * n_classes`` examples.

    Raises:
        ConfigError: ``k_per_class`` or ``n_draws`` not a positive integer.
        DataError: Regression or multi-label targets, or a class with fewer than ``k_per_class`` training
            examples (named, with its count).
    """
    y = class_labels(labels, "labels")
    k = check_positive_int(k_per_class, "k_per_class")
    n_draws = check_positive_int(n_draws, "n_draws")
    pool = np.arange(y.size) if train_idx is None else index_array(train_idx, y.size, "train_idx")
    by_class = {int(c): np.sort(pool[y[pool] == c]) for c in np.unique(y)}
    _check_k(by_class, k)
    rng = np.random.default_rng(seed)
    return [np.sort(np.concatenate([rng.choice(idx, k, replace=False) for idx in by_class.values()]))
            for _ in range(n_draws)]


def _check_k(by_class: dict[int, np.ndarray], k: int) -> None:
    for c, idx in by_class.items():
        if idx.size < k:
            smallest = min(v.size for v in by_class.values())
            raise DataError(
                f"class {c} has {idx.size} training example(s), fewer than k_per_class={k}; use k_per_class <= "
                f"{smallest} or add examples of class {c}."
            )


# ----------------------------------------------------------------------------------------------------- curves
@dataclass(frozen=True)
class CurvePoint:
    """One point of a few-shot or data-efficiency curve: a metric summarised over random training draws.

    Attributes:
        k: Examples per class (few-shot), else ``None``.
        fraction: Fraction of the training set (data efficiency), else ``None``.
        n_train: Training examples per draw.
        n_test: Test examples.
        metric: Metric name (``"accuracy"``, ``"r2"``, ...; multi-label: its macro average over attributes).
        mean: Mean over draws.
        low: Lower end of the interval over draws (NaN with one draw).
        high: Upper end of the interval (NaN with one draw).
        std: Standard deviation over draws (ddof=1; NaN with one draw).
        values: The metric of each draw.
        interval: ``"t"`` (Student-t interval of the mean) or ``"percentile"`` (of the draws).
        alpha: Miscoverage of the interval.
        seed: Seed of the draws.
    """

    k: int | None
    fraction: float | None
    n_train: int
    n_test: int
    metric: str
    mean: float
    low: float
    high: float
    std: float
    values: tuple[float, ...]
    interval: str
    alpha: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-ready)."""
        return asdict(self)


def _summarize(values: list[float], interval: str, alpha: float) -> tuple[float, float, float, float]:
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if v.size < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(v.std(ddof=1))
    if interval == "t":
        half = float(stats.t.ppf(1.0 - alpha / 2.0, v.size - 1)) * std / math.sqrt(v.size)
        return mean, mean - half, mean + half, std
    low, high = np.quantile(v, [alpha / 2.0, 1.0 - alpha / 2.0])
    return mean, float(low), float(high), std


def _check_curve_args(interval: str, alpha: float) -> None:
    if interval not in ("t", "percentile"):
        raise ConfigError(f"interval must be 't' or 'percentile', got {interval!r}.")
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}.")


def _subseed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([int(seed), *keys]).generate_state(1)[0])


def _score(kind: str, metric: str, fit_predict: FitPredict, X_tr, y_tr, X_te, y_te) -> float:
    if kind == "multilabel":
        report = fit_multilabel(fit_predict, X_tr, y_tr, X_te, y_te, metrics=(metric,), n_boot=0)
        return report.macro[metric]
    out = to_numpy(fit_predict(X_tr, y_tr, X_te))
    if kind == "regression":
        return evaluate_regression(y_te, out, (metric,), n_boot=0)[metric].value
    return evaluate_classification(y_te, out, (metric,), n_boot=0)[metric].value


def few_shot_eval(
    fit_predict: FitPredict,
    X_tr: Any,
    y_tr: Any,
    X_te: Any,
    y_te: Any,
    ks: Sequence[int] = (1, 5, 10),
    n_draws: int = 5,
    seed: int = 0,
    *,
    metric: str = "accuracy",
    interval: str = "t",
    alpha: float = 0.05,
) -> list[CurvePoint]:
    """Few-shot curve: for each k, fit on ``n_draws`` random k-per-class subsets of train, score on test.

    Example:
        >>> import numpy as np
        >>> from probewise.evaluation import nearest_mean
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 4)); y = (X[:, 0] > 0).astype(int)
        >>> pts = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(2, 50), n_draws=4)
        >>> pts[0].mean < pts[1].mean, pts[1].low <= pts[1].mean <= pts[1].high
        (True, True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) -> probabilities`` ``[n_te]`` or ``[n_te, k]``.
        X_tr: Training features ``[n, d]`` (the pool the draws come from).
        y_tr: Training class labels ``[n]``, codes ``0..k-1``.
        X_te: Test features ``[m, d]``.
        y_te: Test labels ``[m]``.
        ks: Examples per class to try.
        n_draws: Draws per k.
        seed: Seed of the draws (each k gets its own stream derived from it).
        metric: A classification metric name of ``probewise.metrics.METRICS``.
        interval: ``"t"``: mean ± Student-t half-width over draws; ``"percentile"``: quantiles of the draws.
        alpha: Miscoverage of the interval.

    Returns:
        One :class:`CurvePoint` per k.

    Raises:
        DataError: Regression/multi-label targets, or a class with fewer than max(ks) examples (checked before
            any fitting).
    """
    _check_curve_args(interval, alpha)
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    y_tr, y_te = class_labels(y_tr, "y_tr"), as_labels(y_te, "y_te")
    check_lengths(X_tr=X_tr, y_tr=y_tr)
    check_lengths(X_te=X_te, y_te=y_te)
    ks = [check_positive_int(k, "ks entries") for k in ks]
    n_draws = check_positive_int(n_draws, "n_draws")
    by_class = {int(c): np.flatnonzero(y_tr == c) for c in np.unique(y_tr)}
    _check_k(by_class, max(ks))
    points = []
    for k in ks:
        draws = few_shot_draws(y_tr, None, k, n_draws, seed=_subseed(seed, k))
        values = [_score("classification", metric, fit_predict, X_tr[i], y_tr[i], X_te, y_te) for i in draws]
        mean, low, high, std = _summarize(values, interval, alpha)
        points.append(CurvePoint(k, None, int(draws[0].size), int(y_te.size), metric, mean, low, high, std,
                                 tuple(values), interval, float(alpha), int(seed)))
    return points


def _subsample(kind: str, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    if kind in ("binary", "multiclass"):
        parts = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            parts.append(rng.choice(idx, max(1, int(round(fraction * idx.size))), replace=False))
        return np.sort(np.concatenate(parts))
    m = min(len(y), max(2, int(round(fraction * len(y)))))
    return np.sort(rng.choice(len(y), m, replace=False))


def data_efficiency(
    fit_predict: FitPredict,
    X_tr: Any,
    y_tr: Any,
    X_te: Any,
    y_te: Any,
    fractions: Sequence[float] = (0.01, 0.1, 0.5, 1.0),
    n_draws: int = 3,
    seed: int = 0,
    *,
    metric: str | None = None,
    kind: str | None = None,
    interval: str = "t",
    alpha: float = 0.05,
) -> list[CurvePoint]:
    """Data-efficiency curve: the test metric when training on random fractions of the training set.

    Class labels are subsampled per class (at least one example each); regression and multi-label targets
    uniformly (at least two examples). The fraction 1.0 is the whole training set, fitted once.

    Example:
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(500, 8)); y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=500)
        >>> fp = lambda a, b, c: Ridge(alpha=1.0).fit(a, b).predict(c)
        >>> pts = data_efficiency(fp, X[:400], y[:400], X[400:], y[400:], fractions=(0.05, 1.0), n_draws=2)
        >>> [p.metric for p in pts], pts[0].n_train, len(pts[1].values), pts[1].mean > 0.99
        (['r2', 'r2'], 20, 1, True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) -> out`` (probabilities for classes, predictions for regression; for
            multi-label it is called once per attribute, as in :func:`fit_multilabel`).
        X_tr: Training features ``[n, d]``.
        y_tr: Training targets ``[n]`` or ``[n, a]``.
        X_te: Test features ``[m, d]``.
        y_te: Test targets.
        fractions: Fractions of the training set, in (0, 1].
        n_draws: Random subsets per fraction below 1.
        seed: Seed of the subsets.
        metric: Metric name; default ``"accuracy"`` (classes, macro over attributes for multi-label) or ``"r2"``.
        kind: Target kind (see :func:`target_kind`); ``None`` detects it. Pass ``"regression"`` for
            whole-number float targets.
        interval: ``"t"`` or ``"percentile"`` (see :func:`few_shot_eval`).
        alpha: Miscoverage of the interval.

    Returns:
        One :class:`CurvePoint` per fraction.
    """
    _check_curve_args(interval, alpha)
    kind = resolve_kind(y_tr, kind, "y_tr")
    metric = metric or ("r2" if kind == "regression" else "accuracy")
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    y_tr, y_te = to_numpy(y_tr), to_numpy(y_te)
    if kind in ("binary", "multiclass"):
        y_tr, y_te = class_labels(y_tr, "y_tr"), as_labels(y_te, "y_te")
    check_lengths(X_tr=X_tr, y_tr=y_tr)
    check_lengths(X_te=X_te, y_te=y_te)
    n_draws = check_positive_int(n_draws, "n_draws")
    points = []
    for f in fractions:
        if not 0.0 < float(f) <= 1.0:
            raise ConfigError(f"fractions must lie in (0, 1], got {f!r}.")
        rng = np.random.default_rng(_subseed(seed, int(round(float(f) * 1e9))))
        subsets = [np.arange(len(y_tr))] if f == 1.0 else [_subsample(kind, y_tr, f, rng) for _ in range(n_draws)]
        values = [_score(kind, metric, fit_predict, X_tr[i], y_tr[i], X_te, y_te) for i in subsets]
        mean, low, high, std = _summarize(values, interval, alpha)
        points.append(CurvePoint(None, float(f), int(subsets[0].size), int(len(y_te)), metric, mean, low, high,
                                 std, tuple(values), interval, float(alpha), int(seed)))
    return points
