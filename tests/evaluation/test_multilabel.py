"""Multi-label probing: per-attribute and macro metrics, constant attributes."""

from __future__ import annotations

import numpy as np
import pytest

from probewise.errors import DataError
from probewise.evaluation import (
    fit_multilabel,
    nearest_mean,
)
from probewise.metrics import evaluate_classification
from tests.evaluation.helpers import logreg


# ------------------------------------------------------------------------------------------------ multi-label
def test_fit_multilabel_per_attribute_and_macro() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] + X[:, 3] > 0], axis=1).astype(int)
    rep = fit_multilabel(logreg, X[:400], Y[:400], X[400:], Y[400:], names=["a", "b", "c"], n_boot=50, seed=0)
    assert rep.names == ("a", "b", "c") and rep.probs.shape == (100, 3) and rep.undefined == ()
    for j, name in enumerate(rep.names):
        p = logreg(X[:400], Y[:400, j], X[400:])[:, 1]
        ref = evaluate_classification(Y[400:, j], p, ("accuracy", "auroc"), n_boot=50, seed=0)
        assert rep.per_attribute[name] == ref
    assert rep.macro["auroc"] == pytest.approx(np.mean([rep.per_attribute[n]["auroc"].value for n in rep.names]))


def test_fit_multilabel_constant_attributes() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    Y = np.stack([X[:, 0] > 0, np.zeros(100, bool)], axis=1).astype(int)
    with pytest.raises(DataError, match="attribute 'attr_1' is constant"):
        fit_multilabel(nearest_mean, X, Y, X, Y, n_boot=0)
    Yte = Y[80:].copy()
    Y[:5, 1] = 1  # learnable in train, constant in test: AUROC undefined there, left out of the macro
    rep = fit_multilabel(nearest_mean, X[:80], Y[:80], X[80:], Yte, n_boot=0)
    assert rep.undefined == (("attr_1", "auroc"),)
    assert rep.macro["auroc"] == rep.per_attribute["attr_0"]["auroc"].value
