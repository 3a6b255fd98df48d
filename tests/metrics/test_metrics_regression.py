"""Regression metrics against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error, r2_score

from probewise.metrics import mse, pearson, r2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_regression_matches_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=200) * 3 + 1
    pred = 0.7 * y + rng.normal(size=200)
    assert r2(y, pred) == pytest.approx(r2_score(y, pred), abs=1e-12)
    assert mse(y, pred) == pytest.approx(mean_squared_error(y, pred), rel=1e-12)
    assert pearson(y, pred) == pytest.approx(pearsonr(y, pred).statistic, abs=1e-12)
    bad = rng.normal(size=200) * 10
    assert r2(y, bad) == pytest.approx(r2_score(y, bad), abs=1e-12) and r2(y, bad) < 0
    assert pearson(y, -y) == pytest.approx(-1.0)
    assert r2(y.astype(np.float32), pred) == pytest.approx(r2_score(y.astype(np.float32), pred), abs=1e-5)
