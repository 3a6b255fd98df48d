"""The registry: names, directions, parameters, and evaluate_* convenience functions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from probewise.errors import ConfigError, DataError
from probewise.metrics import (
    METRICS,
    auroc,
    bootstrap_ci,
    evaluate_classification,
    evaluate_regression,
    get_metric,
    top_k_accuracy,
    tpr_at_fpr,
)

NEEDS = {"labels", "scores", "binary_scores", "class_scores", "probs", "values"}


def test_every_entry_is_well_formed_and_points_the_right_way() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(100, int), np.ones(100, int)]
    good = np.clip(np.where(y == 1, 0.8, 0.2) + 0.1 * rng.normal(size=200), 0.01, 0.99)
    bad = 1.0 - good  # confidently wrong
    yr = rng.normal(size=200)
    for name, spec in METRICS.items():
        fn, greater_is_better, needs = spec  # unpacks as a triple
        assert callable(fn) and isinstance(greater_is_better, bool) and needs in NEEDS, name
        if needs == "values":
            g, b = fn(yr, yr + 0.1 * rng.normal(size=200)), fn(yr, rng.normal(size=200))
        else:
            adapt = {
                "labels": lambda p: (p >= 0.5).astype(int),
                "class_scores": lambda p: np.stack([1 - p, p], 1),
            }.get(needs, lambda p: p)
            g, b = fn(y, adapt(good)), fn(y, adapt(bad))
        if name == "top_k_accuracy":
            continue  # k=2 of 2 classes: always 1
        assert (g > b) == greater_is_better, name


def test_get_metric_parameters() -> None:
    assert get_metric("auroc") is METRICS["auroc"]
    spec = get_metric("tpr_at_fpr@0.05")
    y, s = np.r_[np.zeros(100), np.ones(100)], np.random.default_rng(1).normal(size=200)
    assert spec.fn(y, s) == tpr_at_fpr(y, s, fpr=0.05)
    assert get_metric("top_k_accuracy@3").fn.keywords == {"k": 3}
    assert get_metric("ece@10").fn.keywords == {"n_bins": 10}
    for bad in ["nope", "auroc@3", "top_k_accuracy@x", "tpr_at_fpr@"]:
        if bad == "tpr_at_fpr@":
            assert get_metric(bad) is METRICS["tpr_at_fpr"]
            continue
        with pytest.raises(ConfigError):
            get_metric(bad)
    with pytest.raises(ConfigError):
        get_metric("tpr_at_fpr@1.5").fn(y, s)


def test_evaluate_classification_binary() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = 1 / (1 + np.exp(-(rng.normal(size=300) + 1.5 * (y - 0.5))))
    names = tuple(n for n, s in METRICS.items() if s.needs != "values") + ("tpr_at_fpr@0.1",)
    res = evaluate_classification(y, p, names, n_boot=100, seed=3)
    assert list(res) == list(names)
    for name, est in res.items():
        assert est.n == 300 and est.n_boot == 100 and est.seed == 3
        assert est.low <= est.value <= est.high, name
    assert res["auroc"] == bootstrap_ci(auroc, y, p, n_boot=100, seed=3)
    assert res["accuracy"].value == np.mean((p >= 0.5) == y)
    assert res["top_k_accuracy"].value == 1.0


def test_evaluate_classification_multiclass_and_two_columns() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4))
    logits[np.arange(300), y] += 1.0
    probs = softmax(logits, axis=1)
    res = evaluate_classification(y, probs, ("accuracy", "auroc", "log_loss", "top_k_accuracy@2"), n_boot=50)
    assert res["top_k_accuracy@2"].value == top_k_accuracy(y, probs, k=2)
    yb = (y > 1).astype(int)
    two = np.stack([1 - probs[:, 0], probs[:, 0]], 1)
    res2 = evaluate_classification(yb, two, ("tpr_at_fpr", "auroc"), n_boot=0)
    assert res2["tpr_at_fpr"].value == tpr_at_fpr(yb, two[:, 1])
    with pytest.raises(DataError, match="softmax"):
        evaluate_classification(y, logits, ("accuracy",), n_boot=0)
    with pytest.raises(ConfigError, match="evaluate_regression"):
        evaluate_classification(y, probs, ("r2",), n_boot=0)


def test_evaluate_regression() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    pred = y + 0.5 * rng.normal(size=200)
    res = evaluate_regression(y, pred, n_boot=100, seed=0)
    assert list(res) == ["r2", "mse", "pearson"]
    assert all(e.low <= e.value <= e.high for e in res.values())
    with pytest.raises(ConfigError, match="evaluate_classification"):
        evaluate_regression(y, pred, ("auroc",))
