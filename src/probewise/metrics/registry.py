"""Metrics by name: a registry with the direction of each metric, and one-call evaluation with intervals.

Example:
    >>> import numpy as np
    >>> from probewise.metrics import METRICS, evaluate_classification
    >>> METRICS["log_loss"].greater_is_better, METRICS["auroc"].needs
    (False, 'scores')
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> p = np.clip(0.5 + 0.3 * (2 * y - 1) + 0.2 * rng.normal(size=300), 0, 1)
    >>> res = evaluate_classification(y, p, metrics=("accuracy", "auroc"), n_boot=200, seed=0)
    >>> sorted(res), res["auroc"].n
    (['accuracy', 'auroc'], 300)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from probewise.errors import ConfigError
from probewise.metrics._checks import as_probs, as_scores, to_numpy
from probewise.metrics.bootstrap import Estimate, bootstrap_ci, wilson_ci
from probewise.metrics.calibration import ece
from probewise.metrics.classification import (
    accuracy,
    auprc,
    auroc,
    balanced_accuracy,
    brier,
    log_loss,
    macro_f1,
    top_k_accuracy,
)
from probewise.metrics.regression import mse, pearson, r2
from probewise.metrics.thresholds import tpr_at_fpr

__all__ = [
    "DEFAULT_CLASSIFICATION",
    "DEFAULT_REGRESSION",
    "METRICS",
    "MetricSpec",
    "evaluate_classification",
    "evaluate_regression",
    "get_metric",
]


class MetricSpec(NamedTuple):
    """How to call a metric and how to read it.

    Attributes:
        fn: ``fn(y_true, x) -> float``.
        greater_is_better: Direction for selection (``False`` for losses: log_loss, brier, ece, mse).
        needs: What ``x`` must be — ``"labels"`` (predicted labels ``[n]`` or scores ``[n, k]``, argmax
            taken), ``"scores"`` (``[n]`` or ``[n, k]``, any monotone scale), ``"binary_scores"`` (``[n]``
            positive-class scores), ``"class_scores"`` (``[n, k]``), ``"probs"`` (probabilities ``[n]`` or
            ``[n, k]``), or ``"values"`` (regression predictions ``[n]``).
    """

    fn: Callable[..., float]
    greater_is_better: bool
    needs: str


METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec(accuracy, True, "labels"),
    "balanced_accuracy": MetricSpec(balanced_accuracy, True, "labels"),
    "macro_f1": MetricSpec(macro_f1, True, "labels"),
    "top_k_accuracy": MetricSpec(top_k_accuracy, True, "class_scores"),
    "auroc": MetricSpec(auroc, True, "scores"),
    "auprc": MetricSpec(auprc, True, "scores"),
    "tpr_at_fpr": MetricSpec(tpr_at_fpr, True, "binary_scores"),
    "log_loss": MetricSpec(log_loss, False, "probs"),
    "brier": MetricSpec(brier, False, "probs"),
    "ece": MetricSpec(ece, False, "probs"),
    "r2": MetricSpec(r2, True, "values"),
    "mse": MetricSpec(mse, False, "values"),
    "pearson": MetricSpec(pearson, True, "values"),
}

#: The one parameter a name may carry after ``@``: ``"tpr_at_fpr@0.05"``, ``"top_k_accuracy@5"``, ``"ece@10"``
_PARAMETER: dict[str, tuple[str, type]] = {
    "tpr_at_fpr": ("fpr", float),
    "top_k_accuracy": ("k", int),
    "ece": ("n_bins", int),
}

DEFAULT_CLASSIFICATION = ("accuracy", "balanced_accuracy", "macro_f1", "auroc", "log_loss", "ece")
DEFAULT_REGRESSION = ("r2", "mse", "pearson")


def get_metric(name: str) -> MetricSpec:
    """Look a metric up by name; ``"name@value"`` sets its parameter (fpr, k or n_bins).

    Example:
        >>> spec = get_metric("tpr_at_fpr@0.05")
        >>> spec.greater_is_better, spec.needs, spec.fn.keywords
        (True, 'binary_scores', {'fpr': 0.05})

    Args:
        name: A key of :data:`METRICS`, optionally with ``@value`` for tpr_at_fpr, top_k_accuracy or ece.

    Returns:
        The :class:`MetricSpec` (``fn`` a ``functools.partial`` when a parameter was given).

    Raises:
        ConfigError: Unknown name, or a parameter the metric does not take or that does not parse.
    """
    base, _, param = str(name).partition("@")
    if base not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; choose from {sorted(METRICS)} (or e.g. 'ece@10').")
    spec = METRICS[base]
    if not param:
        return spec
    if base not in _PARAMETER:
        raise ConfigError(f"metric {base!r} takes no '@' parameter; those that do: {sorted(_PARAMETER)}.")
    key, kind = _PARAMETER[base]
    try:
        value = kind(param)
    except ValueError as exc:
        raise ConfigError(f"cannot read {param!r} in {name!r} as {key} ({kind.__name__}).") from exc
    return spec._replace(fn=functools.partial(spec.fn, **{key: value}))


def _prepare(needs: str, probs: np.ndarray) -> np.ndarray:
    """Adapt validated probabilities ``[n]`` or ``[n, k]`` to what a metric needs."""
    if needs == "labels":
        return (probs >= 0.5).astype(np.int64) if probs.ndim == 1 else np.argmax(probs, axis=1)
    if needs == "class_scores" and probs.ndim == 1:
        return np.stack([1.0 - probs, probs], axis=1)
    if needs == "binary_scores" and probs.ndim == 2 and probs.shape[1] == 2:
        return probs[:, 1]
    return probs


def _evaluate(
    task: str, y_true: Any, x: np.ndarray, metrics: Sequence[str], n_boot: int, alpha: float, seed: int
) -> dict[str, Estimate]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    out: dict[str, Estimate] = {}
    y = to_numpy(y_true)
    for name in metrics:
        spec = get_metric(name)
        if (spec.needs == "values") != (task == "regression"):
            other = "evaluate_regression" if spec.needs == "values" else "evaluate_classification"
            raise ConfigError(f"metric {name!r} is not a {task} metric; use it with {other}.")
        arg = x if task == "regression" else _prepare(spec.needs, x)
        wilson = spec.fn is accuracy and n_boot > 0  # a proportion: Wilson's interval stays honest at small n
        est = bootstrap_ci(spec.fn, y, arg, n_boot=0 if wilson else n_boot, alpha=alpha, seed=seed)
        if wilson:  # no resamples drawn only to be thrown away
            low, high = wilson_ci(round(est.value * est.n), est.n, alpha)
            est = Estimate(est.value, low, high, est.n, n_boot, int(seed), est.alpha, 0, "wilson")
        out[name] = est
    return out


def evaluate_classification(
    y_true: Any,
    y_prob: Any,
    metrics: Sequence[str] = DEFAULT_CLASSIFICATION,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Several classification metrics from probabilities, each with a 95% interval.

    Predicted labels are ``argmax`` of ``[n, k]`` probabilities, or ``p >= 0.5`` for ``[n]`` positive-class
    probabilities. Accuracy, a proportion, gets Wilson's score interval (:func:`~probewise.metrics.wilson_ci`,
    ``Estimate.method == "wilson"``: it stays honest on small test sets where a bootstrap collapses to
    ``[1, 1]``); the other metrics get percentile-bootstrap intervals that share the same resamples (same seed
    and n), so they are paired. For
    raw scores or logits, call the metrics and :func:`~probewise.metrics.bootstrap_ci` directly (or apply a
    softmax / :func:`~probewise.metrics.apply_temperature` first).

    Example:
        >>> res = evaluate_classification([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], ("accuracy", "brier"), n_boot=0)
        >>> res["accuracy"].value, round(res["brier"].value, 4)
        (1.0, 0.0925)

    Args:
        y_true: True labels ``[n]``: 0/1 for ``[n]`` probabilities, ``0..k-1`` for ``[n, k]``.
        y_prob: Positive-class probabilities ``[n]`` or class probabilities ``[n, k]`` (rows summing to 1).
        metrics: Names from :data:`METRICS` (``"name@value"`` for a parameter, e.g. ``"tpr_at_fpr@0.05"``).
        n_boot: Bootstrap resamples per metric (0: point estimates only).
        alpha: Miscoverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        ``{name: Estimate}`` in the order of ``metrics``.

    Raises:
        ConfigError: Unknown or regression metric name, bad bootstrap settings.
        DataError: Not probabilities, bad labels, and whatever a metric refuses.
    """
    return _evaluate("classification", y_true, as_probs(y_prob, "y_prob"), metrics, n_boot, alpha, seed)


def evaluate_regression(
    y_true: Any,
    y_pred: Any,
    metrics: Sequence[str] = DEFAULT_REGRESSION,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Several regression metrics, each with a bootstrap interval (paired resamples as above).

    Example:
        >>> res = evaluate_regression([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8], n_boot=0)
        >>> {k: round(v.value, 3) for k, v in res.items()}
        {'r2': 0.98, 'mse': 0.025, 'pearson': 0.991}

    Args:
        y_true: Targets ``[n]``.
        y_pred: Predictions ``[n]``.
        metrics: Regression names from :data:`METRICS` (r2, mse, pearson).
        n_boot: Bootstrap resamples per metric (0: point estimates only).
        alpha: Miscoverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        ``{name: Estimate}`` in the order of ``metrics``.
    """
    return _evaluate("regression", y_true, as_scores(y_pred, "y_pred", allow_2d=False), metrics, n_boot, alpha, seed)
