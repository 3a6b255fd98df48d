"""Classification metrics against scikit-learn's reference implementations, on random data and several seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from scipy.special import softmax

from probewise.metrics import (
    accuracy,
    auprc,
    auroc,
    balanced_accuracy,
    brier,
    log_loss,
    macro_f1,
    top_k_accuracy,
)

SEEDS = [0, 1, 2, 3]


def _binary(seed: int, n: int = 300, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + 0.8 * y
    if ties:
        s = np.round(s, 1)
    return y, s, 1.0 / (1.0 + np.exp(-s))


def _multi(seed: int, n: int = 400, k: int = 4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    return y, logits, softmax(logits, axis=1)


@pytest.mark.parametrize("seed", SEEDS)
def test_label_metrics_match_sklearn(seed: int) -> None:
    y, logits, probs = _multi(seed)
    pred = probs.argmax(1)
    assert accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert accuracy(y, probs) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert balanced_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert balanced_accuracy(y, logits) == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_label_metrics_with_unseen_and_unpredicted_classes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 100)
    pred = rng.integers(1, 5, 100)  # class 0 never predicted; classes 3, 4 never true
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_bal = skm.balanced_accuracy_score(y, pred)
    assert balanced_accuracy(y, pred) == pytest.approx(ref_bal, abs=1e-12)
    assert macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-12)
    assert accuracy(y.astype(float), pred) == pytest.approx(skm.accuracy_score(y, pred))


@pytest.mark.parametrize("seed", SEEDS)
def test_top_k_matches_sklearn(seed: int) -> None:
    y, logits, probs = _multi(seed, k=6)
    for k in range(1, 6):
        ref = skm.top_k_accuracy_score(y, probs, k=k, labels=np.arange(6))
        assert top_k_accuracy(y, probs, k=k) == pytest.approx(ref, abs=1e-12)
        assert top_k_accuracy(y, logits, k=k) == pytest.approx(ref, abs=1e-12)
    assert top_k_accuracy(y, probs, k=6) == top_k_accuracy(y, probs, k=10) == 1.0


def test_top_1_agrees_with_accuracy_under_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 500)
    scores = rng.integers(0, 3, size=(500, 4)).astype(float)  # many ties
    assert top_k_accuracy(y, scores, k=1) == accuracy(y, scores)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
def test_binary_auroc_auprc_match_sklearn(seed: int, ties: bool) -> None:
    y, s, p = _binary(seed, ties=ties)
    assert auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert auroc(y, p) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)  # monotone transform
    assert auprc(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_auroc_auprc_match_sklearn(seed: int) -> None:
    y, _, probs = _multi(seed)
    ref = skm.roc_auc_score(y, probs, multi_class="ovr", average="macro")
    assert auroc(y, probs) == pytest.approx(ref, abs=1e-12)
    ref_ap = skm.average_precision_score(y, probs, average="macro")
    assert auprc(y, probs) == pytest.approx(ref_ap, abs=1e-12)


def test_two_column_scores_equal_binary() -> None:
    y, _, p = _binary(5)
    p2 = np.stack([1 - p, p], axis=1)
    assert auroc(y, p2) == pytest.approx(auroc(y, p), abs=1e-12)
    assert log_loss(y, p2) == pytest.approx(log_loss(y, p), abs=1e-12)
    assert brier(y, p2) == pytest.approx(brier(y, p), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_probability_metrics_match_sklearn(seed: int) -> None:
    y, _, p = _binary(seed)
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p), rel=1e-10)
    assert brier(y, p) == pytest.approx(skm.brier_score_loss(y, p), rel=1e-10)
    ym, _, probs = _multi(seed)
    assert log_loss(ym, probs) == pytest.approx(skm.log_loss(ym, probs, labels=np.arange(4)), rel=1e-10)
    assert brier(ym, probs) == pytest.approx(skm.brier_score_loss(ym, probs, labels=np.arange(4)), rel=1e-10)


def test_log_loss_is_finite_on_confident_mistakes() -> None:
    value = log_loss([0, 1], [[0.0, 1.0], [0.0, 1.0]])
    assert np.isfinite(value) and value > 10


def test_other_array_types() -> None:
    torch = pytest.importorskip("torch")
    y, _, probs = _multi(7)
    ref = auroc(y, probs)
    assert auroc(torch.from_numpy(y), torch.from_numpy(probs)) == pytest.approx(ref)
    assert auroc(y.tolist(), probs.astype(np.float32)) == pytest.approx(ref, abs=1e-6)
    assert accuracy(np.array([True, False]), [1, 1]) == 0.5
