"""Bootstrap intervals: reproducible, sensible, and the vectorized path equal to the plain loop."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from probewise.errors import DataError
from probewise.metrics import (
    Estimate,
    accuracy,
    auroc,
    bootstrap_ci,
    brier,
    log_loss,
    mse,
    r2,
    top_k_accuracy,
    tpr_at_fpr,
)
from probewise.metrics import bootstrap as bootstrap_module


def _binary(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + y
    return y, s, 1 / (1 + np.exp(-s))


def test_seeded_reproducibility() -> None:
    y, s, _ = _binary(300)
    a = bootstrap_ci(auroc, y, s, n_boot=300, seed=7)
    b = bootstrap_ci(auroc, y, s, n_boot=300, seed=7)
    assert a == b
    c = bootstrap_ci(auroc, y, s, n_boot=300, seed=8)
    assert (c.low, c.high) != (a.low, a.high) and c.value == a.value
    assert (a.n, a.n_boot, a.seed, a.alpha, a.n_skipped) == (300, 300, 7, 0.05, 0)


@pytest.mark.parametrize(
    ("fn", "which"),
    [(accuracy, "pred"), (auroc, "score"), (log_loss, "prob"), (brier, "prob"), (tpr_at_fpr, "score")],
)
def test_interval_contains_point_estimate(fn, which) -> None:
    y, s, p = _binary(400, seed=1)
    x = {"pred": (s > 0.5).astype(int), "score": s, "prob": p}[which]
    est = bootstrap_ci(fn, y, x, n_boot=500, seed=0, metric_kwargs={"fpr": 0.1} if fn is tpr_at_fpr else None)
    assert est.low <= est.value <= est.high


def test_interval_contains_point_estimate_regression() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    pred = y + rng.normal(size=300)
    for fn in (r2, mse):
        est = bootstrap_ci(fn, y, pred, n_boot=500, seed=0)
        assert est.low <= est.value <= est.high


def test_width_shrinks_with_n() -> None:
    widths = []
    for n in (100, 1000, 10000):
        y, s, _ = _binary(n, seed=2)
        for fn, x in ((accuracy, (s > 0.5).astype(int)), (auroc, s)):
            est = bootstrap_ci(fn, y, x, n_boot=300, seed=0)
            widths.append((fn.__name__, n, est.high - est.low))
    for name in ("accuracy", "auroc"):
        w = [width for f, _, width in widths if f == name]
        assert w[0] > w[1] > w[2]
        assert w[0] / w[2] == pytest.approx(10, rel=0.35)  # ~ 1 / sqrt(n)


@pytest.mark.parametrize("fn", [accuracy, log_loss, brier, mse])
def test_vectorized_path_equals_loop(fn) -> None:
    y, s, p = _binary(250, seed=3)
    x = {accuracy: (s > 0.5).astype(int), log_loss: p, brier: p, mse: p}[fn]
    fast = bootstrap_ci(fn, y, x, n_boot=400, seed=5)
    slow = bootstrap_ci(lambda *a: fn(*a), y, x, n_boot=400, seed=5)
    assert fast.value == slow.value
    assert fast.low == pytest.approx(slow.low, abs=1e-12) and fast.high == pytest.approx(slow.high, abs=1e-12)


def test_partial_and_kwargs_keep_fast_path_and_agree() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    scores = rng.normal(size=(300, 5))
    a = bootstrap_ci(functools.partial(top_k_accuracy, k=3), y, scores, n_boot=200, seed=1)
    b = bootstrap_ci(top_k_accuracy, y, scores, n_boot=200, seed=1, metric_kwargs={"k": 3})
    c = bootstrap_ci(lambda yy, ss: top_k_accuracy(yy, ss, k=3), y, scores, n_boot=200, seed=1)
    assert a == b
    assert a.low == pytest.approx(c.low, abs=1e-12) and a.high == pytest.approx(c.high, abs=1e-12)


def test_resamples_do_not_depend_on_chunking(monkeypatch) -> None:
    y, s, _ = _binary(200, seed=4)
    ref = bootstrap_ci(auroc, y, s, n_boot=150, seed=2)
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 1000)  # 5 resamples per chunk
    assert bootstrap_ci(auroc, y, s, n_boot=150, seed=2) == ref


def test_undefined_resamples_are_skipped_and_counted() -> None:
    y = np.array([0, 0, 0, 0, 0, 1, 0, 0])  # a resample misses the positive 34% of the time
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.6, 0.7])
    with pytest.warns(RuntimeWarning, match="undefined on"):
        est = bootstrap_ci(auroc, y, s, n_boot=300, seed=0)
    assert 60 < est.n_skipped < 150 and est.n_boot == 300
    assert est.value == 1.0 and est.high == 1.0


def test_all_resamples_undefined_raises() -> None:
    def distinct_only(x):
        if np.unique(x).size < x.size:
            raise DataError("needs distinct values")
        return float(x.mean())

    with pytest.raises(DataError, match="undefined on all"):
        bootstrap_ci(distinct_only, np.arange(12), n_boot=30, seed=0)


def test_other_errors_propagate() -> None:
    def broken(x):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        bootstrap_ci(broken, np.arange(5), n_boot=3)


def test_coverage_is_near_nominal() -> None:
    rng = np.random.default_rng(123)
    covered = 0
    reps = 200
    for i in range(reps):
        correct = (rng.random(300) < 0.7).astype(int)
        est = bootstrap_ci(accuracy, np.ones(300, int), correct, n_boot=400, seed=i)
        covered += est.low <= 0.7 <= est.high
    assert 0.88 <= covered / reps <= 0.99


def test_no_bootstrap_and_estimate_api() -> None:
    y, s, _ = _binary(50)
    est = bootstrap_ci(auroc, y, s, n_boot=0)
    assert np.isnan(est.low) and np.isnan(est.high) and est.n_boot == 0
    full = bootstrap_ci(auroc, y, s, n_boot=100, alpha=0.1)
    assert "90% CI" in str(full) and "n=50" in str(full)
    assert full.to_dict()["n"] == 50
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.value = 0.0  # type: ignore[misc]
    assert isinstance(full, Estimate)


# ------------------------------------------------------------------------------------------------ Wilson
@pytest.mark.parametrize(("k", "n"), [(0, 5), (18, 18), (3, 7), (80, 100), (999, 1000), (1, 1)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_matches_scipy(k, n, alpha) -> None:
    from scipy.stats import binomtest

    from probewise.metrics import wilson_ci

    ref = binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="wilson")
    np.testing.assert_allclose(wilson_ci(k, n, alpha), (ref.low, ref.high), atol=1e-12)


def test_accuracy_interval_is_wilson_and_stays_honest_at_small_n() -> None:
    from probewise.metrics import evaluate_classification

    y = np.array([0, 1] * 9)
    p = np.where(y == 1, 0.9, 0.1)  # every one of 18 rows right: a bootstrap collapses to [1, 1]
    res = evaluate_classification(y, p, ("accuracy", "auroc"), n_boot=200, seed=0)
    acc = res["accuracy"]
    assert (acc.value, acc.method, acc.n) == (1.0, "wilson", 18)
    assert acc.high == 1.0 and 0.80 < acc.low < 0.85
    assert bootstrap_ci(accuracy, y, (p > 0.5).astype(int), n_boot=200, seed=0).low == 1.0  # the collapse
    assert res["auroc"].method == "percentile bootstrap"
    with pytest.raises(DataError, match="successes"):
        from probewise.metrics import wilson_ci

        wilson_ci(5, 4)
