"""Geometry: norms, class-mean cosines, effective rank against direct formulas; rank-deficient features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probewise.errors import DataError
from probewise.evaluation import class_mean_cosines, effective_rank, geometry_by_layer, layer_geometry, mean_norm


def _erank_svd(X):
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 1e-12]
    return float(np.exp(-(p * np.log(p)).sum()))


def test_mean_norm_and_cosines_against_direct_formulas() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(90, 7)) + 1.0, np.arange(90) % 3
    assert mean_norm(X) == pytest.approx(np.mean(np.sqrt((X**2).sum(1))))
    classes, cos = class_mean_cosines(X, y)
    means = np.stack([X[y == c].mean(0) for c in range(3)])
    ref = means @ means.T / np.outer(np.linalg.norm(means, axis=1), np.linalg.norm(means, axis=1))
    np.testing.assert_allclose(cos, ref)
    assert classes.tolist() == [0, 1, 2]
    _, centred = class_mean_cosines(X, y, center=True)
    assert centred.mean() < cos.mean()  # removing the shared offset lowers the raw cosines
    with pytest.raises(DataError, match="two classes"):
        class_mean_cosines(X, np.zeros(90, int))


@pytest.mark.parametrize("shape", [(300, 10), (20, 50)])
def test_effective_rank_matches_svd(shape) -> None:
    X = np.random.default_rng(1).normal(size=shape) @ np.diag(np.linspace(0.1, 3, shape[1]))
    assert effective_rank(X) == pytest.approx(_erank_svd(X), rel=1e-9)


def test_effective_rank_extremes_and_rank_deficiency() -> None:
    rng = np.random.default_rng(2)
    assert effective_rank(rng.normal(size=(20000, 5))) == pytest.approx(5.0, abs=0.02)
    assert effective_rank(np.outer(rng.normal(size=100), rng.normal(size=8))) == pytest.approx(1.0)
    assert effective_rank(np.ones((10, 4))) == 0.0
    ln = rng.normal(size=(5000, 16))
    ln = (ln - ln.mean(1, keepdims=True)) / ln.std(1, keepdims=True)  # LayerNorm: one exactly-zero direction
    er = effective_rank(ln)
    assert np.isfinite(er) and er == pytest.approx(15.0, abs=0.1)


def test_geometry_rows_and_json() -> None:
    rng = np.random.default_rng(3)
    feats = {"emb": rng.normal(size=(60, 8)), "L1": rng.normal(size=(60, 8)) * 3}
    rows = geometry_by_layer(feats, y=np.arange(60) % 2)
    assert [r.layer for r in rows] == ["emb", "L1"]
    assert rows[1].mean_norm == pytest.approx(3 * rows[0].mean_norm, rel=0.2)
    json.dumps([r.to_dict() for r in rows])
    g = layer_geometry(feats["emb"])
    assert g.class_cosines is None and g.mean_class_cosine is None
