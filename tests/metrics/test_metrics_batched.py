"""The weighted (count-matrix) bootstrap forms agree with calling the metric on each resample."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from probewise.errors import DataError
from probewise.metrics import (
    auprc,
    auroc,
    balanced_accuracy,
    bootstrap_ci,
    ece,
    macro_f1,
    pearson,
    r2,
    tpr_at_fpr,
)
from probewise.metrics._batched import PREPARE, counts


def _per_resample(fn, arrays, idx, kwargs):
    out = []
    for row in idx:
        try:
            out.append(fn(*(a[row] for a in arrays), **kwargs))
        except DataError:
            out.append(np.nan)
    return np.array(out)


def _cases(seed: int, n: int):
    rng = np.random.default_rng(seed)
    yb = rng.integers(0, 2, n)
    sb = np.round(rng.normal(size=n) + yb, 1)  # ties
    ym = rng.integers(0, 3, n)
    pm = softmax(rng.normal(size=(n, 3)) + 2 * np.eye(3)[ym], axis=1)
    pred = np.where(rng.random(n) < 0.6, ym, rng.integers(0, 5, n))
    yr = np.round(rng.normal(size=n), 1)
    return [
        (auroc, (yb, sb), {}),
        (auroc, (ym, pm), {}),
        (auprc, (yb, sb), {}),
        (auprc, (ym, pm), {}),
        (tpr_at_fpr, (yb, sb), {"fpr": 0.1}),
        (tpr_at_fpr, (yb, sb), {"fpr": 0.3}),
        (tpr_at_fpr, (yb, sb), {}),
        (balanced_accuracy, (ym, pred), {}),
        (macro_f1, (ym, pred), {}),
        (ece, (ym, pm), {}),
        (ece, (yb, 1 / (1 + np.exp(-sb))), {"n_bins": 7}),
        (r2, (yr, yr + rng.normal(size=n)), {}),
        (pearson, (yr, np.round(yr + rng.normal(size=n), 0)), {}),
    ]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [6, 40, 300])
def test_batched_equals_loop_on_every_resample(seed: int, n: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for fn, arrays, kwargs in _cases(seed, n):
        idx = rng.integers(0, n, size=(60, n))
        expected = _per_resample(fn, arrays, idx, kwargs)
        got = PREPARE[fn](*arrays, **kwargs)(counts(idx, n))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=fn.__name__)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=fn.__name__)


def test_batched_path_equals_loop_path_through_bootstrap_ci() -> None:
    for fn, arrays, kwargs in _cases(3, 25):
        fast = bootstrap_ci(fn, *arrays, n_boot=200, seed=4, metric_kwargs=kwargs)
        slow = bootstrap_ci(lambda *a, f=fn, kw=kwargs: f(*a, **kw), *arrays, n_boot=200, seed=4)
        assert fast.value == slow.value and fast.n_skipped == slow.n_skipped, fn.__name__
        assert fast.low == pytest.approx(slow.low, abs=1e-9) and fast.high == pytest.approx(slow.high, abs=1e-9)


def test_counts_match_indices() -> None:
    idx = np.array([[0, 0, 3, 1], [2, 2, 2, 2]])
    np.testing.assert_array_equal(counts(idx, 4), [[2, 1, 0, 1], [0, 0, 4, 0]])
