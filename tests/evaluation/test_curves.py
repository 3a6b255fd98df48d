"""Few-shot draws and data-efficiency curves: seeded, within train, intervals that cover."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from probewise.errors import ConfigError, DataError
from probewise.evaluation import (
    data_efficiency,
    few_shot_draws,
    few_shot_eval,
    nearest_mean,
)
from probewise.metrics import accuracy
from tests.evaluation.helpers import blobs


# --------------------------------------------------------------------------------------------------- few-shot
def test_few_shot_draws_k_per_class_within_train_and_seeded() -> None:
    y = np.array([0, 1, 2] * 20)
    train = np.arange(45)
    draws = few_shot_draws(y, train, k_per_class=4, n_draws=6, seed=1)
    assert len(draws) == 6
    for d in draws:
        assert np.isin(d, train).all()
        np.testing.assert_array_equal(np.bincount(y[d]), [4, 4, 4])
    assert len({tuple(d) for d in draws}) > 1
    again = few_shot_draws(y, train, k_per_class=4, n_draws=6, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again, strict=True))
    mask = np.zeros(60, bool)
    mask[train] = True
    assert all(np.array_equal(a, b) for a, b in zip(draws, few_shot_draws(y, mask, 4, 6, seed=1), strict=True))


def test_few_shot_draws_names_short_class() -> None:
    y = np.array([0] * 10 + [1] * 10 + [2] * 3)
    with pytest.raises(DataError, match=r"class 2 has 3 training example\(s\), fewer than k_per_class=5"):
        few_shot_draws(y, k_per_class=5)
    with pytest.raises(DataError, match="regression"):
        few_shot_draws(np.linspace(0.1, 2.2, 30), k_per_class=2)


def test_few_shot_eval_reproducible_improves_and_intervals() -> None:
    X, y = blobs(0)
    pts = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1, 20), n_draws=5, seed=7)
    again = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1, 20), n_draws=5, seed=7)
    assert [p.to_dict() for p in pts] == [p.to_dict() for p in again]
    assert [p.k for p in pts] == [1, 20] and [p.n_train for p in pts] == [3, 60]
    assert pts[0].mean < pts[1].mean and pts[1].n_test == 100
    v = np.array(pts[0].values)
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * v.std(ddof=1) / np.sqrt(5)
    assert pts[0].low == pytest.approx(v.mean() - half) and pts[0].high == pytest.approx(v.mean() + half)
    pct = few_shot_eval(nearest_mean, X[:300], y[:300], X[300:], y[300:], ks=(1,), n_draws=5, seed=7,
                        interval="percentile")[0]
    assert pct.values == pts[0].values
    assert pct.low == pytest.approx(np.quantile(v, 0.025)) and pct.high == pytest.approx(np.quantile(v, 0.975))


def test_few_shot_eval_checks_before_fitting() -> None:
    calls = []

    def fp(a, b, c):
        calls.append(1)
        return nearest_mean(a, b, c)

    X, y = blobs(1, n=60)
    short = int(np.bincount(y).min())
    with pytest.raises(DataError, match=f"has {short} training example"):
        few_shot_eval(fp, X, y, X, y, ks=(1, short + 1))
    assert not calls
    with pytest.raises(DataError, match="regression"):
        few_shot_eval(fp, X, X[:, 0], X, y)


# ------------------------------------------------------------------------------------------ data efficiency
def test_data_efficiency_classification_regression_multilabel() -> None:
    X, y = blobs(2, n=500)
    pts = data_efficiency(nearest_mean, X[:400], y[:400], X[400:], y[400:], fractions=(0.02, 0.5, 1.0), n_draws=3)
    assert [p.fraction for p in pts] == [0.02, 0.5, 1.0]
    assert [len(p.values) for p in pts] == [3, 3, 1] and pts[2].n_train == 400
    assert pts[0].n_train >= 3  # at least one per class
    full = accuracy(y[400:], nearest_mean(X[:400], y[:400], X[400:]))
    assert pts[2].mean == pytest.approx(full)
    again = data_efficiency(nearest_mean, X[:400], y[:400], X[400:], y[400:], fractions=(0.02, 0.5, 1.0), n_draws=3)
    assert [p.values for p in pts] == [p.values for p in again]

    rng = np.random.default_rng(0)
    t = X @ rng.normal(size=6) + 0.1 * rng.normal(size=500)
    reg = data_efficiency(lambda a, b, c: Ridge().fit(a, b).predict(c), X[:400], t[:400], X[400:], t[400:],
                          fractions=(0.1, 1.0), n_draws=2)
    assert reg[0].metric == "r2" and reg[1].mean > 0.99
    counts = np.round(t * 0 + rng.integers(0, 6, 500)).astype(float)  # whole-number floats need an explicit kind
    with pytest.raises(DataError, match="kind='regression'"):
        data_efficiency(nearest_mean, X[:400], counts[:400], X[400:], counts[400:])
    assert data_efficiency(lambda a, b, c: Ridge().fit(a, b).predict(c), X[:400], counts[:400], X[400:],
                           counts[400:], fractions=(1.0,), kind="regression", metric="mse")[0].metric == "mse"

    Y = np.stack([y == 0, y == 1], axis=1).astype(int)
    ml = data_efficiency(nearest_mean, X[:400], Y[:400], X[400:], Y[400:], fractions=(0.5,), n_draws=2)
    assert ml[0].metric == "accuracy" and ml[0].mean > 0.8
    with pytest.raises(ConfigError):
        data_efficiency(nearest_mean, X, y, X, y, fractions=(0.0,))
