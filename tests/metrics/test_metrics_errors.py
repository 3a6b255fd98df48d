"""Bad input raises the right error type with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.errors import ConfigError, DataError
from probewise.metrics import (
    accuracy,
    apply_temperature,
    auprc,
    auroc,
    balanced_accuracy,
    bootstrap_ci,
    brier,
    ece,
    fit_temperature,
    log_loss,
    macro_f1,
    mse,
    pearson,
    r2,
    reliability_curve,
    threshold_at_fpr,
    top_k_accuracy,
    tpr_at_fpr,
    weighted_error,
)
from tests.conftest import run_doctests

Y = np.array([0, 1, 0, 1, 1, 0])
S = np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.4])
P3 = np.full((6, 3), 1 / 3)
SCORE_METRICS = [auroc, auprc, tpr_at_fpr, log_loss, brier, ece]


@pytest.mark.parametrize("fn", SCORE_METRICS + [threshold_at_fpr])
def test_nan_and_inf_scores_name_the_count(fn) -> None:
    s = S.copy()
    s[[0, 3]] = np.nan
    with pytest.raises(DataError, match="2 NaN/inf"):
        fn(Y, s) if fn is not threshold_at_fpr else fn(Y, s, 0.1)
    s = S.copy()
    s[1] = np.inf
    with pytest.raises(DataError, match="1 NaN/inf"):
        fn(Y, s) if fn is not threshold_at_fpr else fn(Y, s, 0.1)


def test_nan_in_multiclass_scores_and_labels() -> None:
    p = P3.copy()
    p[2, 1] = np.nan
    with pytest.raises(DataError, match="1 NaN/inf"):
        auroc([0, 1, 2, 0, 1, 2], p)
    with pytest.raises(DataError, match="1 NaN/inf"):
        accuracy([0, 1, np.nan], [0, 1, 1])


@pytest.mark.parametrize(
    "fn", [accuracy, balanced_accuracy, macro_f1, auroc, auprc, tpr_at_fpr, log_loss, brier, ece, mse, r2, pearson]
)
def test_length_mismatch(fn) -> None:
    second = Y[:5] if fn in (accuracy, balanced_accuracy, macro_f1) else S[:5]
    with pytest.raises(DataError, match="length mismatch"):
        fn(Y, second)


def test_empty_input() -> None:
    with pytest.raises(DataError, match="empty"):
        accuracy([], [])


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan"), "x"])
def test_target_fpr_outside_unit_interval(bad) -> None:
    with pytest.raises(ConfigError):
        tpr_at_fpr(Y, S, fpr=bad)
    with pytest.raises(ConfigError):
        threshold_at_fpr(Y, S, fpr=bad)


def test_one_class_is_undefined() -> None:
    with pytest.raises(DataError, match="one class"):
        auroc([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(DataError, match="class 2 vs rest"):
        auroc([0, 1, 0, 1, 0, 1], P3)
    with pytest.raises(DataError, match="no positive"):
        auprc([0, 0, 0], [0.2, 0.5, 0.9])
    with pytest.raises(DataError, match="no positive"):
        tpr_at_fpr([0, 0, 0], [0.2, 0.5, 0.9])
    with pytest.raises(DataError, match="no negative"):
        threshold_at_fpr([1, 1], [0.2, 0.5], 0.1)
    with pytest.raises(DataError, match="one class"):
        weighted_error([1, 1], [0, 1], 1.0, 1.0)


def test_probabilities_must_be_probabilities() -> None:
    rows_off = np.array([[0.5, 0.6], [0.2, 0.7]])
    for fn in (log_loss, brier, ece):
        with pytest.raises(DataError, match="softmax"):
            fn([0, 1], rows_off)
    with pytest.raises(DataError, match="logits"):
        log_loss([0, 1], [[2.0, -1.0], [0.5, 0.5]])
    with pytest.raises(DataError, match="sigmoid"):
        log_loss([0, 1], [-0.3, 1.2])


def test_regression_targets_refused_by_classification_metrics() -> None:
    y = np.random.default_rng(0).normal(size=6)
    for fn in (accuracy, auroc, log_loss, balanced_accuracy):
        with pytest.raises(DataError, match="regression"):
            fn(y, S)


def test_label_shape_and_range() -> None:
    with pytest.raises(DataError, match="binary labels"):
        auroc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="columns"):
        auroc([0, 1, 3, 0, 1, 2], P3)
    with pytest.raises(DataError, match="1-D"):
        accuracy(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(DataError, match="string labels|integer"):
        accuracy(["a", "b"], [0, 1])
    with pytest.raises(DataError, match="predicted labels"):
        accuracy([0, 1], [0.2, 0.7])
    with pytest.raises(DataError, match=r"\[n, k\]"):
        top_k_accuracy([0, 1], [0.2, 0.7])
    with pytest.raises(DataError, match=r"\[:, 1\]"):
        tpr_at_fpr([0, 1], [[0.8, 0.2], [0.3, 0.7]])


def test_config_errors() -> None:
    for k in (0, -1, 1.5, True):
        with pytest.raises(ConfigError):
            top_k_accuracy([0, 1], P3[:2], k=k)
    for n_bins in (0, 2.0):
        with pytest.raises(ConfigError):
            ece(Y, S, n_bins=n_bins)
        with pytest.raises(ConfigError):
            reliability_curve(Y, S, n_bins=n_bins)
    for t in (0.0, -1.0, float("inf"), None):
        with pytest.raises(ConfigError):
            apply_temperature(P3, t)
    with pytest.raises(ConfigError):
        fit_temperature(P3, [0, 1, 2, 0, 1, 2], bounds=(2.0, 1.0))
    for costs in ((-1.0, 1.0), (0.0, 0.0), (float("nan"), 1.0)):
        with pytest.raises(ConfigError):
            weighted_error(Y, Y, *costs)
    for kwargs in ({"n_boot": -1}, {"alpha": 0.0}, {"alpha": 1.0}, {"seed": None}, {"n_boot": 2.5}):
        with pytest.raises(ConfigError):
            bootstrap_ci(accuracy, Y, Y, **kwargs)
    with pytest.raises(ConfigError):
        bootstrap_ci(accuracy)


def test_regression_errors() -> None:
    with pytest.raises(DataError, match="undefined"):
        r2([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="y_pred is constant"):
        pearson([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    with pytest.raises(DataError, match="1 NaN/inf"):
        mse([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(DataError, match="column"):
        r2(np.zeros((3, 2)), np.zeros((3, 2)))


@pytest.mark.parametrize(
    "module",
    ["classification", "thresholds", "calibration", "regression", "bootstrap", "registry", "_batched", "_checks"],
)
def test_docstring_examples_run(module: str) -> None:
    result = run_doctests(f"probewise.metrics.{module}")
    assert result.failed == 0
    if module != "_checks":
        assert result.attempted > 0
