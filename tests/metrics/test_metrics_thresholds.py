"""Operating-point metrics: TPR at FPR against sklearn's ROC curve; thresholds keep their FPR promise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_curve

from probewise.metrics import threshold_at_fpr, tpr_at_fpr, weighted_error

TARGETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.3, 0.5, 0.9]


def _data(seed: int, n_neg: int = 200, n_pos: int = 150, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]
    s = rng.normal(size=n_neg + n_pos) + 1.2 * y
    if decimals is not None:
        s = np.round(s, decimals)
    perm = rng.permutation(y.size)
    return y[perm], s[perm]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [None, 1])
def test_tpr_at_fpr_matches_sklearn_roc_curve(seed: int, decimals: int | None) -> None:
    y, s = _data(seed, decimals=decimals)
    fpr_curve, tpr_curve, _ = roc_curve(y, s, drop_intermediate=False)
    for target in TARGETS:
        expected = tpr_curve[fpr_curve <= target].max()
        assert tpr_at_fpr(y, s, fpr=target) == pytest.approx(expected, abs=1e-12), target


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [None, 1])
def test_threshold_at_fpr_keeps_its_promise_and_is_tight(seed: int, decimals: int | None) -> None:
    y, s = _data(seed, decimals=decimals)
    neg = np.sort(s[y == 0])
    for target in TARGETS:
        t = threshold_at_fpr(y, s, fpr=target)
        assert np.mean(s[y == 0] >= t) <= target
        assert np.mean(s[y == 1] >= t) == pytest.approx(tpr_at_fpr(y, s, fpr=target), abs=1e-12)
        # Tight: the next lower negative score as threshold would break the target.
        lower = neg[neg < t]
        if lower.size:
            assert np.mean(s[y == 0] >= lower[-1]) > target


def test_threshold_at_fpr_float32_scores_compare_in_float32() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 1000)
    s = (rng.normal(size=1000) + y).astype(np.float32)
    s[:50] = s[0]  # heavy ties
    for target in [0.01, 0.05, 0.2]:
        t = threshold_at_fpr(y, s, fpr=target)
        assert np.mean(s[y == 0] >= np.float32(t)) <= target
        assert np.mean(s[y == 0] >= t) <= target
        assert np.float32(t) == t


def test_threshold_transfers_to_new_data() -> None:
    y_val, s_val = _data(10, n_neg=5000, n_pos=500)
    y_test, s_test = _data(11, n_neg=5000, n_pos=500)
    t = threshold_at_fpr(y_val, s_val, fpr=0.05)
    assert abs(np.mean(s_test[y_test == 0] >= t) - 0.05) < 0.015


def test_small_target_means_above_every_negative() -> None:
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.5, 0.9, 0.95, 0.7])
    t = threshold_at_fpr(y, s, fpr=0.2)  # 1/3 > 0.2: no false positive allowed
    assert 0.9 < t <= 0.95
    assert tpr_at_fpr(y, s, fpr=0.2) == 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_error_matches_confusion_matrix(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.7, y, 1 - y)
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    expected = 3.0 * fp / (fp + tn) + 0.5 * fn / (fn + tp)
    assert weighted_error(y, pred, fpr_cost=3.0, fnr_cost=0.5) == pytest.approx(expected, abs=1e-12)
    assert weighted_error(y, pred, 0.5, 0.5) == pytest.approx(1 - balanced_accuracy_score(y, pred), abs=1e-12)
    assert weighted_error(y, pred, 1.0, 0.0) == pytest.approx(fp / (fp + tn), abs=1e-12)
