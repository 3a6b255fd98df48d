"""Ridge for all alphas at once against scikit-learn's Ridge, RidgeClassifier and RidgeClassifierCV."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge, RidgeClassifier, RidgeClassifierCV
from sklearn.preprocessing import StandardScaler

from probewise.errors import ConfigError, DataError
from probewise.fit import fit_ridge, fit_ridge_classifier, ridge
from probewise.fit._tridiag import shifted_solves
from tests.fit.features import layer_features, minilm_features, one_thread  # noqa: F401 (autouse fixture)

ALPHAS = np.logspace(-3, 4, 8)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-7) -> bool:
    return bool(np.abs(a - b).max() <= rtol * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("mode", ["primal", "dual", "auto"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("shape", [(200, 30), (40, 90)])
def test_classifier_matches_sklearn_whole_grid(mode, n_classes, shape):
    n, d = shape
    X, y = layer_features(n_layers=2, n=n, d=d, n_classes=n_classes, seed=n_classes)
    path = fit_ridge_classifier(X, y, ALPHAS, mode=mode, loo=True, return_loo_residuals=True)
    t = 1 if n_classes == 2 else n_classes
    assert path.coef.shape == (2, len(ALPHAS), d, t)
    for layer in range(2):
        Xs = StandardScaler().fit_transform(X[layer])
        for j, alpha in enumerate(ALPHAS):
            ref = RidgeClassifier(alpha=alpha).fit(Xs, y)
            w = path.coef[layer, j].numpy() * path.scale[layer].numpy()[:, None]
            b = path.intercept[layer, j].numpy() + path.mean[layer].numpy() @ path.coef[layer, j].numpy()
            assert _close(w, ref.coef_.reshape(-1, d).T, 1e-6), (layer, alpha)
            assert _close(b, np.atleast_1d(ref.intercept_), 1e-6)
        assert (path.predict(X[layer])[layer].numpy() == [
            np.searchsorted(ref.classes_, RidgeClassifier(alpha=a).fit(Xs, y).predict(Xs)) for a in ALPHAS
        ]).all()
        # Leave-one-out: the squared residuals and the chosen alpha of RidgeClassifierCV.
        cv = RidgeClassifierCV(alphas=ALPHAS, store_cv_results=True).fit(Xs, y)
        ours = path.loo_residuals[layer].numpy().transpose(1, 2, 0) ** 2  # [n, t, A] like cv_results_
        assert _close(ours, cv.cv_results_, 1e-5)
        assert ALPHAS[int(path.loo_mse[layer].mean(dim=-1).argmin())] == cv.alpha_


def test_raw_features_and_multioutput_regression():
    X, _ = layer_features(n_layers=2, n=120, d=25, seed=1)
    rng = np.random.default_rng(0)
    Y = X[0] @ rng.normal(size=(25, 3)) + rng.normal(size=(120, 3))
    for mode in ("primal", "dual"):
        path = fit_ridge(X, Y, ALPHAS, standardize=False, mode=mode)
        for layer in range(2):
            for j, alpha in enumerate(ALPHAS):
                ref = Ridge(alpha=alpha).fit(X[layer], Y)
                assert _close(path.coef[layer, j].numpy(), ref.coef_.T, 1e-6)
                assert _close(path.intercept[layer, j].numpy(), ref.intercept_, 1e-6)
    one = fit_ridge(X, Y[:, 0], [1.0])
    assert one.coef.shape == (2, 1, 25, 1)
    out = one.predict(X[0])  # a regressor returns its outputs
    assert out.shape == (2, 1, 120, 1)


def test_float32_and_list_input():
    X, y = layer_features(n_layers=3, n=150, d=20, n_classes=3)
    ref = fit_ridge_classifier(X, y, ALPHAS)
    f32 = fit_ridge_classifier([torch.tensor(x, dtype=torch.float32) for x in X], y, ALPHAS, dtype="float32")
    assert f32.coef.dtype == torch.float32
    # float32 is fine for moderate alphas; tiny alphas on rank-deficient features need float64
    big = torch.tensor(ALPHAS >= 1.0)
    assert torch.allclose(f32.coef.double()[:, big], ref.coef[:, big], rtol=1e-3, atol=1e-4)
    again = fit_ridge_classifier(X, y, ALPHAS, max_bytes=1)  # one layer per chunk
    assert torch.allclose(again.coef, ref.coef, rtol=1e-10, atol=1e-12)


def test_bad_inputs_raise():
    X, y = layer_features(n_layers=1, n=50, d=5)
    with pytest.raises(ConfigError, match="alphas"):
        fit_ridge_classifier(X, y, [0.0])
    with pytest.raises(ConfigError, match="mode"):
        fit_ridge_classifier(X, y, mode="svd")
    with pytest.raises(DataError, match="targets"):
        fit_ridge(X, np.ones((49, 2)))
    with pytest.raises(DataError, match="2 classes"):
        fit_ridge_classifier(X, np.ones(50))
    with pytest.raises(ConfigError, match="solver must be one of"):
        fit_ridge_classifier(X, y, solver="svd")
    for kwargs, why in [({"loo": True}, "leave-one-out"), ({"mode": "dual"}, "primal"),
                        ({"dtype": "float32"}, "float64")]:
        with pytest.raises(ConfigError, match=f"solver='tridiagonal' cannot be used here: .*{why}"):
            fit_ridge_classifier(X, y, solver="tridiagonal", **kwargs)
    bad = X.copy()
    bad[0, 7, 2] = np.nan
    with pytest.raises(DataError, match="NaN or infinity"):
        fit_ridge_classifier(bad, y, solver="tridiagonal")


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("standardize", [True, False])
def test_tridiagonal_solver_matches_eigh_and_sklearn(n_classes, standardize, monkeypatch):
    # d >= 256: the Gram matrix is built in 4 column blocks; 120 rows per block: 3 row blocks of 300 rows
    X, y = layer_features(n_layers=2, n=300, d=260, n_classes=n_classes, seed=7)
    monkeypatch.setattr(ridge, "_BLOCK_ELEMS", 120 * 260)
    Xh = X.astype(np.float16)  # a float16 store's dtype, converted block by block
    tri = fit_ridge_classifier(Xh, y, ALPHAS, standardize=standardize, solver="tridiagonal")
    eig = fit_ridge_classifier(Xh, y, ALPHAS, standardize=standardize, solver="eigh")
    assert torch.allclose(tri.mean, eig.mean, rtol=0, atol=0)
    assert torch.allclose(tri.scale, eig.scale, rtol=1e-13)
    assert _close(tri.coef.numpy(), eig.coef.numpy(), 1e-7)
    assert _close(tri.intercept.numpy(), eig.intercept.numpy(), 1e-7)
    assert torch.equal(tri.predict(X), eig.predict(X))
    Xs = X[1].astype(np.float16).astype(np.float64)
    Xs = StandardScaler().fit_transform(Xs) if standardize else Xs
    for j in (0, 4, 7):
        ref = RidgeClassifier(alpha=ALPHAS[j]).fit(Xs, y)
        w = tri.coef[1, j].numpy() * tri.scale[1].numpy()[:, None]
        assert _close(w, ref.coef_.reshape(-1, 260).T, 1e-6), ALPHAS[j]
    auto = fit_ridge_classifier(Xh, y, ALPHAS, standardize=standardize)  # "auto" takes the reduction here
    assert torch.equal(auto.coef, tri.coef)


def test_tridiagonal_falls_back_to_eigh_below_rounding():
    # alpha = 1e-300 on features with 16 duplicated columns: their null directions come out of the reduction
    # with eigenvalues of rounding size and random sign, so T + alpha I is indefinite and the layer is solved
    # by eigh instead (which clamps negative eigenvalues at zero).
    X, y = layer_features(n_layers=3, n=200, d=24, seed=4)
    X = np.concatenate([X, X[:, :, :16]], axis=2)
    Y = y.astype(float)[:, None]
    alphas = [1e-300, 1.0]
    auto = fit_ridge(X, Y, alphas)
    eig = fit_ridge(X, Y, alphas, solver="eigh", max_bytes=1)  # one layer at a time, as the fallback runs
    fell_back = []
    for layer in range(3):
        S, R, _, _ = ridge._normal_equations(X, layer, torch.tensor(Y - Y.mean(0)), True)
        if shifted_solves(S.numpy(), R.numpy(), alphas) is None:
            fell_back.append(layer)
            assert torch.equal(auto.coef[layer], eig.coef[layer])
    assert fell_back  # with 16 null directions, P(no indefinite pivot in any layer) ~ 2**-48
    assert torch.isfinite(auto.coef).all()
    assert _close(auto.coef[:, 1].numpy(), eig.coef[:, 1].numpy(), 1e-9)


def test_shifted_solves_against_dense_solves():
    rng = np.random.default_rng(3)
    for d in (1, 2, 17):
        X = rng.normal(size=(40, d))
        S, R = X.T @ X, rng.normal(size=(d, 3))
        upper = np.triu(S)  # only the upper triangle is read
        W = shifted_solves(upper.copy(), R, [1e-3, 1.0, 1e3])
        for j, a in enumerate([1e-3, 1.0, 1e3]):
            np.testing.assert_allclose(W[j], np.linalg.solve(S + a * np.eye(d), R), rtol=1e-9, atol=1e-12)
    assert shifted_solves(np.diag([1.0, -1e-3]), np.ones((2, 1)), [1e-6]) is None  # indefinite: no answer


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tense", "sentence_length"])
def test_whole_grid_matches_sklearn_on_minilm_features(task, monkeypatch):
    # Real features (MiniLM layers 1 and 5, d = 384 > rank): the default solver (tridiagonal) and the
    # leave-one-out path (eigh) against RidgeClassifier per alpha and RidgeClassifierCV's LOO residuals.
    X, y = minilm_features(task)
    assert X.shape == (2, 490, 384)
    solved, reduce = [], ridge._tridiagonal_layer
    monkeypatch.setattr(ridge, "_tridiagonal_layer", lambda *a: solved.append(reduce(*a)) or solved[-1])
    path = fit_ridge_classifier(X, y, ALPHAS)
    assert len(solved) == 2 and all(s is not None for s in solved)  # both layers by the tridiagonal reduction
    loo = fit_ridge_classifier(X, y, ALPHAS, loo=True, return_loo_residuals=True)
    for layer in range(2):
        Xs = StandardScaler().fit_transform(X[layer])
        for j, alpha in enumerate(ALPHAS):
            ref = RidgeClassifier(alpha=alpha).fit(Xs, y)
            w_ref = ref.coef_.reshape(-1, Xs.shape[1]).T
            for p in (path, loo):
                w = p.coef[layer, j].numpy() * p.scale[layer].numpy()[:, None]
                b = p.intercept[layer, j].numpy() + p.mean[layer].numpy() @ p.coef[layer, j].numpy()
                assert np.linalg.norm(w - w_ref) <= 1e-6 * np.linalg.norm(w_ref), (layer, alpha)
                assert _close(b, np.atleast_1d(ref.intercept_), 1e-6)
        cv = RidgeClassifierCV(alphas=ALPHAS, store_cv_results=True).fit(Xs, y)
        assert _close(loo.loo_residuals[layer].numpy().transpose(1, 2, 0) ** 2, cv.cv_results_, 1e-5)
        assert ALPHAS[int(loo.loo_mse[layer].mean(dim=-1).argmin())] == cv.alpha_

