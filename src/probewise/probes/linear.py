"""Linear probes on plain arrays: logistic, ridge and difference-of-means.

All three are scikit-learn classifiers (``fit``/``predict``/``predict_proba``/``decision_function``/
``score``, ``classes_``, ``coef_ [k, d]``, ``intercept_ [k]`` with ``k = 1`` for two classes) fitted by the
batched solvers of :mod:`probewise.fit` on any torch device, and predict in numpy float64.
:meth:`LinearProbe.concept_vector` is the learned direction in the original feature space, unit norm.

Example:
    >>> import numpy as np
    >>> from probewise.probes import LogisticProbe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 8))
    >>> y = (X[:, 0] - X[:, 1] > 0).astype(int)
    >>> probe = LogisticProbe(C=1.0).fit(X, y)
    >>> probe.score(X, y) > 0.9, probe.concept_vector().shape
    (True, (8,))
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from probewise.errors import ConfigError
from probewise.fit.logistic import fit_logistic
from probewise.fit.meandiff import fit_meandiff
from probewise.fit.ridge import fit_ridge_classifier
from probewise.probes.base import ProbeBase

__all__ = ["LinearProbe", "LogisticProbe", "MeanDiffProbe", "RidgeProbe"]


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not value > 0:
        raise ConfigError(f"{name} must be a number > 0, got {value!r}.")
    return float(value)


class LinearProbe(ProbeBase):
    """A probe whose scores are ``X @ coef_.T + intercept_``."""

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``[n]`` (binary: log-odds-like score of ``classes_[1]``) or ``[n, k]``."""
        X = self._check_predict_input(X)
        scores = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def concept_vector(self) -> np.ndarray:
        """The learned direction(s) in the original feature space, L2-normalized: ``[d]`` for two classes
        (pointing towards ``classes_[1]``), ``[k, d]`` (one row per class) otherwise."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        norms = np.linalg.norm(self.coef_, axis=1, keepdims=True)
        v = self.coef_ / np.where(norms > 0, norms, 1.0)
        return v[0] if v.shape[0] == 1 else v

    def _set_linear(self, coef: torch.Tensor, intercept: torch.Tensor) -> None:
        """Store ``coef [d, k]`` and ``intercept [k]`` as ``coef_ [k, d]`` and ``intercept_ [k]``."""
        self.coef_ = coef.detach().to("cpu", torch.float64).numpy().T.copy()
        self.intercept_ = intercept.detach().to("cpu", torch.float64).numpy().reshape(-1).copy()


class LogisticProbe(LinearProbe):
    """L2 logistic regression probe, the objective of ``sklearn.linear_model.LogisticRegression``.

    Minimizes ``C * sum_i loss_i + 0.5 ||w||^2`` (binomial loss for two classes, softmax for more; the
    intercept is not penalized) with :func:`probewise.fit.fit_logistic`. With ``standardize=True`` features
    are scaled to unit variance inside (so the penalty acts on standardized weights, exactly like
    ``make_pipeline(StandardScaler(), LogisticRegression(C))``); ``coef_`` is always in the original space.
    ``predict_proba`` is the model's own (calibrated) probability.

    Args:
        C: inverse regularization strength (> 0).
        standardize: standardize features inside the fit.
        max_iter: iteration cap (a ``ConvergenceWarning`` is raised when reached).
        tol: stop when the max-abs gradient of ``mean loss + ||w||^2/(2Cn)`` is ``<= tol`` (scikit-learn's
            criterion).
        dtype: ``"float32"`` or ``"float64"`` for the products with the data.
        device: torch device for the fit (``None``: CPU); predictions run in numpy.
    """

    def __init__(
        self,
        C: float = 1.0,
        standardize: bool = True,
        max_iter: int = 100,
        tol: float = 1e-4,
        dtype: str = "float32",
        device: str | None = None,
    ) -> None:
        self.C = C
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.dtype = dtype
        self.device = device

    def fit(self, X: Any, y: Any) -> LogisticProbe:
        """Fit on ``X [n, d]`` and labels ``y [n]``; returns ``self``."""
        C = _positive("C", self.C)
        X, codes = self._check_fit_inputs(X, y)
        path = fit_logistic(
            X,
            codes,
            [C],
            standardize=bool(self.standardize),
            tol=self.tol,
            max_iter=self.max_iter,
            dtype=self.dtype,
            device=self.device,
        )
        self._set_linear(path.coef[0, 0], path.intercept[0, 0])
        self.n_iter_ = path.n_iter[0].to("cpu").numpy().astype(np.int32)
        if not bool(path.converged.all()):
            warnings.warn(
                f"LogisticProbe did not converge in max_iter={self.max_iter} iterations "
                f"(gradient {float(path.grad_norm.max()):.2e} > tol={self.tol}); increase max_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self


class RidgeProbe(LinearProbe):
    """Ridge classification probe, the model of ``sklearn.linear_model.RidgeClassifier``.

    Targets are ``+1``/``-1`` (one column for two classes, one per class otherwise), fitted by least
    squares with penalty ``alpha ||w||^2`` (intercept not penalized) via :func:`probewise.fit.fit_ridge`.
    With ``standardize=True`` it equals ``make_pipeline(StandardScaler(), RidgeClassifier(alpha))``.
    ``predict_proba`` is the sigmoid/softmax of the decision values: a monotone score for ranking (AUROC),
    not a calibrated probability.

    Args:
        alpha: penalty strength (> 0).
        standardize: standardize features inside the fit.
        dtype: ``"float64"`` (default) or ``"float32"``.
        device: torch device for the fit (``None``: CPU).
    """

    def __init__(
        self, alpha: float = 1.0, standardize: bool = True, dtype: str = "float64", device: str | None = None
    ) -> None:
        self.alpha = alpha
        self.standardize = standardize
        self.dtype = dtype
        self.device = device

    def fit(self, X: Any, y: Any) -> RidgeProbe:
        """Fit on ``X [n, d]`` and labels ``y [n]``; returns ``self``."""
        alpha = _positive("alpha", self.alpha)
        X, codes = self._check_fit_inputs(X, y)
        path = fit_ridge_classifier(
            X,
            codes,
            [alpha],
            standardize=bool(self.standardize),
            dtype=self.dtype,
            device=self.device,
        )
        self._set_linear(path.coef[0, 0], path.intercept[0, 0])
        return self


class MeanDiffProbe(LinearProbe):
    """Difference-of-means ("mass-mean") probe, optionally whitened (LDA-like); see :mod:`probewise.fit.meandiff`.

    Two classes: direction ``mu_1 - mu_0``; more: class mean minus grand mean per class. ``whiten=True``
    multiplies by the pseudo-inverse of the pooled within-class covariance shrunk by ``shrinkage``
    (``"auto"``: Ledoit-Wolf; a float in ``[0, 1]``; ``None``: none). ``threshold="midpoint"`` puts the
    boundary halfway between class means (nearest-mean rule); ``"logistic"`` fits the scale and offset by a
    logistic regression on the projections, making ``predict_proba`` calibrated. With ``"midpoint"``,
    ``predict_proba`` is the sigmoid/softmax of an arbitrarily scaled score (fine for ranking only).

    Args:
        whiten: use the shrunk covariance (LDA direction) instead of the raw mean difference.
        shrinkage: ``"auto"``, a float in ``[0, 1]`` or ``None``; only used when ``whiten=True``.
        threshold: ``"midpoint"`` or ``"logistic"``.
        dtype: ``"float64"`` (default) or ``"float32"``.
        device: torch device for the fit (``None``: CPU).
    """

    def __init__(
        self,
        whiten: bool = False,
        shrinkage: str | float | None = "auto",
        threshold: str = "midpoint",
        dtype: str = "float64",
        device: str | None = None,
    ) -> None:
        self.whiten = whiten
        self.shrinkage = shrinkage
        self.threshold = threshold
        self.dtype = dtype
        self.device = device

    def fit(self, X: Any, y: Any) -> MeanDiffProbe:
        """Fit on ``X [n, d]`` and labels ``y [n]``; returns ``self``."""
        X, codes = self._check_fit_inputs(X, y)
        fit = fit_meandiff(
            X,
            codes,
            whiten=bool(self.whiten),
            shrinkage=self.shrinkage,
            threshold=self.threshold,
            dtype=self.dtype,
            device=self.device,
        )
        self._set_linear(fit.coef[0], fit.intercept[0])
        if self.whiten:
            self.shrinkage_ = float(fit.shrinkage[0])
        return self
