"""Evaluation metrics: a plain functional core, numpy in and float out, each usable on its own.

Classification (``y_true`` integer labels ``[n]``): :func:`accuracy`, :func:`balanced_accuracy`,
:func:`macro_f1` take predicted labels or ``[n, k]`` scores; :func:`top_k_accuracy`, :func:`auroc`,
:func:`auprc` take scores; :func:`tpr_at_fpr`, :func:`threshold_at_fpr`, :func:`weighted_error` are binary;
:func:`log_loss`, :func:`brier`, :func:`ece`, :func:`reliability_curve` take probabilities;
:func:`fit_temperature` / :func:`apply_temperature` calibrate logits. Regression: :func:`r2`, :func:`mse`,
:func:`pearson`. Intervals: :func:`bootstrap_ci` → :class:`Estimate`; :func:`wilson_ci` for proportions. By
name: :data:`METRICS`, :func:`get_metric`, :func:`evaluate_classification`, :func:`evaluate_regression`.

Example:
    >>> from probewise.metrics import METRICS, accuracy, bootstrap_ci
    >>> accuracy([0, 1, 1], [0, 1, 0])
    0.6666666666666666
    >>> METRICS["accuracy"].greater_is_better
    True
"""

from probewise.metrics.bootstrap import Estimate, bootstrap_ci, wilson_ci
from probewise.metrics.calibration import (
    ReliabilityCurve,
    apply_temperature,
    ece,
    fit_temperature,
    reliability_curve,
)
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
from probewise.metrics.registry import (
    DEFAULT_CLASSIFICATION,
    DEFAULT_REGRESSION,
    METRICS,
    MetricSpec,
    evaluate_classification,
    evaluate_regression,
    get_metric,
)
from probewise.metrics.regression import mse, pearson, r2
from probewise.metrics.thresholds import threshold_at_fpr, tpr_at_fpr, weighted_error

__all__ = [
    "DEFAULT_CLASSIFICATION",
    "DEFAULT_REGRESSION",
    "METRICS",
    "Estimate",
    "MetricSpec",
    "ReliabilityCurve",
    "accuracy",
    "apply_temperature",
    "auprc",
    "auroc",
    "balanced_accuracy",
    "bootstrap_ci",
    "brier",
    "ece",
    "evaluate_classification",
    "evaluate_regression",
    "fit_temperature",
    "get_metric",
    "log_loss",
    "macro_f1",
    "mse",
    "pearson",
    "r2",
    "reliability_curve",
    "threshold_at_fpr",
    "top_k_accuracy",
    "wilson_ci",
    "tpr_at_fpr",
    "weighted_error",
]
