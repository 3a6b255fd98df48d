"""OOD scores against references (sklearn covariance, brute-force kNN, sklearn ROC) and synthetic shifts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.special import softmax
from sklearn.covariance import EmpiricalCovariance
from sklearn.metrics import roc_curve

from probewise.errors import ConfigError, DataError
from probewise.evaluation import (
    OOD_METHODS,
    energy_score,
    fit_mahalanobis,
    fpr_at_tpr,
    knn_score,
    mahalanobis_score,
    max_logit_score,
    msp_score,
    ood_by_layer,
    ood_metrics,
)


def _id_data(seed: int, n: int, d: int = 12, k: int = 3):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(100).normal(size=(k, d)) * 2.0 + 4.0 * np.eye(d)[0]
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(size=(n, d)), y, centers


def _logits(centers, X):
    return -0.5 * ((X[:, None, :] - centers[None]) ** 2).sum(-1)


def test_logit_scores_match_formulas() -> None:
    z = np.random.default_rng(0).normal(size=(50, 4)) * 3
    np.testing.assert_allclose(msp_score(z), -softmax(z, axis=1).max(axis=1))
    np.testing.assert_allclose(max_logit_score(z), -z.max(axis=1))
    np.testing.assert_allclose(energy_score(z, temperature=2.0), -2.0 * np.log(np.exp(z / 2.0).sum(axis=1)))
    with pytest.raises(ConfigError):
        energy_score(z, temperature=0.0)
    with pytest.raises(DataError, match=r"\[n, k\]"):
        msp_score(z[:, 0])


def test_mahalanobis_matches_sklearn_empirical_covariance() -> None:
    X, y, _ = _id_data(0, 600)
    Q = np.random.default_rng(1).normal(size=(80, 12)) * 2
    model = fit_mahalanobis(X, y)
    assert model.n_clamped == 0
    means = np.stack([X[y == c].mean(0) for c in range(3)])
    cov = EmpiricalCovariance(assume_centered=True).fit(X - means[y])
    ref = np.min(np.stack([cov.mahalanobis(Q - means[c]) for c in range(3)], axis=1), axis=1)
    np.testing.assert_allclose(mahalanobis_score(model, Q), ref, rtol=1e-8)


def test_mahalanobis_clamps_layernorm_rank_deficiency() -> None:
    def layernorm(a):
        a = a - a.mean(axis=1, keepdims=True)
        return a / a.std(axis=1, keepdims=True)

    X, y, _ = _id_data(0, 800)
    X = layernorm(X)  # every row sums to zero: the covariance is exactly singular
    ood = layernorm(np.random.default_rng(3).normal(size=(200, 12)) * 2)
    idt = layernorm(_id_data(1, 200)[0])
    model = fit_mahalanobis(X, y)
    assert model.n_clamped >= 1
    s_id, s_ood = mahalanobis_score(model, idt), mahalanobis_score(model, ood)
    assert np.isfinite(s_id).all() and np.isfinite(s_ood).all()
    # brute force in the 11-dim subspace orthogonal to the all-ones direction, where the covariance is regular
    basis = np.linalg.svd(np.eye(12) - 1 / 12)[0][:, :11]
    means = np.stack([X[y == c].mean(0) for c in range(3)]) @ basis
    R = X @ basis - means[y]
    prec = np.linalg.inv(R.T @ R / len(X))
    Z = ood @ basis
    brute = np.min([np.einsum("nd,de,ne->n", Z - m, prec, Z - m) for m in means], axis=0)
    np.testing.assert_allclose(s_ood, brute, rtol=1e-6)
    assert ood_metrics(s_id, s_ood, n_boot=0)["auroc"].value > 0.9


@pytest.mark.parametrize("k", [1, 7])
def test_knn_matches_brute_force_cosine_in_chunks(k: int) -> None:
    rng = np.random.default_rng(0)
    bank, Q = rng.normal(size=(300, 16)), rng.normal(size=(45, 16))
    ref = np.sort(cdist(Q, bank, metric="cosine"), axis=1)[:, k - 1]
    np.testing.assert_allclose(knn_score(bank, Q, k=k, chunk_rows=8), ref, atol=1e-12)
    np.testing.assert_allclose(knn_score(bank, Q, k=k), ref, atol=1e-12)
    f32 = knn_score(bank.astype(np.float32), Q.astype(np.float32), k=k)
    np.testing.assert_allclose(f32, ref, atol=1e-5)
    with pytest.raises(ConfigError, match="exceeds"):
        knn_score(bank, Q, k=301)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tpr", [0.5, 0.9, 0.95])
def test_fpr_at_tpr_matches_sklearn_roc(seed: int, tpr: float) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 301)
    s = np.round(rng.normal(size=301) + y, 1)  # ties
    fpr, tpr_curve, _ = roc_curve(y, s)
    assert fpr_at_tpr(y, s, tpr) == pytest.approx(fpr[tpr_curve >= tpr].min())
    with pytest.raises(ConfigError):
        fpr_at_tpr(y, s, 1.0)


def _layers(shift: float, seed: int = 0):
    X_tr, y_tr, centers = _id_data(seed, 600)
    X_id, _, _ = _id_data(seed + 1, 300)
    rng = np.random.default_rng(seed + 2)
    if shift:  # a different mean direction and wider spread: far from every class
        X_ood = rng.normal(size=(300, 12)) * 2.0 + shift * np.eye(12)[1]
    else:  # the same distribution as ID test
        X_ood = _id_data(seed + 3, 300)[0]
    logits = {"L": _logits(centers, X_id)}, {"L": _logits(centers, X_ood)}
    return {"L": X_tr}, y_tr, {"L": X_id}, {"L": X_ood}, logits


def test_shifted_ood_is_detected_and_identical_is_chance() -> None:
    tr, y, idt, ood, (lid, lood) = _layers(shift=8.0)
    rows = ood_by_layer(tr, y, idt, ood, id_logits=lid, ood_logits=lood, k=10, n_boot=100)
    assert [r.method for r in rows] == list(OOD_METHODS)
    for r in rows:
        if r.method == "msp":  # softmax saturates far from the data (the known weakness of MSP): weaker but clear
            assert r.auroc.value > 0.85
            continue
        assert r.auroc.value > 0.95, r.method
        assert r.fpr_at_tpr.value < 0.2, r.method
        assert (r.n_id, r.n_ood, r.n_train) == (300, 300, 600)
    tr, y, idt, same, (lid, lsame) = _layers(shift=0.0)
    for r in ood_by_layer(tr, y, idt, same, id_logits=lid, ood_logits=lsame, k=10, n_boot=100):
        assert abs(r.auroc.value - 0.5) < 0.07, r.method
        assert r.auroc.low < 0.5 < r.auroc.high or abs(r.auroc.value - 0.5) < 0.03, r.method


def test_ood_by_layer_reproducible_rows_and_errors() -> None:
    tr, y, idt, ood, (lid, lood) = _layers(shift=8.0)
    tr2 = {"a": tr["L"], "b": tr["L"][:, ::-1].copy()}
    idt2 = {"a": idt["L"], "b": idt["L"][:, ::-1].copy()}
    ood2 = {"a": ood["L"], "b": ood["L"][:, ::-1].copy()}
    rows = ood_by_layer(tr2, y, idt2, ood2, k=5, n_boot=50, seed=3)
    assert [(r.layer, r.method) for r in rows] == [("a", "mahalanobis"), ("a", "knn"), ("b", "mahalanobis"),
                                                     ("b", "knn")]
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in ood_by_layer(tr2, y, idt2, ood2, k=5, n_boot=50,
                                                                             seed=3)]
    assert rows[0].auroc.value == pytest.approx(rows[2].auroc.value)  # permuting features changes nothing
    with pytest.raises(ConfigError, match="logits"):
        ood_by_layer(tr, y, idt, ood, methods=("energy",))
    with pytest.raises(ConfigError, match="unknown"):
        ood_by_layer(tr, y, idt, ood, methods=("odin",))
    with pytest.raises(DataError, match="lacks layers"):
        ood_by_layer(tr2, y, idt, ood)
    bad = idt["L"].copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ood_by_layer(tr, y, {"L": bad}, ood)
    with pytest.raises(DataError, match="NaN"):
        ood_metrics(np.array([0.1, np.nan]), np.array([0.3, 0.4]))
