"""Linear probes: equal to the scikit-learn models they mirror, and usable in pipelines and grid search."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from probewise.errors import ConfigError, ProbeError
from probewise.probes import LogisticProbe, MeanDiffProbe, RidgeProbe
from tests.fit.features import layer_features, one_thread  # noqa: F401 (autouse fixture)


def _data(n_classes: int = 2, n: int = 300, d: int = 24, seed: int = 0):
    X, y = layer_features(n_layers=1, n=n, d=d, n_classes=n_classes, seed=seed)
    return X[0], y


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_probe_is_scaler_plus_logistic_regression(n_classes):
    X, y = _data(n_classes)
    for C in (1e-3, 1.0, 100.0):
        probe = LogisticProbe(C=C, tol=1e-9, max_iter=2000, dtype="float64").fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=1e-10, max_iter=20000)).fit(X, y)
        assert probe.coef_.shape == ref[-1].coef_.shape
        assert np.allclose(probe.decision_function(X), ref.decision_function(X), rtol=1e-4, atol=1e-4)
        assert np.allclose(probe.predict_proba(X), ref.predict_proba(X), atol=1e-5)
        assert (probe.predict(X) == ref.predict(X)).mean() >= 1 - 1 / len(y)
        raw = LogisticProbe(C=C, standardize=False, tol=1e-9, max_iter=2000, dtype="float64").fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = LogisticRegression(C=C, tol=1e-10, max_iter=20000).fit(X, y)
        assert np.linalg.norm(raw.coef_ - plain.coef_) <= 1e-4 * np.linalg.norm(plain.coef_)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_probe_is_scaler_plus_ridge_classifier(n_classes):
    X, y = _data(n_classes)
    for alpha in (1e-2, 10.0):
        probe = RidgeProbe(alpha=alpha).fit(X, y)
        ref = make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha)).fit(X, y)
        assert np.allclose(probe.decision_function(X), ref.decision_function(X), atol=1e-8)
        assert (probe.predict(X) == ref.predict(X)).all()
        raw = RidgeProbe(alpha=alpha, standardize=False).fit(X, y)
        assert np.allclose(raw.coef_, RidgeClassifier(alpha=alpha).fit(X, y).coef_.reshape(raw.coef_.shape))


def test_meandiff_probe_directions():
    X, y = _data(2)
    probe = MeanDiffProbe().fit(X, y)
    v = X[y == 1].mean(0) - X[y == 0].mean(0)
    assert np.allclose(probe.concept_vector(), v / np.linalg.norm(v))
    Xn = X + np.random.default_rng(1).normal(size=X.shape) * 0.05
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=0.2).fit(Xn, y)
    white = MeanDiffProbe(whiten=True, shrinkage=0.2).fit(Xn, y)
    assert np.allclose(white.coef_, lda.coef_, rtol=1e-6)
    assert 0 <= MeanDiffProbe(whiten=True).fit(X, y).shrinkage_ <= 1


def test_concept_vectors_and_string_labels():
    X, y = _data(3)
    names = np.array(["neg", "neu", "pos"])[y]
    for probe in (LogisticProbe(), RidgeProbe(), MeanDiffProbe(threshold="logistic")):
        probe.fit(X, names)
        assert probe.classes_.tolist() == ["neg", "neu", "pos"]
        assert set(probe.predict(X)) <= set(probe.classes_)
        v = probe.concept_vector()
        assert v.shape == (3, X.shape[1])
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
        assert probe.score(X, names) > 0.5
    Xb, yb = _data(2)
    v = LogisticProbe().fit(Xb, yb).concept_vector()
    assert v.shape == (Xb.shape[1],)
    # the direction points towards classes_[1]
    assert (Xb[yb == 1] @ v).mean() > (Xb[yb == 0] @ v).mean()


def test_pipeline_and_grid_search():
    X, y = _data(2, n=240)
    pipe = make_pipeline(StandardScaler(), LogisticProbe(standardize=False))
    search = GridSearchCV(pipe, {"logisticprobe__C": [1e-3, 1e-1, 10.0]}, cv=3).fit(X, y)
    ref_pipe = make_pipeline(StandardScaler(), LogisticRegression())
    ref = GridSearchCV(ref_pipe, {"logisticregression__C": [1e-3, 1e-1, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_["logisticprobe__C"] == ref.best_params_["logisticregression__C"]
    assert np.allclose(search.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], atol=0.01)
    grid = GridSearchCV(RidgeProbe(), {"alpha": [0.1, 10.0], "standardize": [True, False]}, cv=3).fit(X, y)
    assert set(grid.cv_results_["param_alpha"]) == {0.1, 10.0}
    md = GridSearchCV(MeanDiffProbe(whiten=True), {"shrinkage": [0.0, 0.5, "auto"]}, cv=3).fit(X, y)
    assert md.best_estimator_.whiten is True


def test_convergence_warning_and_bad_params():
    X, y = _data(2)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        probe = LogisticProbe(C=1e4, max_iter=1, tol=1e-12).fit(X, y)
    assert probe.n_iter_.tolist() == [1]
    with pytest.raises(ConfigError, match="C must be"):
        LogisticProbe(C=-1).fit(X, y)
    with pytest.raises(ConfigError, match="alpha must be"):
        RidgeProbe(alpha=0).fit(X, y)
    with pytest.raises(ProbeError, match="2 classes"):
        LogisticProbe().fit(X, np.zeros(len(y)))
