"""Difference-of-means probes against numpy and scikit-learn's LDA and Ledoit-Wolf."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf_shrinkage as sk_ledoit_wolf
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from probewise.errors import ConfigError
from probewise.fit import fit_meandiff, ledoit_wolf_shrinkage
from tests.fit.features import layer_features, one_thread  # noqa: F401 (autouse fixture)


def _balanced(n_classes: int, n: int = 240, d: int = 30, seed: int = 0):
    X, _ = layer_features(n_layers=2, n=n, d=d, n_classes=n_classes, seed=seed, label_noise=0.0)
    _, y = layer_features(n_layers=1, n=n, d=d, n_classes=n_classes, seed=seed, label_noise=0.0)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_raw_directions_and_midpoint(n_classes):
    X, y = _balanced(n_classes)
    fit = fit_meandiff(X, y)
    for layer in range(2):
        means = np.stack([X[layer, y == c].mean(0) for c in range(n_classes)])
        if n_classes == 2:
            v = means[1] - means[0]
            assert np.allclose(fit.coef[layer, :, 0].numpy(), v)
            mid = 0.5 * (means[0] + means[1])
            assert fit.intercept[layer, 0].item() == pytest.approx(-mid @ v)
        else:
            grand = X[layer].mean(0)
            assert np.allclose(fit.coef[layer].numpy(), (means - grand).T)
            # nearest class mean (Euclidean) rule
            dist = ((X[layer][:, None, :] - means[None]) ** 2).sum(-1)
            assert (fit.predict(X)[layer].numpy() == dist.argmin(1)).all()


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("shrinkage", [None, 0.3])
def test_whitened_equals_lda(n_classes, shrinkage):
    # Pooled within-class covariance shrunk by s = LDA(solver="eigen", shrinkage=s) (linear in s).
    X, y = _balanced(n_classes, n=300, d=20, seed=1)
    X = X + np.random.default_rng(0).normal(size=X.shape) * 0.05  # full rank for the LDA reference
    fit = fit_meandiff(X, y, whiten=True, shrinkage=shrinkage)
    for layer in range(2):
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage).fit(X[layer], y)
        ours = fit.coef[layer].numpy().T  # [k, d]
        if n_classes == 2:
            assert np.allclose(ours[0], lda.coef_[0], rtol=1e-6, atol=1e-8)
            # equal priors here, so the midpoint threshold is LDA's intercept
            assert fit.intercept[layer, 0].item() == pytest.approx(lda.intercept_[0], rel=1e-6)
        else:
            # LDA's class scores differ from ours by a class-independent term
            assert np.allclose(ours - ours[0], lda.coef_ - lda.coef_[0], rtol=1e-6, atol=1e-8)
            assert (fit.predict(X)[layer].numpy() == lda.predict(X[layer])).all()


def test_ledoit_wolf_matches_sklearn():
    X, y = _balanced(2, n=100, d=60, seed=2)
    for layer in range(2):
        R = X[layer] - np.stack([X[layer, y == c].mean(0) for c in range(2)])[y]
        ours = ledoit_wolf_shrinkage(torch.tensor(R)[None])[0].item()
        assert ours == pytest.approx(sk_ledoit_wolf(R, assume_centered=True), rel=1e-10)
    fit = fit_meandiff(X, y, whiten=True, shrinkage="auto")
    assert 0 < float(fit.shrinkage.min()) <= float(fit.shrinkage.max()) < 1


@pytest.mark.parametrize("shape", [(300, 40), (60, 120)])
def test_rank_deficient_features_are_clamped(shape):
    # LayerNorm features: the centred covariance is singular; without shrinkage the pseudo-inverse must
    # still give a finite, useful direction, with d < n and d > n alike.
    n, d = shape
    X, y = _balanced(2, n=n, d=d, seed=3)
    fit = fit_meandiff(X, y, whiten=True, shrinkage=None)
    assert bool(torch.isfinite(fit.coef).all())
    acc = (fit.predict(X).numpy() == y).mean(1)
    assert acc.min() > 0.8
    # d > n: the kernel route equals the direct pseudo-inverse of the covariance
    layer = 0
    R = X[layer] - np.stack([X[layer, y == c].mean(0) for c in range(2)])[y]
    S = R.T @ R / n
    v = X[layer, y == 1].mean(0) - X[layer, y == 0].mean(0)
    direct = np.linalg.pinv(S, rcond=1e-6, hermitian=True) @ v
    assert np.allclose(fit.coef[layer, :, 0].numpy(), direct, rtol=1e-5, atol=1e-8 * np.abs(direct).max())
    shrunk = fit_meandiff(X, y, whiten=True, shrinkage=0.5)
    tr = np.trace(S) / d
    direct = np.linalg.solve(0.5 * S + 0.5 * tr * np.eye(d), v)
    assert np.allclose(shrunk.coef[layer, :, 0].numpy(), direct, rtol=1e-6, atol=1e-9 * np.abs(direct).max())


def test_logistic_threshold_calibrates():
    X, y = layer_features(n_layers=2, n=400, d=30, n_classes=2, seed=4)
    y = np.where(np.arange(400) < 300, y, 1)  # unbalanced: the midpoint is not the best threshold
    mid = fit_meandiff(X, y)
    cal = fit_meandiff(X, y, threshold="logistic")
    for layer in range(2):
        cos = torch.nn.functional.cosine_similarity(mid.coef[layer, :, 0], cal.coef[layer, :, 0], dim=0)
        assert cos.item() == pytest.approx(1.0, abs=1e-9)  # same direction, new scale and offset
    p = torch.sigmoid(cal.decision_function(X)[..., 0])
    # calibrated on average: mean predicted probability equals the positive rate (logistic score equations)
    assert torch.allclose(p.mean(dim=1), torch.tensor(float(np.mean(y)), dtype=p.dtype), atol=1e-3)
    # and it is the log-loss minimizer along the direction: better than the raw midpoint scores
    yt = torch.tensor(y, dtype=p.dtype)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for layer in range(2):
        raw = bce(mid.decision_function(X)[layer, :, 0], yt)
        assert bce(cal.decision_function(X)[layer, :, 0], yt) < raw


def test_bad_options_raise():
    X, y = _balanced(2, n=50, d=5)
    with pytest.raises(ConfigError, match="threshold"):
        fit_meandiff(X, y, threshold="median")
    with pytest.raises(ConfigError, match="shrinkage"):
        fit_meandiff(X, y, whiten=True, shrinkage=1.5)
