"""Shared data and probes of the evaluation tests."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def logreg(X_tr, y_tr, X_te):
    """A ``fit_predict``: scikit-learn's logistic regression, class probabilities."""
    return LogisticRegression(max_iter=500).fit(X_tr, y_tr).predict_proba(X_te)


def blobs(seed: int = 0, n: int = 400, d: int = 6, k: int = 3, sep: float = 2.0):
    """``k`` Gaussian classes in ``d`` dimensions: features ``[n, d]`` and labels ``[n]``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(size=(k, d)) * sep
    return centers[y] + rng.normal(size=(n, d)), y
